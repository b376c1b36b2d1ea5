"""Each source through the ingest flow: what is new gets in once, late reports too."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest

from reportlake import lake as lake_io
from reportlake.storage import resolve_location
from reportlake.vocab import canonical_broker
from tests.conftest import EXAMPLES_INBOX
from tests.listing_server import ListingServer, fixture_records, make_record

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]

SINCE, UNTIL = dt.date(2023, 5, 10), dt.date(2023, 5, 14)


def run(**params: Any) -> Any:
    from flows.ingest import ingest_reports

    state = ingest_reports(**params, return_state=True)
    assert state.is_completed(), state.message
    return state.result()


def in_window(record: dict[str, Any], since: dt.date, until: dt.date) -> bool:
    return since <= dt.date.fromisoformat(record["publishDate"][:10]) <= until


def test_eastmoney_listing_lands_once_with_listing_metadata_authoritative(
    listing: ListingServer, tmp_path: Any
) -> None:
    lake = str(tmp_path / "lake")
    expected = [r for r in fixture_records() if in_window(r, SINCE, UNTIL)]
    first = run(lake=lake, since=SINCE, until=UNTIL)
    assert first.read == len(expected) > 3
    assert first.written + first.quarantined == first.read
    loc = resolve_location(lake)
    reports = {r["source_id"]: r for r in lake_io.read_table(loc, "reports").to_pylist()}
    quarantined = lake_io.read_table(loc, "quarantine").to_pylist()
    assert set(reports) | {q["source_id"] for q in quarantined} == {r["infoCode"] for r in expected}
    for record in expected:
        row = reports.get(record["infoCode"])
        if row is None:
            continue
        assert row["title"] == record["title"]
        assert row["broker"] == canonical_broker(record["orgSName"])
        assert row["publish_date"].isoformat() == record["publishDate"][:10]
        assert row["publish_date_source"] == "metadata"
        assert row["source_url"].endswith(f"/pdf/H3_{record['infoCode']}_1.pdf")
    for q in quarantined:  # only for reasons a user can act on
        assert q["stage"] == "validate" and q["reasons"], (q["stage"], q["reasons"])

    again = run(lake=lake, since=SINCE, until=UNTIL)
    assert (again.read, again.written, again.already_done) == (0, 0, first.read)
    pdf_requests = [r for r in listing.requests if r.path.startswith("/pdf/")]
    assert len(pdf_requests) == first.read, "the second run downloaded nothing"

    # A report published on the 12th shows up in the listing only now: the lookback finds it.
    late = make_record("AP_LATE_0001", "2023-05-12", org="国信证券", industry="保险")
    listing.insert(late, index=0)
    third = run(lake=lake, until=UNTIL)
    assert (third.read, third.written) == (1, 1)
    late_row = [
        r
        for r in lake_io.read_table(loc, "reports").to_pylist()
        if r["source_id"] == "AP_LATE_0001"
    ]
    assert len(late_row) == 1 and late_row[0]["title"] == late["title"]


def test_s3_landing_bucket_second_run_fetches_nothing_and_replaced_objects_return(
    s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("REPORTLAKE_S3_ENDPOINT_URL", s3_endpoint)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    files = sorted(EXAMPLES_INBOX.iterdir())
    for path in files:
        s3.upload_file(str(path), s3_bucket, f"reports/{path.name}")
    landing, lake = f"s3://{s3_bucket}/reports", str(tmp_path / "lake")
    n_reports = len([p for p in files if not p.name.endswith(".meta.json")])

    first = run(source="s3", landing=landing, lake=lake)
    assert first.read == n_reports and first.written == n_reports - 2
    second = run(source="s3", landing=landing, lake=lake)
    assert (second.read, second.written, second.already_done) == (0, 0, n_reports)

    # The vendor replaces one file with a corrected version: a new ETag, ingested again.
    fixed = (EXAMPLES_INBOX / "004_0b306bed774ee041.txt").read_bytes().decode("gbk").encode()
    s3.put_object(Bucket=s3_bucket, Key="reports/004_0b306bed774ee041.txt", Body=fixed)
    third = run(source="s3", landing=landing, lake=lake)
    assert (third.read, third.written) == (1, 1)
    reports = lake_io.read_table(resolve_location(lake), "reports")
    assert reports.num_rows == n_reports - 1
