"""The reportlake command line, as a user runs it."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reportlake.cli import app, exit_code
from tests.conftest import EXAMPLES_INBOX, FIXTURES

runner = CliRunner()
SAMPLES = sorted(
    p
    for p in EXAMPLES_INBOX.iterdir()
    if p.suffix in {".pdf", ".html", ".txt"} and "zz_" not in p.name
)
RECORD_FIELDS = {
    "report_id", "title", "broker", "publish_date", "publish_date_source", "industry",
    "report_type", "rating", "rating_action", "script", "analysts", "related_reports", "tickers",
    "recommended", "risks", "page_count", "char_count", "text", "source_uri",
}  # fmt: skip


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_parse_prints_the_record_as_json(path: Path) -> None:
    result = runner.invoke(app, ["parse", str(path)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert set(record) >= RECORD_FIELDS
    assert len(record["report_id"]) == 64
    assert record["broker"] and record["title"]
    assert record["char_count"] == len(record["text"]) > 1000
    assert record["analysts"] and all(a["name"] for a in record["analysts"])


def test_parse_refuses_bad_input_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "empty.pdf"
    bad.write_bytes(b"")
    result = runner.invoke(app, ["parse", str(bad)])
    assert result.exit_code == 2
    assert "error [extract]" in result.stderr


def test_eval_scores_the_fixture_reports() -> None:
    result = runner.invoke(app, ["eval", str(FIXTURES / "labels"), str(FIXTURES / "reports")])
    assert result.exit_code == 0, result.output
    assert "overall" in result.stdout.lower()


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``reportlake`` command, as a shell runs it."""
    command = [str(Path(sys.executable).with_name("reportlake")), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_the_command_ends_with_its_exit_status_and_all_its_output(tmp_path: Path) -> None:
    # The entry point ends the process with os._exit: nothing printed may be lost on the way.
    ok = _console("parse", str(SAMPLES[0]))
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["text"]) > 1000
    usage = _console("parse", "/nonexistent/report.pdf")
    assert usage.returncode == 2
    assert "does not exist" in usage.stderr
    (tmp_path / "empty.pdf").write_bytes(b"")
    refused = _console("parse", str(tmp_path / "empty.pdf"))
    assert refused.returncode == 2
    assert "error [extract]: file is empty" in refused.stderr


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), ("stopped", 1)])
def test_exit_code_is_the_status_sys_exit_gives(
    code: object, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(code) == status
    assert capsys.readouterr().err == ("stopped\n" if code == "stopped" else "")


@pytest.mark.e2e
def test_an_ingest_on_a_temporary_server_keeps_all_its_run_logs(tmp_path: Path) -> None:
    # `make run` without PREFECT_API_URL: Prefect starts a temporary server and stops it at exit.
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REPORTLAKE_"))}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    command = [str(Path(sys.executable).with_name("reportlake")), "ingest", "--no-example-query"]
    command += ["--inbox", str(EXAMPLES_INBOX), "--lake", str(tmp_path / "lake")]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Error logging to API" not in run.stderr
    with contextlib.closing(sqlite3.connect(home / "prefect.db")) as db:
        flow_logs = [m for (m,) in db.execute("select message from log where task_run_id is null")]
    assert "Finished in state Completed()" in flow_logs  # the run's last log line
