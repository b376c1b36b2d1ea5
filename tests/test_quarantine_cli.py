"""``reportlake quarantine list|show|retry``: find why an item was stopped, fix it, retry it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from reportlake import lake as lake_io
from reportlake.cli import app
from reportlake.quarantine import QuarantineRow, load_rows
from reportlake.runs import plan_batches, run_batch
from reportlake.settings import Settings
from reportlake.storage import resolve_location
from tests.conftest import EXAMPLES_INBOX
from tests.fixtures.bad import build

runner = CliRunner()
REPORT = "004_0b306bed774ee041.txt"  # a good report, once its sidecar is fixed
FIXED_SIDECAR = {"broker": "东吴证券", "publish_date": "2024-05-27"}


def ingest(inbox: Path, lake: Path) -> None:
    """What a flow run does, batch by batch, without Prefect."""
    settings = Settings.load(inbox=str(inbox), lake=str(lake))
    for batch in plan_batches(settings).batches:
        run_batch(settings, batch)


def quarantine(lake: Path) -> dict[str, QuarantineRow]:
    return {row.name: row for row in load_rows(resolve_location(str(lake)))}


def report_names(lake: Path) -> list[str]:
    table = lake_io.read_table(resolve_location(str(lake)), "reports")
    return sorted(uri.rsplit("/", 1)[-1] for uri in table.column("source_uri").to_pylist())


def cli(*args: str) -> Result:
    return runner.invoke(app, ["quarantine", *args])


@pytest.fixture
def lake_with_bad_items(tmp_path: Path) -> tuple[Path, Path]:
    """An inbox of a report with a broken sidecar, an empty file and a scan, ingested once."""
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    shutil.copyfile(EXAMPLES_INBOX / REPORT, inbox / REPORT)
    (inbox / f"{REPORT}.meta.json").write_text('{"broker": "东吴证券",', encoding="utf-8")
    (inbox / "empty.pdf").write_bytes(b"")
    (inbox / "scan.pdf").write_bytes(build.image_only_pdf())
    ingest(inbox, lake)
    return inbox, lake


def test_list_show_fix_retry(lake_with_bad_items: tuple[Path, Path]) -> None:
    inbox, lake = lake_with_bad_items
    rows = quarantine(lake)
    assert sorted(rows) == sorted([REPORT, "empty.pdf", "scan.pdf"])
    bad, empty = rows[REPORT], rows["empty.pdf"]

    listed = cli("list", "--lake", str(lake))
    assert listed.exit_code == 0, listed.output
    line = next(ln for ln in listed.stdout.splitlines() if REPORT in ln)
    assert line.startswith(bad.report_id[:12]) and " fetch " in line
    assert f"sidecar {REPORT}.meta.json is not valid UTF-8 JSON" in line
    assert "(3 quarantined items;" in listed.stdout

    shown = cli("show", bad.report_id[:8], "--lake", str(lake))
    assert shown.exit_code == 0, shown.output
    assert f"source_uri:     {(inbox / REPORT).as_uri()}" in shown.stdout
    assert f"raw_uri:        {bad.raw_uri}" in shown.stdout
    assert "stage:          fetch" in shown.stdout
    assert "Expecting property name enclosed in double quotes" in shown.stdout

    (inbox / f"{REPORT}.meta.json").write_text(json.dumps(FIXED_SIDECAR), encoding="utf-8")
    retried = cli("retry", bad.report_id[:10], empty.report_id[:10], "--lake", str(lake),
                  "--inbox", str(inbox))  # fmt: skip
    assert retried.exit_code == 0, retried.output
    assert "2 retried, 1 now written, 1 still quarantined, 0 not retried" in retried.stdout
    assert "file is empty (0 bytes)" in retried.stdout

    assert report_names(lake) == [REPORT]
    after = quarantine(lake)
    assert sorted(after) == ["empty.pdf", "scan.pdf"]
    assert after["empty.pdf"].reasons == empty.reasons
    fresh, old = after["empty.pdf"].quarantined_at, empty.quarantined_at
    assert fresh and old and fresh > old  # a fresh row, not the old one
    # The retried keys are in the source's state: the next run has nothing new.
    settings = Settings.load(inbox=str(inbox), lake=str(lake))
    assert plan_batches(settings).batches == []


def test_an_item_gone_from_the_source_is_retried_from_its_archived_original(
    lake_with_bad_items: tuple[Path, Path],
) -> None:
    inbox, lake = lake_with_bad_items
    (inbox / "scan.pdf").unlink()  # content problem: raw/ still has it
    (inbox / "empty.pdf").unlink()  # same
    (inbox / REPORT).unlink()  # fetch problem (its sidecar): only fixable at the source
    before = quarantine(lake)

    retried = cli("retry", "--all", "--lake", str(lake), "--inbox", str(inbox))
    assert retried.exit_code == 0, retried.output
    assert "2 retried, 0 now written, 2 still quarantined, 1 not retried" in retried.stdout
    assert (
        f"not retried: {REPORT}" in retried.stdout and "no longer at the source" in retried.stdout
    )
    assert "PDF has no text layer" in retried.stdout

    after = quarantine(lake)
    assert sorted(after) == sorted(before)
    assert after["scan.pdf"].reasons == before["scan.pdf"].reasons
    assert after[REPORT] == before[REPORT]  # untouched


def test_stage_and_date_filters(lake_with_bad_items: tuple[Path, Path]) -> None:
    _, lake = lake_with_bad_items
    extract = cli("list", "--lake", str(lake), "--stage", "extract")
    assert extract.exit_code == 0
    assert "empty.pdf" in extract.stdout and "scan.pdf" in extract.stdout
    assert REPORT not in extract.stdout
    limited = cli("list", "--lake", str(lake), "--limit", "1")
    assert "(1 of 3 quarantined items;" in limited.stdout
    future = cli("list", "--lake", str(lake), "--since", "2999-01-01")
    assert future.stdout.strip() == "no quarantined items"


def test_retry_by_stage_leaves_the_other_stages(lake_with_bad_items: tuple[Path, Path]) -> None:
    inbox, lake = lake_with_bad_items
    retried = cli(
        "retry", "--all", "--stage", "extract", "--lake", str(lake), "--inbox", str(inbox)
    )
    assert retried.exit_code == 0, retried.output
    assert retried.stdout.startswith("2 retried, 0 now written, 2 still quarantined")
    assert sorted(quarantine(lake)) == sorted([REPORT, "empty.pdf", "scan.pdf"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "zzzz"], "no quarantined item has an id starting with 'zzzz'"),
        (["show", ""], "no quarantined item has an id starting with ''"),
        (["retry"], "name the items: ids, or --all"),
        (["retry", "--all", "abc"], "name the items: ids, or --all"),
    ],
)
def test_unclear_selections_are_refused(
    lake_with_bad_items: tuple[Path, Path], args: list[str], message: str
) -> None:
    _, lake = lake_with_bad_items
    result = cli(*args, "--lake", str(lake))
    assert result.exit_code == 2
    assert message in result.stderr


def test_an_ambiguous_prefix_names_the_candidates(tmp_path: Path) -> None:
    from reportlake.quarantine import SelectionError, select_rows

    rows = [
        QuarantineRow(report_id=rid, source_uri=f"file:///{rid}", partition="x", stage="fetch",
                      reasons=("r",))
        for rid in ("ab12", "ab34", "cd56")
    ]  # fmt: skip
    with pytest.raises(SelectionError, match=r"'ab' matches 2 quarantined items \(ab12, ab34\)"):
        select_rows(rows, ["ab"])
    assert [r.report_id for r in select_rows(rows, ["AB3"])] == ["ab34"]
