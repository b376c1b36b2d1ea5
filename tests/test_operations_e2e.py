"""Operations end to end: a real `prefect server`, `prefect deploy` from prefect.yaml, a worker.

What `make serve` sets up, on a free port with its own PREFECT_HOME: the `eastmoney-hourly`
deployment is triggered through the API against a local listing server, and the run, its
artifacts and the lake are checked as an operator would see them -- through the API and in the
UI, with headless Chromium (Debian's `chromium`, driven by Playwright; never `playwright install`).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from reportlake import lake as lake_io
from reportlake.storage import resolve_location
from tests.conftest import REPO, _free_port
from tests.listing_server import ListingServer, fixture_records

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
POOL = "reportlake-process"
DEPLOYMENT = "ingest-reports/eastmoney-hourly"
SINCE, UNTIL = dt.date(2023, 5, 10), dt.date(2023, 5, 14)
RUN_NAME = f"eastmoney {SINCE}..{UNTIL}"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Stack:
    """The running server, worker and listing server, and where their state lives."""

    ui_url: str
    api_url: str
    lake: Path
    logs: Path


def _start(cmd: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own process group, so teardown reaches every child it spawns."""
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """TERM, TERM again after ``grace_s`` (Prefect's worker ignores the first while idle), KILL.

    The group is killed in any case: uvicorn and flow-run subprocesses must not outlive a test.
    """
    for wait_s in (grace_s, 5.0):
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _tail(path: Path, lines: int = 40) -> str:
    """The last lines of a process log, for failure messages."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait_healthy(api_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"prefect server did not become healthy:\n{_tail(log)}")
        time.sleep(0.25)


def _prefect(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(BIN / "prefect"), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`make serve` on a free port: server (SQLite), work pool, all deployments, one worker."""
    root = tmp_path_factory.mktemp("operations")
    logs, home, lake = root / "logs", root / "prefect-home", root / "lake"
    logs.mkdir()
    home.mkdir()
    port = _free_port()
    ui_url = f"http://127.0.0.1:{port}"
    api_url = f"{ui_url}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REPORTLAKE_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=api_url,
        PREFECT_UI_API_URL=api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_CLI_PROMPT="false",
        PYTHONUNBUFFERED="1",
        # prefect.yaml's pull step sets the working directory to `{{ $PWD }}` at deploy time.
        PWD=str(REPO),
    )
    with ExitStack() as cleanup:
        server_log = logs / "server.log"
        server = _start(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            # The test triggers its runs itself: no scheduled runs of the real schedules.
            {**env, "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"},
            cleanup.enter_context(server_log.open("wb")),
        )
        cleanup.callback(_stop, server, 20)
        _wait_healthy(api_url, server, server_log)

        _prefect(["work-pool", "create", POOL, "--type", "process"], env)
        _prefect(["--no-prompt", "deploy", "--all"], env)

        listing = cleanup.enter_context(ListingServer({1: fixture_records()}))
        worker_env = {
            **env,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "REPORTLAKE_EASTMONEY_API_BASE": listing.base_url,
            "REPORTLAKE_EASTMONEY_PDF_BASE": listing.base_url,
            "REPORTLAKE_EASTMONEY_QTYPES": "[1]",
            "REPORTLAKE_HTTP_RATE_PER_S": "200",
            "REPORTLAKE_LAKE": str(lake),
        }
        worker = _start(
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process"],
            worker_env,
            cleanup.enter_context((logs / "worker.log").open("wb")),
        )
        cleanup.callback(_stop, worker, 5)  # callbacks run last-in first-out: worker first
        yield Stack(ui_url=ui_url, api_url=api_url, lake=lake, logs=logs)


