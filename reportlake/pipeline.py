"""Ingest one batch of originals: fetch, extract, parse, validate, write. Prefect-free.

The flow calls :func:`ingest_batch` once per batch (a coarse task); everything a report goes
through happens here, so the same code runs from tests, the CLI and Prefect.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import posixpath
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from reportlake import lake as lake_io
from reportlake.errors import BadInputError, MetadataError, Stage
from reportlake.extraction import extract
from reportlake.models import Analyst, ParsedReport, Report, SourceMetadata
from reportlake.parsing import parse_text
from reportlake.sources import FetchedItem, Source, SourceItem
from reportlake.storage import Location
from reportlake.tables import quarantine_table, record_json, reports_to_tables
from reportlake.vocab import canonical_broker, rating_levels

if TYPE_CHECKING:
    from reportlake.quality import Validator

log = logging.getLogger(__name__)

# Child tables first, reports last: a report's row in `reports` marks it as committed, so a
# run that dies half-way leaves it to be redone (and merged, not duplicated) by the next run.
WRITE_ORDER = ("analysts", "stock_mentions", "related_reports", "reports")


@dataclass
class Quarantined:
    report_id: str
    source_uri: str
    stage: Stage
    reasons: list[str]
    publish_date: dt.date | None = None
    fields: dict[str, object] = field(default_factory=dict)
    raw_uri: str | None = None
    source_id: str | None = None


@dataclass
class BatchResult:
    """What one batch did; summed across batches for the run summary."""

    read: int = 0
    written: int = 0
    skipped: int = 0  # already in the lake from an earlier run (same bytes, same source)
    quarantined: list[Quarantined] = field(default_factory=list)
    per_broker: Counter[str] = field(default_factory=Counter)
    rows_written: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    # (source key, version, report_id) of every item this batch settled: written, skipped
    # or quarantined. Recorded in the source's state once the batch is committed.
    settled: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def merge(self, other: BatchResult) -> BatchResult:
        self.read += other.read
        self.written += other.written
        self.skipped += other.skipped
        self.quarantined.extend(other.quarantined)
        self.per_broker.update(other.per_broker)
        self.rows_written.update(other.rows_written)
        self.settled.extend(other.settled)
        for stage, seconds in other.seconds.items():
            self.seconds[stage] += seconds
        return self


@contextmanager
def _timed(result: BatchResult, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        result.seconds[stage] += time.perf_counter() - start


def item_source_id(item: SourceItem) -> str | None:
    """The source's own id of an item: the listing's (infoCode), or a rejected record's key."""
    if item.metadata is not None and item.metadata.source_id:
        return item.metadata.source_id
    return item.key if item.error else None


def content_id(data: bytes) -> str:
    """The report_id: sha256 of the original bytes."""
    return hashlib.sha256(data).hexdigest()


def load_security_master(path: Path | None) -> dict[str, str] | None:
    """Read a security master CSV (``code,name`` columns) into code -> name."""
    if path is None:
        return None
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {row["code"].strip(): row["name"].strip() for row in csv.DictReader(fh)}


def apply_metadata(parsed: ParsedReport, meta: SourceMetadata) -> ParsedReport:
    """Known metadata wins over parsed values; disagreements are kept as warnings."""
    updates: dict[str, object] = {}
    warnings = list(parsed.warnings)
    for name in ("title", "broker", "publish_date", "industry", "rating", "rating_action"):
        known = getattr(meta, name)
        if known is None:
            continue
        if name == "broker":
            known = canonical_broker(known)
        seen = getattr(parsed, name)
        if seen is not None and seen != known:
            warnings.append(f"{name}: metadata {known!s} differs from parsed {seen!s}")
        updates[name] = known
    if meta.authors and not parsed.analysts:
        # The listing names the authors; the text gave nothing to add SAC ids or e-mails to.
        updates["analysts"] = [Analyst(name=name, role="分析师") for name in meta.authors if name]
    elif meta.authors:
        listed = {a for a in meta.authors if a}
        found = {a.name for a in parsed.analysts}
        if not listed <= found:
            warnings.append(
                f"authors: metadata {sorted(listed)} differ from parsed {sorted(found)}"
            )
    if "publish_date" in updates:
        updates["publish_date_source"] = "metadata"
    if "rating" in updates:
        updates["rating_level"] = rating_levels().get(str(updates["rating"]))
    updates["warnings"] = warnings
    return parsed.model_copy(update=updates)


def build_report(
    fetched: FetchedItem, report_id: str, *, security_master: Mapping[str, str] | None = None
) -> Report:
    """Extract and parse one original; raises BadInputError subclasses for quarantine."""
    document = extract(fetched.data, filename=fetched.item.name)
    parsed = apply_metadata(
        parse_text(document.text, security_master=security_master), fetched.metadata
    )
    return Report(
        **parsed.model_dump(),
        report_id=report_id,
        source_uri=fetched.item.uri,
        source_url=fetched.metadata.source_url,
        source_id=fetched.metadata.source_id,
        format=document.format,
        page_count=document.page_count,
        char_count=document.char_count,
        text=document.text,
    )


def _fetch_one(source: Source, item: SourceItem) -> FetchedItem | BadInputError:
    if item.error:
        return MetadataError(item.error)
    try:
        return source.fetch(item)
    except BadInputError as exc:
        return exc


