"""Each flow run leaves Great Expectations Data Docs in the lake and links them as an artifact."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

from reportlake.tables import DATA_TABLES
from tests.conftest import EXAMPLES_INBOX, REPO

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture(scope="module")
def docs_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from flows.ingest import ingest_reports

    lake = tmp_path_factory.mktemp("lake")
    state = ingest_reports(inbox=str(EXAMPLES_INBOX), lake=str(lake), return_state=True)
    assert state.is_completed(), state.message
    return lake, state


def run_artifacts(state: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    return {a.key: a for a in artifacts}


def test_run_stores_data_docs_in_the_lake(docs_run: tuple[Path, Any]) -> None:
    lake, state = docs_run
    index = lake / "_quality" / "docs" / str(state.state_details.flow_run_id) / "index.html"
    html = index.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and len(html) > 5000
    for suite in DATA_TABLES:
        assert suite in html
    # The per-suite validation pages and the assets they load are there too.
    site = index.parent
    assert list((site / "validations").rglob("*.html"))
    assert (site / "static" / "styles" / "data_docs_default_styles.css").is_file()
    # No temporary files of the atomic writes are left behind.
    assert not [p for p in site.rglob(".*") if p.is_file()]


def test_run_links_its_quality_report(docs_run: tuple[Path, Any]) -> None:
    lake, state = docs_run
    artifacts = run_artifacts(state)
    # A link artifact with a link text stores ``[text](link)``.
    found = re.search(r"\((file://[^)]+)\)", str(artifacts["quality-report"].data))
    assert found, artifacts["quality-report"].data
    link = found.group(1)
    target = Path(url2pathname(urlparse(link).path))
    assert target.is_file() and target.name == "index.html"
    assert target.is_relative_to(lake / "_quality" / "docs")
    assert link in str(artifacts["ingest-summary"].data)


def test_data_docs_do_not_carry_report_texts(docs_run: tuple[Path, Any]) -> None:
    from reportlake import lake as lake_io
    from reportlake.storage import resolve_location

    lake, _ = docs_run
    reports = lake_io.read_table(resolve_location(str(lake)), "reports").to_pylist()
    site = "".join(
        p.read_text(encoding="utf-8") for p in (lake / "_quality" / "docs").rglob("*.html")
    )
    for row in reports:
        # A sentence from the middle of each report's extracted text.
        text = row["text"]
        snippet = text[len(text) // 2 : len(text) // 2 + 40].strip()
        assert snippet and snippet not in site


def test_broken_suite_fails_the_run_saying_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest_reports, log_failure

    suites = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", suites)
    path = suites / "reports.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    suite["expectations"].append(
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such_column"}}
    )
    path.write_text(json.dumps(suite), encoding="utf-8")
    monkeypatch.setenv("REPORTLAKE_EXPECTATIONS_DIR", str(suites))

    state = ingest_reports(
        inbox=str(EXAMPLES_INBOX), lake=str(tmp_path / "lake"), return_state=True
    )
    assert state.is_failed()
    assert "no_such_column" in str(state.message)
    assert "fix the expectation suite" in str(state.message)
    assert log_failure in ingest_reports.on_failure_hooks
