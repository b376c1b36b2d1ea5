"""The reportlake command line, as a user runs it."""

from __future__ import annotations

import json
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
