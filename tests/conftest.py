"""Shared fixtures: real servers on 127.0.0.1 (moto's S3 server, Prefect's test harness)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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
        default=3,
        help="SIGKILL points tried by the exactly-once test (make soak runs 50)",
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


@pytest.fixture
def listing(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A local Eastmoney listing API (the real fixture records) that the settings point at."""
    from tests.listing_server import ListingServer, fixture_records

    with ListingServer({1: fixture_records()}) as server:
        for name, value in {
            "EASTMONEY_API_BASE": server.base_url,
            "EASTMONEY_PDF_BASE": server.base_url,
            "EASTMONEY_QTYPES": "[1]",
            "HTTP_RATE_PER_S": "500",
            "SOURCE": "eastmoney",
        }.items():
            monkeypatch.setenv(f"REPORTLAKE_{name}", value)
        yield server
