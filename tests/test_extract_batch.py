"""How a chunk is extracted: in groups, then parsed; originals archived; fetches at once or not."""

from __future__ import annotations

from pathlib import Path
from threading import current_thread
from typing import Any

import pyarrow.fs as pafs
import pytest

from reportlake import pipeline
from reportlake.pipeline import ExtractedBatch, extract_batch, prefetch
from reportlake.sources.inbox import InboxSource
from reportlake.storage import Location, resolve_location
from tests.conftest import REPO

SAMPLE = (REPO / "tests/fixtures/reports/000_c0ce63a5312a5a26.txt").read_text(encoding="utf-8")


def inbox_of(path: Path, n: int) -> InboxSource:
    path.mkdir()
    for i in range(n):  # each a report of its own: the same text, a different byte at the end
        (path / f"{i:02d}.txt").write_text(SAMPLE + "\n" * (i + 1), encoding="utf-8")
    return InboxSource(resolve_location(str(path)), max_bytes=10_000_000)


def extract_all(source: InboxSource, lake: Location | Path) -> ExtractedBatch:
    """Every item of ``source`` extracted as one chunk, originals stored in ``lake``."""
    where = lake if isinstance(lake, Location) else resolve_location(str(lake))
    return extract_batch(source, list(source.list_items()), where)


def spy(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, calls: list[Any], note: Any
) -> None:
    """Have ``owner.name`` add ``note(*its arguments)`` to ``calls`` before it runs."""
    real = getattr(owner, name)

    def spying(*args: Any, **kwargs: Any) -> Any:
        calls.append(note(*args, **kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spying)


def record_stages(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(stage, what) for every extraction and parse, in order."""
    import reportlake.extraction

    events: list[tuple[str, str]] = []
    spy(monkeypatch, reportlake.extraction, "extract", events, lambda _, **k: ("e", k["filename"]))
    spy(monkeypatch, pipeline, "parse_text", events, lambda text, **_: ("p", ""))
    return events


def test_originals_are_extracted_a_group_at_a_time_then_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = inbox_of(tmp_path / "inbox", 30)
    events = record_stages(monkeypatch)
    monkeypatch.setattr(pipeline, "EXTRACT_GROUP", 12)
    batch = extract_all(source, tmp_path / "l")
    assert [o.report is not None for o in batch.outcomes] == [True] * 30
    stages = "".join(stage for stage, _ in events)
    assert stages == "e" * 12 + "p" * 12 + "e" * 12 + "p" * 12 + "e" * 6 + "p" * 6
    # In the items' order, each once.
    assert [name for stage, name in events if stage == "e"] == [f"{i:02d}.txt" for i in range(30)]


def test_a_group_ends_at_its_bytes_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = inbox_of(tmp_path / "inbox", 3)
    events = record_stages(monkeypatch)
    monkeypatch.setattr(pipeline, "EXTRACT_GROUP_BYTES", len(SAMPLE.encode()))  # one original
    extract_all(source, tmp_path / "l")
    assert "".join(stage for stage, _ in events) == "epepep"


def writers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the threads that store originals, one per original."""
    names: list[str] = []
    spy(monkeypatch, pipeline, "write_bytes_atomic", names, lambda *_: current_thread().name)
    return names


def test_a_local_lake_stores_originals_at_once_without_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = inbox_of(tmp_path / "inbox", 4)
    names = writers(monkeypatch)
    batch = extract_all(source, tmp_path / "l")
    assert set(names) == {current_thread().name} and len(names) == 4
    assert all(outcome.raw_uri for outcome in batch.outcomes)
    assert len(list((tmp_path / "l/raw").rglob("*.txt"))) == len(batch.outcomes) == 4


def test_an_s3_lake_uploads_originals_from_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_endpoint: str, s3_bucket: str
) -> None:
    source = inbox_of(tmp_path / "inbox", 4)
    names = writers(monkeypatch)
    lake = resolve_location(f"s3://{s3_bucket}/lake", s3_endpoint_url=s3_endpoint)
    batch = extract_all(source, lake)
    assert names and all(name.startswith("archive") for name in names)
    stored = [uri for o in batch.outcomes if (uri := o.raw_uri)]
    assert len(stored) == 4 and all(uri.startswith(f"s3://{s3_bucket}/lake/raw/") for uri in stored)
    listed = lake.fs.get_file_info(pafs.FileSelector(lake.join("raw"), recursive=True))
    assert len([info for info in listed if info.type == pafs.FileType.File]) == 4


def test_originals_are_fetched_at_once_only_from_remote_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = inbox_of(tmp_path / "inbox", 4)
    items = list(source.list_items())
    names: list[str] = []
    spy(monkeypatch, source, "fetch", names, lambda _: current_thread().name)
    assert [item for item, _ in prefetch(source, items, 5)] == items
    assert set(names) == {current_thread().name}  # local files: one at a time, here
    names.clear()
    source.remote = True  # as an inbox on S3
    assert [item for item, _ in prefetch(source, items, 5)] == items
    assert len(names) == 4 and all(name.startswith("fetch") for name in names)


def test_a_retried_commit_writes_the_texts_its_reports_gave_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A commit moves the reports' text into its Arrow tables; when the write fails and Prefect
    # retries the commit, the tables built the first time are written, text and all.
    from reportlake.lake import read_table
    from reportlake.pipeline import KnownReports, commit_batch
    from reportlake.quality import Validator

    lake = resolve_location(str(tmp_path / "lake"))
    batch = extract_all(inbox_of(tmp_path / "inbox", 3), lake)
    texts = {o.report_id: o.report.text for o in batch.outcomes if o.report is not None}
    assert len(texts) == 3 and all(texts.values())

    real_write = pipeline.lake_io.write_tables
    attempts: list[int] = []

    def lake_gone_once(*args: Any) -> dict[str, int]:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("injected: the lake went away")
        return real_write(*args)

    monkeypatch.setattr(pipeline.lake_io, "write_tables", lake_gone_once)
    validator, known = Validator(REPO / "expectations"), KnownReports()
    with pytest.raises(OSError, match="injected"):
        commit_batch(batch, lake, validator, known)
    assert all(not o.report.text for o in batch.outcomes if o.report is not None)  # given up
    result = commit_batch(batch, lake, validator, known)

    written = read_table(lake, "reports", ["report_id", "text", "char_count"]).to_pylist()
    assert result.written == len(written) == 3
    assert {row["report_id"]: row["text"] for row in written} == texts
    assert all(row["char_count"] == len(row["text"]) for row in written)