def prefetch(
    source: Source, items: Sequence[SourceItem], ahead: int
) -> Iterator[tuple[SourceItem, FetchedItem | BadInputError]]:
    """Fetch up to ``ahead`` items concurrently, yielding them in order.

    Bad input comes back as the error (to quarantine); transient faults raise when their item
    is reached. At most ``ahead`` originals are held in memory at once.
    """
    if ahead <= 1:
        yield from ((item, _fetch_one(source, item)) for item in items)
        return
    with ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="fetch") as pool:
        pending: deque[tuple[SourceItem, Future[FetchedItem | BadInputError]]] = deque()
        queue = iter(items)

        def submit_next() -> None:
            item = next(queue, None)
            if item is not None:
                pending.append((item, pool.submit(_fetch_one, source, item)))

        for _ in range(ahead):
            submit_next()
        while pending:
            item, future = pending.popleft()
            submit_next()
            yield item, future.result()


def ingest_batch(
    source: Source,
    items: Sequence[SourceItem],
    lake: Location,
    validator: Validator,
    *,
    known: Mapping[str, Sequence[str]],
    security_master: Mapping[str, str] | None = None,
    fetch_ahead: int = 1,
) -> BatchResult:
    """Run one batch end to end and commit it to the lake.

    Args:
        known: report_id -> source URIs already in the lake (reports and quarantine); an
            original seen before under the same URI is skipped, and the same bytes under
            another name are quarantined as a duplicate.
    """
    result = BatchResult()
    reports: list[Report] = []
    originals: dict[str, tuple[str, bytes]] = {}  # report_id -> (suffix, bytes)
    in_batch: dict[str, str] = {}

    fetches = prefetch(source, items, fetch_ahead)
    while True:
        with _timed(result, "fetch"):
            next_fetch = next(fetches, None)
        if next_fetch is None:
            break
        item, fetched = next_fetch
        result.read += 1

        def quarantine(rid: str, stage: Stage, reason: str, item: SourceItem = item) -> None:
            result.quarantined.append(
                Quarantined(rid, item.uri, stage, [reason], source_id=item_source_id(item))
            )

        if isinstance(fetched, BadInputError):
            # No bytes to hash: identify the item by its URI instead.
            rid = content_id(f"uri:{item.uri}".encode())
            quarantine(rid, fetched.stage, fetched.reason)
            result.settled.append((item.key, item.version, rid))
            continue
        rid = content_id(fetched.data)
        result.settled.append((item.key, item.version, rid))
        if item.uri in known.get(rid, ()):
            result.skipped += 1
            continue
        first_uri = next(iter(known.get(rid, ())), None) or in_batch.get(rid)
        suffix = posixpath.splitext(item.name)[1] or ".bin"
        originals[rid] = (suffix, fetched.data)
        if first_uri is not None:
            quarantine(
                rid, "fetch", f"duplicate: the same bytes were already ingested from {first_uri}"
            )
            continue
        in_batch[rid] = item.uri
        if fetched.metadata_error:
            quarantine(rid, "fetch", fetched.metadata_error)
            continue
        try:
            with _timed(result, "extract+parse"):
                report = build_report(fetched, rid, security_master=security_master)
        except BadInputError as exc:
            quarantine(rid, exc.stage, exc.reason)
            continue
        reports.append(report)

    with _timed(result, "validate"):
        tables = reports_to_tables(reports)
        failures = validator.validate(tables).failures if reports else {}
    good_ids = [r.report_id for r in reports if r.report_id not in failures]
    for r in reports:
        if r.report_id in failures:
            fields = r.model_dump(mode="json", exclude={"text"})
            result.quarantined.append(
                Quarantined(
                    r.report_id,
                    r.source_uri,
                    "validate",
                    failures[r.report_id],
                    publish_date=r.publish_date,
                    fields=fields,
                    source_id=r.source_id,
                )
            )

    with _timed(result, "write"):
        dates = {r.report_id: r.publish_date for r in reports}
        raw_uris = {
            rid: lake_io.archive_original(lake, rid, dates.get(rid), suffix, data)
            for rid, (suffix, data) in originals.items()
        }
        keep = pa.array(good_ids, pa.string())
        good = {
            name: table.filter(pc.is_in(table.column("report_id"), value_set=keep))
            for name, table in tables.items()
        }
        good["reports"] = _with_raw_uris(good["reports"], raw_uris)
        for q in result.quarantined:
            q.raw_uri = raw_uris.get(q.report_id)
        ordered = {name: good[name] for name in WRITE_ORDER}
        ordered["quarantine"] = _quarantine_rows(result.quarantined)
        result.rows_written.update(lake_io.write_tables(lake, ordered))

    result.written = len(good_ids)
    passed = set(good_ids)
    result.per_broker.update(r.broker or "(unknown)" for r in reports if r.report_id in passed)
    return result


def _with_raw_uris(table: pa.Table, raw_uris: Mapping[str, str]) -> pa.Table:
    ids = table.column("report_id").to_pylist()
    column = pa.array([raw_uris.get(i) for i in ids], pa.string())
    return table.set_column(table.schema.get_field_index("raw_uri"), "raw_uri", column)


def _quarantine_rows(items: Sequence[Quarantined]) -> pa.Table:
    now = dt.datetime.now(dt.UTC)
    return quarantine_table(
        {
            "report_id": q.report_id,
            "source_uri": q.source_uri,
            "publish_date": q.publish_date,
            "raw_uri": q.raw_uri,
            "stage": q.stage,
            "reasons": q.reasons,
            "source_id": q.source_id or q.fields.get("source_id"),
            "title": q.fields.get("title"),
            "broker": q.fields.get("broker"),
            "record_json": record_json(q.fields) if q.fields else None,
            "quarantined_at": now,
        }
        for q in items
    )
