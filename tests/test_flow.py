"""The ingest-reports flow end to end: sample inbox -> local lake and -> moto's S3 server."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import boto3
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from reportlake import lake as lake_io
from reportlake.storage import resolve_location
from reportlake.tables import DATA_TABLES
from tests.conftest import EXAMPLES_INBOX

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]

REPORT_FILES = sorted(
    p.name
    for p in EXAMPLES_INBOX.iterdir()
    if p.suffix in {".pdf", ".html", ".txt"} and not p.name.startswith("zz_")
)
BAD_FILES = sorted(p.name for p in EXAMPLES_INBOX.glob("zz_*"))
# Columns that differ between two ingests of the same bytes by design.
VOLATILE = {"source_uri", "raw_uri", "ingested_at", "quarantined_at"}


def run_flow(inbox: str, lake: str) -> tuple[Any, Any]:
    from flows.ingest import ingest_reports

    state = ingest_reports(inbox=inbox, lake=lake, return_state=True)
    return state, state.result()


def stable(table: pa.Table) -> pa.Table:
    keep = [c for c in table.column_names if c not in VOLATILE]
    sort = [(c, "ascending") for c in ("report_id", "position", "ticker", "title") if c in keep]
    return table.select(keep).sort_by(sort)


def lake_tables(lake: str) -> dict[str, pa.Table]:
    loc = resolve_location(lake)
    return {name: lake_io.read_table(loc, name) for name in (*DATA_TABLES, "quarantine")}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any, Any]:
    lake = str(tmp_path_factory.mktemp("lake"))
    state, summary = run_flow(str(EXAMPLES_INBOX), lake)
    return lake, state, summary


def test_sample_inbox_lands_in_the_lake(local_run: tuple[str, Any, Any]) -> None:
    lake, state, summary = local_run
    assert state.is_completed()
    assert summary.read == len(REPORT_FILES) + len(BAD_FILES)
    tables = lake_tables(lake)
    reports = tables["reports"].to_pylist()
    assert sorted(Path(r["source_uri"]).name for r in reports) == REPORT_FILES
    assert summary.written == len(REPORT_FILES)
    for row in reports:
        assert row["dt"] == row["publish_date"].isoformat()
        assert row["broker"] and row["title"] and row["char_count"] > 1000
        assert Path(url2pathname(urlparse(row["raw_uri"]).path)).is_file()
    # Child tables hang off reports that exist.
    ids = {r["report_id"] for r in reports}
    for name in ("analysts", "stock_mentions", "related_reports"):
        assert set(tables[name].column("report_id").to_pylist()) <= ids
    assert tables["analysts"].num_rows >= 2 * len(REPORT_FILES)


def test_bad_files_are_quarantined_with_reasons(local_run: tuple[str, Any, Any]) -> None:
    lake, _, summary = local_run
    quarantine = lake_tables(lake)["quarantine"].to_pylist()
    assert sorted(Path(q["source_uri"]).name for q in quarantine) == BAD_FILES
    assert summary.quarantined == len(BAD_FILES)
    for row in quarantine:
        assert row["stage"] == "extract"
        assert row["reasons"] and all(len(reason) > 20 for reason in row["reasons"])
        assert row["raw_uri"], "the original is kept so it can be fixed and retried"
    reasons = {Path(q["source_uri"]).name: " ".join(q["reasons"]) for q in quarantine}
    assert "OCR" in reasons["zz_scanned.pdf"] or "text layer" in reasons["zz_scanned.pdf"]


def test_run_publishes_summary_and_quarantine_artifacts(local_run: tuple[str, Any, Any]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    _, state, _ = local_run
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    by_key = {a.key: a for a in artifacts}
    assert "| read | written |" in str(by_key["ingest-summary"].data)
    assert "zz_scanned.pdf" in str(by_key["quarantined-reports"].data)


def test_run_seconds_count_data_work_apart_from_overhead(local_run: tuple[str, Any, Any]) -> None:
    # Nine files: one chunk, extracted by the flow's own process. What is not data work (the
    # listing, the whole extraction, the commit but for validating) is Prefect's and GX's.
    _, _, summary = local_run
    s = summary.seconds
    assert s["flow_extract"] >= s["fetch"] + s["extract"] + s["parse"] + s["archive"] - 0.005
    data = s["list"] + s.get("wait", 0.0) + s["flow_extract"] + s["commit"] - s["validate"]
    assert s["overhead"] == pytest.approx(s["run"] - data, abs=0.005)
    assert 0 < s["overhead"] < s["run"]


def test_extraction_counts_its_whole_time(tmp_path: Path) -> None:
    from reportlake.pipeline import ExtractedBatch
    from reportlake.runs import extract, open_source
    from reportlake.settings import Settings

    settings = Settings(source="inbox", inbox=str(EXAMPLES_INBOX), lake=str(tmp_path / "lake"))
    source = open_source(settings)
    items = sorted(source.list_items(), key=lambda item: item.name)
    source.close()
    first, second = extract(settings, items[:3]), extract(settings, items[3:])
    for batch in (first, second):
        # Stages are disjoint parts of the whole: hashing and archiving lie between them.
        assert batch.wall_s >= sum(batch.seconds.values()) > 0
    assert ExtractedBatch.join([first, second]).wall_s == first.wall_s + second.wall_s


def test_second_run_changes_no_row(local_run: tuple[str, Any, Any]) -> None:
    lake, _, first = local_run
    before = lake_tables(lake)
    files_before = sorted(p.relative_to(lake) for p in Path(lake).rglob("*") if p.is_file())
    _, second = run_flow(str(EXAMPLES_INBOX), lake)
    assert second.already_done == first.read and second.read == 0 and second.written == 0
    after = lake_tables(lake)
    for name, table in before.items():
        assert after[name].sort_by("report_id").equals(table.sort_by("report_id")), name
    assert sorted(p.relative_to(lake) for p in Path(lake).rglob("*") if p.is_file()) == (
        files_before
    )


def test_flow_writes_to_s3_and_reads_back(
    local_run: tuple[str, Any, Any],
    s3_endpoint: str,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REPORTLAKE_S3_ENDPOINT_URL", s3_endpoint)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for path in sorted(EXAMPLES_INBOX.iterdir()):  # the landing inbox is on S3 too
        s3.upload_file(str(path), s3_bucket, f"landing/{path.name}")
    lake = f"s3://{s3_bucket}/lake"
    state, summary = run_flow(f"s3://{s3_bucket}/landing", lake)
    assert state.is_completed()
    assert summary.written == len(REPORT_FILES) and summary.quarantined == len(BAD_FILES)

    fs = pafs.S3FileSystem(
        endpoint_override=s3_endpoint.removeprefix("http://"), scheme="http", region="us-east-1"
    )
    remote = ds.dataset(
        f"{s3_bucket}/lake/reports", filesystem=fs, format="parquet", partitioning="hive"
    ).to_table()
    assert remote.num_rows == len(REPORT_FILES)
    assert all(
        uri.startswith(f"s3://{s3_bucket}/landing/") for uri in remote["source_uri"].to_pylist()
    )
    # Same rows as the local lake, whatever the filesystem.
    local = lake_tables(local_run[0])
    monkeypatch.setenv("REPORTLAKE_S3_ENDPOINT_URL", s3_endpoint)
    remote_loc = resolve_location(lake, s3_endpoint_url=s3_endpoint)
    for name in DATA_TABLES:
        assert stable(lake_io.read_table(remote_loc, name)).equals(stable(local[name])), name
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert not [k for k in keys if k.endswith("/")], "no directory marker objects"
    assert sum(k.startswith("lake/raw/") for k in keys) == len(REPORT_FILES) + len(BAD_FILES)

    _, again = run_flow(f"s3://{s3_bucket}/landing", lake)
    assert again.written == 0 and again.already_done == summary.read
