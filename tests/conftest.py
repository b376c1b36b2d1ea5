"""Shared fixtures: real servers on 127.0.0.1 (moto's S3 server, Prefect's test harness)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

# No telemetry from the temporary Prefect servers the tests start (and no SQLite lock races).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES_INBOX = REPO / "examples" / "inbox"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kill-trials",
        type=int,
        default=10,
        help="SIGKILL points tried by tests/test_faults_kill.py (make soak runs 50)",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server as a separate process on 127.0.0.1, with test credentials set."""
    port = _free_port()
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert server, "moto_server is installed with the dev dependencies"
    proc = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def s3_bucket(s3_endpoint: str, request: pytest.FixtureRequest) -> str:
    """A fresh bucket on the moto server; returns its name."""
    import boto3

    name = "lake-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[str]:
    """One temporary Prefect server and database for every flow test; yields its API URL."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    # Heartbeats cost ~1 s of thread join per flow run and tell a test nothing.
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}), prefect_test_harness():
        yield str(PREFECT_API_URL.value())


def run_in_subprocess(
    api_url: str, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tests.fault_run ...`` against the test Prefect server."""
    full_env = {**os.environ, "PREFECT_API_URL": api_url, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tests.fault_run", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_script(script: str, env: dict[str, str] | None = None) -> str:
    """Run ``script`` (dedented) in a fresh interpreter at the repository's root, for what is
    once per process (freezing start-up, forking); it asserts. Its standard output."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def listing(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A local Eastmoney listing API (the real fixture records) that the settings point at."""
    from tests.listing_server import ListingServer, fixture_records

    with ListingServer({1: fixture_records()}) as server:
        for name, value in listing_env(server.base_url).items():
            monkeypatch.setenv(name, value)
        yield server


def listing_env(base_url: str) -> dict[str, str]:
    """Settings of the eastmoney source for a local listing server (tests/listing_server.py)."""
    return {
        "REPORTLAKE_EASTMONEY_API_BASE": base_url,
        "REPORTLAKE_EASTMONEY_PDF_BASE": base_url,
        "REPORTLAKE_EASTMONEY_QTYPES": "[1]",
        "REPORTLAKE_HTTP_RATE_PER_S": "500",
        "REPORTLAKE_SOURCE": "eastmoney",
    }


# --- fault tests: runs forked from a warm process, a 100-report corpus and its clean lake ------

CORPUS_SIZE = 100
CORPUS_BATCH = 20  # five batches per run, so a crash can fall between batches
# Runs a fault test makes: extraction in the flow's own process (worker processes cost seconds
# each to start; tests that need them say so), and no Prefect concurrency limit, whose slot a
# SIGKILLed run keeps until the server reclaims it (the lake's own lease is what is tested).
FAULT_RUN_ENV = {"REPORTLAKE_WORKERS": "0", "REPORTLAKE_PREFECT_LAKE_LIMIT": "false"}


def ingest_argv(lake: str, *, inbox: str | None = None, batch: int = CORPUS_BATCH) -> list[str]:
    """``reportlake ingest`` of ``inbox`` (or the environment's source) into ``lake``."""
    argv = ["ingest", "--lake", lake, "--batch-size", str(batch), "--no-example-query"]
    return [*argv, "--inbox", inbox] if inbox else argv


@pytest.fixture(scope="session")
def fork_server(prefect_harness: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A warm process that forks each CLI run: runs cost their work, not ~12 s of imports."""
    from tests.fault_run import ForkServer

    server = ForkServer(
        {**os.environ, "PREFECT_API_URL": prefect_harness}, tmp_path_factory.mktemp("runs")
    )
    yield server
    server.close()


@pytest.fixture(scope="session")
def corpus_inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An inbox of the benchmark's synthetic reports (bench.corpus, seed 0): realistic PDFs."""
    from bench.corpus import generate

    inbox = tmp_path_factory.mktemp("corpus") / "inbox"
    generate(inbox, CORPUS_SIZE, seed=0, workers=1)
    return inbox


@dataclass
class CleanRun:
    """What one run into an empty lake wrote: the lake to compare with, and its write counts."""

    lake: str
    snapshot: dict[str, Any]
    keys: set[tuple[str, str | None, str | None]]
    calls: dict[str, int]  # kill points reached (see tests.fault_run)


@pytest.fixture(scope="session")
def clean_corpus(
    fork_server: Any, corpus_inbox: Path, tmp_path_factory: pytest.TempPathFactory
) -> CleanRun:
    """The corpus ingested once without faults: the lake every fault test must end up with."""
    from tests import lakecheck
    from tests.fault_run import new_plan

    lake = str(tmp_path_factory.mktemp("clean") / "lake")
    counting = new_plan()
    done = fork_server.run(
        ingest_argv(lake, inbox=str(corpus_inbox)), env=FAULT_RUN_ENV, kill=counting
    )
    assert done.returncode == 0, done.output[-3000:]
    snap = lakecheck.snapshot(lake)
    assert snap["reports"].num_rows > CORPUS_SIZE // 2, "most of the corpus parses"
    return CleanRun(lake, snap, lakecheck.committed_keys(lake, "inbox"), counting.counts())