@pytest.fixture(scope="module")
def eastmoney_run(stack: Stack) -> Any:
    """The flow run of `eastmoney-hourly` triggered through the API, once it is final."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        run = run_deployment(
            name=DEPLOYMENT,
            parameters={"since": SINCE.isoformat(), "until": UNTIL.isoformat()},
            timeout=180,
            poll_interval=1,
        )
    assert run.state is not None and run.state.is_final(), (
        f"the run did not finish: {run.state}\n{_tail(stack.logs / 'worker.log')}"
    )
    return run


def _artifacts(stack: Stack, flow_run_id: Any) -> dict[str, dict[str, Any]]:
    """The flow run's artifacts by key, as the API returns them."""
    answer = httpx.post(
        f"{stack.api_url}/artifacts/filter",
        json={"flow_runs": {"id": {"any_": [str(flow_run_id)]}}},
        timeout=10,
    )
    answer.raise_for_status()
    return {a["key"]: a for a in answer.json() if a.get("key")}


def test_triggered_deployment_run_completes_with_its_artifacts_and_fills_the_lake(
    stack: Stack, eastmoney_run: Any
) -> None:
    run = httpx.get(f"{stack.api_url}/flow_runs/{eastmoney_run.id}", timeout=10).json()
    assert run["state"]["type"] == "COMPLETED", (run["state"], _tail(stack.logs / "worker.log"))
    assert run["name"] == RUN_NAME

    artifacts = _artifacts(stack, eastmoney_run.id)
    assert artifacts["ingest-summary"]["type"] == "markdown"
    assert "# ingest-reports" in artifacts["ingest-summary"]["data"]
    assert artifacts["quarantined-reports"]["type"] == "table"

    listed = {
        r["infoCode"]
        for r in fixture_records()
        if SINCE <= dt.date.fromisoformat(r["publishDate"][:10]) <= UNTIL
    }
    assert len(listed) > 3
    loc = resolve_location(str(stack.lake))
    written = {r["source_id"] for r in lake_io.read_table(loc, "reports").to_pylist()}
    quarantined = {r["source_id"] for r in lake_io.read_table(loc, "quarantine").to_pylist()}
    assert written, "reports reached the lake"
    assert written | quarantined == listed


def _assert_not_blank(png: Path) -> None:
    """The screenshot shows something: a real PNG with many colours, not one flat background."""
    import pymupdf

    assert png.stat().st_size > 10_000, f"{png} is suspiciously small"
    pix = pymupdf.Pixmap(str(png))
    assert (pix.width, pix.height) == (1280, 900)
    samples, n = pix.samples, pix.n
    pixels = [bytes(samples[i : i + n]) for i in range(0, len(samples), n * 7)]
    most_common = max(set(pixels), key=pixels.count)
    assert len(set(pixels)) >= 20, "the page rendered hardly any colours"
    assert pixels.count(most_common) < 0.98 * len(pixels), "the page is one flat colour"


def test_ui_shows_the_run_and_its_summary_artifact_in_chromium(
    stack: Stack, eastmoney_run: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM.exists(), "install Debian's chromium: apt-get install -y chromium"
    summary = _artifacts(stack, eastmoney_run.id)["ingest-summary"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)

            page.goto(f"{stack.ui_url}/runs/flow-run/{eastmoney_run.id}")
            expect(page.get_by_text(RUN_NAME).first).to_be_visible()
            expect(page.get_by_text("Completed").first).to_be_visible()
            page.locator("li.p-tab", has_text="Artifacts").click()
            artifacts_tab = page.locator("#artifacts-content")
            expect(artifacts_tab.get_by_text("ingest-summary").first).to_be_visible()
            expect(artifacts_tab.get_by_text("quarantined-reports").first).to_be_visible()
            run_png = tmp_path / "flow-run.png"
            page.screenshot(path=str(run_png))

            page.goto(f"{stack.ui_url}/artifacts/artifact/{summary['id']}")
            expect(page.get_by_text("Written per broker").first).to_be_visible()
            artifact_png = tmp_path / "ingest-summary.png"
            page.screenshot(path=str(artifact_png))
        finally:
            browser.close()
    _assert_not_blank(run_png)
    _assert_not_blank(artifact_png)
