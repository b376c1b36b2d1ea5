"""The validator's own process: the run's process never loads Great Expectations."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reportlake.errors import QualityRunError
from reportlake.quality_process import ValidatorProcess
from reportlake.tables import reports_to_tables
from tests.conftest import REPO
from tests.test_quality import SUITES, make_report


@pytest.fixture(scope="module")
def process() -> Iterator[ValidatorProcess]:
    validator = ValidatorProcess(SUITES)
    yield validator
    validator.close()


def test_a_bad_row_is_reported_by_the_child(process: ValidatorProcess) -> None:
    good, bad = make_report("child-good"), make_report("child-bad", broker="某某证券")
    result = process.validate(reports_to_tables([good, bad]))
    assert set(result.failures) == {bad.report_id}
    assert any("broker" in reason for reason in result.failures[bad.report_id])
    assert result.counts["reports"].rows == 2


def test_data_docs_come_back_and_are_stored(process: ValidatorProcess, tmp_path: Path) -> None:
    from reportlake.storage import resolve_location

    process.reset_results()
    process.validate(reports_to_tables([make_report("docs-1")]))
    index = process.build_data_docs(resolve_location(str(tmp_path / "lake")), "run-1")
    assert index is not None and index.endswith("_quality/docs/run-1/index.html")
    assert (tmp_path / "lake/_quality/docs/run-1/index.html").is_file()
    process.reset_results()
    assert process.build_data_docs(resolve_location(str(tmp_path / "lake")), "run-2") is None


def test_docs_prepared_ahead_are_those_of_every_result_of_the_run(
    process: ValidatorProcess, tmp_path: Path
) -> None:
    from reportlake.storage import resolve_location

    lake = resolve_location(str(tmp_path / "lake"))
    docs = tmp_path / "lake/_quality/docs"
    process.reset_results()
    process.validate(reports_to_tables([make_report("ahead-1")]))
    process.prepare_data_docs("run-ahead")  # before the last batch: rendered once it validates
    process.validate(reports_to_tables([make_report("ahead-2")]))
    assert process.build_data_docs(lake, "run-ahead")
    assert process.build_data_docs(lake, "run-fresh")  # no preparation: rendered on request
    ahead, fresh = (
        sorted(p.name for p in (docs / k).rglob("*.html")) for k in ("run-ahead", "run-fresh")
    )
    assert ahead == fresh and len(ahead) == 13  # index, 4 suites, 4 tables of 2 validations
    assert "run-ahead" in (docs / "run-ahead/index.html").read_text(encoding="utf-8")

    process.prepare_data_docs("run-other")
    process.validate(reports_to_tables([make_report("ahead-3")]))
    assert process.build_data_docs(lake, "run-asked")  # another key: rendered for it
    assert "run-asked" in (docs / "run-asked/index.html").read_text(encoding="utf-8")
    process.reset_results()
    process.prepare_data_docs("run-later")
    process.validate(reports_to_tables([make_report("later-1")]))  # rendered ahead, then ...
    process.validate(reports_to_tables([make_report("later-2")]))  # ... out of date
    assert process.build_data_docs(lake, "run-later")
    assert len(list((docs / "run-later").rglob("*-000[4-7].html"))) == 4  # the second batch's
    process.prepare_data_docs("run-reset")
    process.reset_results()  # prepared, then the results forgotten: nothing to render
    assert process.build_data_docs(lake, "run-reset") is None


def test_run_process_does_not_import_great_expectations() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from reportlake.quality_process import validator_for
        from reportlake.tables import reports_to_tables
        from tests.test_quality import make_report
        result = validator_for(Path({str(SUITES)!r})).validate(
            reports_to_tables([make_report("x")])
        )
        print(len(result.failures), "great_expectations" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["0", "False"]
    assert "leaked" not in out.stderr, out.stderr


def test_starting_the_child_imports_nothing_of_the_pipeline() -> None:
    # The command starts it first thing, so that it loads while the command imports.
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from reportlake.quality_process import validator_for
        process = validator_for(Path({str(SUITES)!r}))
        heavy = ["pyarrow", "pandas", "pymupdf", "reportlake.runs", "reportlake.quality"]
        print([m for m in heavy if m in sys.modules], process.usable)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[] True", out.stderr


def test_great_expectations_validates_without_the_backends_the_child_skips() -> None:
    # What the child does first: GX then loads neither SQLAlchemy nor boto3, and still validates
    # and renders (a GX that needed them would fail here, not in a run).
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from reportlake.quality_process import UNUSED_BACKENDS, skip_unused_backends
        skip_unused_backends()
        from reportlake.quality import Validator
        from reportlake.tables import reports_to_tables
        from tests.test_quality import make_report
        validator = Validator(Path({str(SUITES)!r}))
        bad = make_report("bad", broker="某某证券")
        result = validator.validate(reports_to_tables([make_report("good"), bad]))
        docs = validator.render_data_docs("run")
        skipped = [sys.modules[m] for m in UNUSED_BACKENDS]
        print(list(result.failures) == [bad.report_id], bool(docs), skipped)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True True [None, None, None]", out.stderr


def test_a_broken_suite_fails_every_validation_saying_which(tmp_path: Path) -> None:
    suites = tmp_path / "expectations"
    shutil.copytree(SUITES, suites)
    path = suites / "reports.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"value_set": {"$PARAMETER": "nope"}},
        }
    )
    path.write_text(json.dumps(suite), encoding="utf-8")
    broken = ValidatorProcess(suites)
    try:
        for _ in range(2):
            with pytest.raises(Exception, match="nope"):
                broken.validate(reports_to_tables([make_report("b")]))
    finally:
        broken.close()


def test_a_dead_child_is_a_clear_error_and_is_replaced() -> None:
    from reportlake.quality_process import validator_for

    first = validator_for(SUITES)
    first._process.kill()
    first._process.wait()
    with pytest.raises(QualityRunError, match=r"validation process .* is gone"):
        first.validate(reports_to_tables([make_report("dead")]))
    second = validator_for(SUITES)
    assert second is not first
    assert not second.validate(reports_to_tables([make_report("alive")])).failures


def test_the_child_exits_when_the_run_is_killed() -> None:
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from reportlake.quality_process import ValidatorProcess
        process = ValidatorProcess(Path({str(SUITES)!r}))
        print(process._process.pid, flush=True)
        time.sleep(60)
        """
    )
    run = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert run.stdout is not None
    child = int(run.stdout.readline())
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the validation process outlived its run"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    status = (
        Path(f"/proc/{pid}/stat").read_text().split()[2]
        if Path(f"/proc/{pid}/stat").exists()
        else "X"
    )
    return status != "Z"
