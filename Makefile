# A newcomer's entry points: make run, make test, make lint.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
LAKE ?= ./lake
INBOX ?= examples/inbox

.PHONY: install run test lint format lock examples clean serve stop

install: $(STAMP)

# Bytecode is compiled once, at install (the dependencies and this project's own packages):
# with PYTHONDONTWRITEBYTECODE set (as in CI) every process would otherwise recompile Prefect
# and Great Expectations from source (3 s -> 8 s).
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q reportlake flows tasks
	rm -f $(VENV)/.installed-* && touch $@

run: install  ## ingest the sample inbox into ./lake through the Prefect flow
	$(BIN)/reportlake ingest --inbox $(INBOX) --lake $(LAKE)

test: install
	$(BIN)/pytest -q

.PHONY: soak
soak: install  ## 50 randomised SIGKILL trials over 100 reports (10 run in make test)
	$(BIN)/pytest -q -s tests/test_faults_kill.py --kill-trials 50

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: ## re-resolve the pinned dependencies after editing pyproject.toml
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

examples: install  ## rebuild examples/inbox and the PDF test fixtures
	$(BIN)/python scripts/build_examples.py

serve: install  ## local Prefect server + UI on 127.0.0.1:4200, work pool, deployments, worker
	scripts/serve.sh start

stop:  ## stop the worker and the server that `make serve` started
	scripts/serve.sh stop

clean:
	rm -rf $(LAKE) .pytest_cache .mypy_cache .ruff_cache

BENCH_N ?= 1000
BENCH_ROUNDS ?= 3
BENCH_MEMORY_N ?= 10000

.PHONY: bench
bench: install  ## time the pipeline against the floor and a naive script (BENCH_N=200 for a quick run)
	$(BIN)/python -m bench.run --n $(BENCH_N) --rounds $(BENCH_ROUNDS) --memory-n $(BENCH_MEMORY_N)
