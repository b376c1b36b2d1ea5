"""SIGKILL an ingest of 100 reports at random points, run it again: the lake is a clean run's.

Each trial kills one run at a point of the lake's write path (``tests.fault_run``), drawn with
a fixed seed: cut off in the middle of a partition, a raw original, a batch's state or a Data
Docs file, or just after one of them (after a state write is between two batches), or just
before a batch's rows or just before its state. The killed run's lake must hold only rows a
clean run writes, readable files and state for committed reports only; the rerun must end with
every row of the clean run, no row more, and the same committed keys. Every tenth trial
extracts in worker processes (killed with the run). ``--kill-trials`` sets the number of
trials: 10 in ``make test``, 50 in ``make soak``.
"""

from __future__ import annotations

import random
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests import lakecheck
from tests.conftest import FAULT_RUN_ENV, CleanRun, ingest_argv
from tests.fault_run import ForkServer, new_plan

pytestmark = pytest.mark.e2e
SEED = 20241230
POINTS = (  # (point, when): see tests/fault_run.py
    ("write_parquet_atomic:table", "during"),
    ("write_parquet_atomic:table", "after"),
    ("write_bytes_atomic:raw", "during"),
    ("write_bytes_atomic:raw", "after"),
    ("write_parquet_atomic:state", "during"),
    ("write_parquet_atomic:state", "after"),  # between two batches
    ("write_tables:*", "before"),  # the batch's originals archived, none of its rows
    ("record_keys:*", "before"),  # the batch's rows written, its state not
    ("write_bytes_atomic:docs", "during"),  # everything committed, the Data Docs half written
)
WORKERS_EVERY = 10


def test_runs_killed_at_random_points_then_rerun_equal_a_clean_run(
    fork_server: ForkServer,
    corpus_inbox: Path,
    clean_corpus: CleanRun,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    record_property: pytest.RecordProperty,
) -> None:
    trials = int(request.config.getoption("--kill-trials"))
    rng = random.Random(SEED)
    order = rng.sample(POINTS, len(POINTS))
    tally = lakecheck.Tally()
    start = time.monotonic()
    for trial in range(trials):
        point, when = order[trial % len(order)]
        call = rng.randint(1, clean_corpus.calls[point])
        env = dict(FAULT_RUN_ENV)
        if trial % WORKERS_EVERY == WORKERS_EVERY - 1:
            del env["REPORTLAKE_WORKERS"]  # one extraction process per core
        where = "in worker processes" if "REPORTLAKE_WORKERS" not in env else "in process"
        what = f"trial {trial}: SIGKILL {when} call {call} of {point}, extracting {where}"
        lake = str(tmp_path / f"lake-{trial}")
        argv = ingest_argv(lake, inbox=str(corpus_inbox))

        killed = fork_server.run(argv, env=env, kill=new_plan(point, call, when))
        assert killed.returncode == -signal.SIGKILL, f"{what}: not killed\n{killed.output[-3000:]}"
        partial, keys = lakecheck.assert_interrupted_cleanly(lake, "inbox", clean_corpus.snapshot)

        rerun = fork_server.run(argv, env=env)
        assert rerun.returncode == 0, f"{what}: the rerun failed\n{rerun.output[-3000:]}"
        final = lakecheck.snapshot(lake)
        lakecheck.assert_same_lake(final, clean_corpus.snapshot)
        assert lakecheck.committed_keys(lake, "inbox") == clean_corpus.keys, what
        tally.compared(final)
        tally.faults[f"{point} {when}"] += 1
        print(
            f"{what}: killed with {lakecheck.rows_in(partial)} rows and {keys} keys committed; "
            f"rerun wrote {rerun.number('written')}, lake equal ({lakecheck.rows_in(final)} rows)"
        )
        shutil.rmtree(lake)
    summary = tally.line(f"{trials} SIGKILL trials in {time.monotonic() - start:.0f}s")
    print(summary)
    record_property("kill_trials", trials)
    record_property("rows_compared", tally.rows)
    record_property("summary", summary)
