"""Ingest batches of originals: fetch, extract, parse, validate, write. Prefect-free.

A batch goes through two steps, each a coarse task of the flow:

- :func:`extract_batch` (fetch, extract, parse, archive the originals) is CPU-bound and
  independent of other batches, so batches run side by side in worker processes;
- :func:`commit_batch` (duplicates, validation, write) runs one batch at a time in the flow's
  process, which owns the lake while the run holds its lease.

Everything a report goes through happens here, so the same code runs from tests, the CLI and
Prefect.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import posixpath
import time
from collections import Counter, defaultdict, deque
from collections.abc import (
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from reportlake import lake as lake_io
from reportlake.errors import BadInputError, MetadataError, Stage
from reportlake.models import Analyst, Document, ParsedReport, Report, SourceMetadata
from reportlake.parsing import parse_text
from reportlake.sources import FetchedItem, Source, SourceItem
from reportlake.storage import Location, write_bytes_atomic
from reportlake.tables import quarantine_table, record_json, reports_to_tables
from reportlake.vocab import canonical_broker, rating_levels

if TYPE_CHECKING:
    from reportlake.quality import Validates

log = logging.getLogger(__name__)

# Child tables first, reports last: a report's row in `reports` marks it as committed, so a
# run that dies half-way leaves it to be redone (and merged, not duplicated) by the next run.
WRITE_ORDER = ("analysts", "stock_mentions", "related_reports", "reports")
ARCHIVE_THREADS = 8  # originals uploaded at once by one batch
# Originals extracted before they are parsed (see _extract_group); the bytes bound what a group
# holds in memory when the originals are large.
EXTRACT_GROUP = 25
EXTRACT_GROUP_BYTES = 32 * 1024 * 1024
T = TypeVar("T")


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
    validated: int = 0  # reports checked against the expectation suites
    quarantined: list[Quarantined] = field(default_factory=list)
    per_broker: Counter[str] = field(default_factory=Counter)
    rows_written: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    # (source key, version, report_id, source URI) of every item this batch settled: written,
    # skipped or quarantined. Recorded in the source's state once the batch is committed.
    settled: list[tuple[str, str | None, str, str]] = field(default_factory=list)

    def merge(self, other: BatchResult) -> BatchResult:
        self.read += other.read
        self.written += other.written
        self.skipped += other.skipped
        self.validated += other.validated
        self.quarantined.extend(other.quarantined)
        self.per_broker.update(other.per_broker)
        self.rows_written.update(other.rows_written)
        self.settled.extend(other.settled)
        for stage, seconds in other.seconds.items():
            self.seconds[stage] += seconds
        return self


def timed_iter(items: Iterator[T], seconds: MutableMapping[str, float], stage: str) -> Iterator[T]:
    """Yield from ``items``, adding the time spent producing them to ``seconds[stage]``."""
    while True:
        with timed(seconds, stage):
            item = next(items, None)
        if item is None:
            return
        yield item


@contextmanager
def timed(seconds: MutableMapping[str, float], stage: str) -> Iterator[None]:
    """Add the seconds the block takes to ``seconds[stage]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - start


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
    fetched: FetchedItem,
    document: Document,
    report_id: str,
    *,
    security_master: Mapping[str, str] | None = None,
) -> Report:
    """Parse one extracted original; raises BadInputError subclasses for quarantine."""
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
    """Fetch up to ``ahead`` items concurrently from a remote source, yielding them in order.

    Bad input comes back as the error (to quarantine); transient faults raise when their item
    is reached. At most ``ahead`` originals are held in memory at once. A local source's items
    are read one at a time: a read waits on nothing, and fetching threads would only cost CPU
    in GIL hand-offs.
    """
    if ahead <= 1 or not source.remote:
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


@dataclass
class Outcome:
    """What became of one item: a report, or the reason it must be quarantined."""

    item: SourceItem
    report_id: str
    report: Report | None = None
    stage: Stage = "fetch"
    reason: str = ""
    raw_uri: str | None = None  # the archived original, when there were bytes
    # Between extraction and parsing: the original (until archived, which needs the parsed
    # publish date) and its text.
    fetched: FetchedItem | None = None
    document: Document | None = None


@dataclass
class ExtractedBatch:
    """A batch after fetch, extract and parse: what a worker hands back for committing."""

    outcomes: list[Outcome] = field(default_factory=list)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    # The whole of ``extract_batch``: its stages and the bookkeeping between them (hashing,
    # handing originals to the archive's threads).
    wall_s: float = 0.0
    # Set by its commit: the Arrow tables of the reports it writes (by report_id), which then
    # hold their text, no longer the reports themselves; a retried commit writes these.
    tables: tuple[tuple[str, ...], dict[str, pa.Table]] | None = None

    @classmethod
    def join(cls, parts: Iterable[ExtractedBatch]) -> ExtractedBatch:
        """One batch of the parts' outcomes, in their order, with their seconds summed."""
        joined = cls()
        for part in parts:
            joined.outcomes.extend(part.outcomes)
            for stage, seconds in part.seconds.items():
                joined.seconds[stage] += seconds
            joined.wall_s += part.wall_s
        return joined


class KnownReports:
    """report_id -> the source URIs it was committed (written or quarantined) from.

    Loaded once per run from the lake's state, then kept up to date by the run's commits, so
    a batch's lookups cost what the batch holds, not what the lake holds.
    """

    def __init__(self, known: Mapping[str, Sequence[str]] | None = None) -> None:
        self._uris: dict[str, list[str]] = {rid: list(uris) for rid, uris in (known or {}).items()}

    def uris(self, report_id: str) -> Sequence[str]:
        return self._uris.get(report_id, ())

    def add(self, report_id: str, uri: str) -> None:
        uris = self._uris.setdefault(report_id, [])
        if uri not in uris:
            uris.append(uri)

    def discard(self, report_id: str, uri: str) -> None:
        """Forget one committed item, so it is ingested again (a retry of quarantined items)."""
        uris = self._uris.get(report_id, [])
        if uri in uris:
            uris.remove(uri)

    def __len__(self) -> int:
        return len(self._uris)


def extract_batch(
    source: Source,
    items: Sequence[SourceItem],
    lake: Location,
    *,
    security_master: Mapping[str, str] | None = None,
    fetch_ahead: int = 1,
) -> ExtractedBatch:
    """Fetch, extract and parse a batch, and archive its originals.

    The CPU-heavy half of a batch: it runs in worker processes (or on a Dask cluster) and
    touches the lake only to store originals, which are content-addressed and so safe to write
    from anywhere, any number of times. Deciding what to write is :func:`commit_batch`'s job.
    """
    started = time.perf_counter()
    batch = ExtractedBatch()
    with timed(batch.seconds, "extract"):
        # Imported here: a flow's process that only commits never loads MuPDF (~170 MB).
        from reportlake.extraction import extract

    fetched = timed_iter(prefetch(source, items, fetch_ahead), batch.seconds, "fetch")
    with archiver(lake, batch.seconds) as archive:
        while group := _extract_group(fetched, extract, batch.seconds):
            for outcome in group:
                _finish(outcome, security_master, batch.seconds, archive)
            batch.outcomes.extend(group)
    batch.wall_s = time.perf_counter() - started
    return batch


def _extract_group(
    fetched: Iterator[tuple[SourceItem, FetchedItem | BadInputError]],
    extract: Callable[..., Document],
    seconds: defaultdict[str, float],
) -> list[Outcome]:
    """The next few originals extracted, up to EXTRACT_GROUP of them or EXTRACT_GROUP_BYTES.

    Originals are extracted a group at a time, then parsed: MuPDF and the parser each keep
    their data in the CPU's caches through a group, where alternating them on every report
    costs ~8% more CPU (measured: 11.9 against 11.0 ms a report, groups of 1 and 25).
    """
    group: list[Outcome] = []
    size = 0
    for item, original in fetched:
        group.append(_extract_one(item, original, extract, seconds))
        if not isinstance(original, BadInputError):
            size += len(original.data)
        if len(group) >= EXTRACT_GROUP or size >= EXTRACT_GROUP_BYTES:
            break
    return group


def _extract_one(
    item: SourceItem,
    fetched: FetchedItem | BadInputError,
    extract: Callable[..., Document],
    seconds: defaultdict[str, float],
) -> Outcome:
    if isinstance(fetched, BadInputError):
        # No bytes to hash: identify the item by its URI instead.
        rid = content_id(f"uri:{item.uri}".encode())
        return Outcome(item, rid, stage=fetched.stage, reason=fetched.reason)
    outcome = Outcome(item, content_id(fetched.data), fetched=fetched)
    if fetched.metadata_error:
        outcome.reason = fetched.metadata_error
        return outcome
    try:
        with timed(seconds, "extract"):
            outcome.document = extract(fetched.data, filename=item.name)
    except BadInputError as exc:
        outcome.stage, outcome.reason = exc.stage, exc.reason
    return outcome


Archive = Callable[[Outcome, bytes], None]


@contextmanager
def archiver(lake: Location, seconds: defaultdict[str, float]) -> Iterator[Archive]:
    """Store originals under raw/; all are stored when the block ends.

    On object storage each PUT waits on the network: uploads go on from a few threads while the
    next originals are extracted, and the first failed upload raises here, before anything is
    committed. On a local disk a write waits on nothing: it is made at once, without threads
    (handing each original to a thread cost ~0.3 ms of CPU a report in GIL hand-offs).
    """

    def path_of(outcome: Outcome) -> str:
        date = outcome.report.publish_date if outcome.report else None
        suffix = posixpath.splitext(outcome.item.name)[1]
        path = lake_io.raw_path(lake, outcome.report_id, date, suffix)
        outcome.raw_uri = lake.uri_of(path)
        return path

    if lake.is_local:

        def write(outcome: Outcome, data: bytes) -> None:
            with timed(seconds, "archive"):
                write_bytes_atomic(lake, path_of(outcome), data)

        yield write
        return
    with ThreadPoolExecutor(ARCHIVE_THREADS, thread_name_prefix="archive") as pool:
        uploads: list[Future[None]] = []

        def upload(outcome: Outcome, data: bytes) -> None:
            uploads.append(pool.submit(write_bytes_atomic, lake, path_of(outcome), data))

        yield upload
        with timed(seconds, "archive"):
            for future in uploads:
                future.result()


def _finish(
    outcome: Outcome,
    security_master: Mapping[str, str] | None,
    seconds: defaultdict[str, float],
    archive: Archive,
) -> None:
    """Parse an extracted original into its report, then archive the original under raw/."""
    fetched, document = outcome.fetched, outcome.document
    if fetched is None:
        return  # nothing was fetched
    if document is not None:
        try:
            with timed(seconds, "parse"):
                outcome.report = build_report(
                    fetched, document, outcome.report_id, security_master=security_master
                )
        except BadInputError as exc:
            outcome.stage, outcome.reason = exc.stage, exc.reason
    archive(outcome, fetched.data)  # needs the publish date: raw/dt=<date>/
    outcome.fetched = outcome.document = None  # the archiver holds the bytes until stored


def commit_batch(
    batch: ExtractedBatch, lake: Location, validator: Validates, known: KnownReports
) -> BatchResult:
    """Validate an extracted batch and commit it to the lake; runs one at a time per lake.

    An original seen before under the same URI is skipped; the same bytes under another name
    are quarantined as a duplicate. ``known`` learns this batch's reports once they are written.
    """
    result = BatchResult()
    result.seconds.update(batch.seconds)
    reports: list[Report] = []
    raw_uris: dict[str, str] = {}
    seen: dict[str, str] = {}  # report_id -> URI, committed by this batch

    for outcome in batch.outcomes:
        item, rid = outcome.item, outcome.report_id
        result.read += 1
        result.settled.append((item.key, item.version, rid, item.uri))
        if outcome.raw_uri:
            raw_uris[rid] = outcome.raw_uri
        if item.uri in known.uris(rid):
            result.skipped += 1
            continue
        first_uri = next(iter(known.uris(rid)), None) or seen.get(rid)
        if first_uri is not None:
            reason = (
                f"duplicate: the same bytes were already ingested from {first_uri}; "
                "remove this copy from the source"
            )
            result.quarantined.append(_quarantined(outcome, "fetch", reason))
            continue
        seen[rid] = item.uri
        if outcome.report is None:
            result.quarantined.append(_quarantined(outcome, outcome.stage, outcome.reason))
        else:
            reports.append(outcome.report)

    with timed(result.seconds, "write"):  # the batch's Arrow tables: validated, then written
        tables = _tables_of(batch, reports)
    with timed(result.seconds, "validate"):
        failures = validator.validate(tables).failures if reports else {}
    result.validated = len(reports)
    good_ids = [r.report_id for r in reports if r.report_id not in failures]
    for r in reports:
        if r.report_id in failures:
            result.quarantined.append(
                Quarantined(
                    r.report_id,
                    r.source_uri,
                    "validate",
                    failures[r.report_id],
                    publish_date=r.publish_date,
                    fields=r.model_dump(mode="json", exclude={"text"}),
                    source_id=r.source_id,
                )
            )

    with timed(result.seconds, "write"):
        good = dict(tables) if not failures else _without(tables, failures)  # batch.tables stay
        good["reports"] = _with_raw_uris(good["reports"], raw_uris)
        for q in result.quarantined:
            q.raw_uri = raw_uris.get(q.report_id)
        ordered = {name: good[name] for name in WRITE_ORDER}
        ordered["quarantine"] = _quarantine_rows(result.quarantined)
        result.rows_written.update(lake_io.write_tables(lake, ordered))

    for rid, uri in seen.items():
        known.add(rid, uri)
    result.written = len(good_ids)
    passed = set(good_ids)
    result.per_broker.update(r.broker or "(unknown)" for r in reports if r.report_id in passed)
    return result


def ingest_batch(
    source: Source,
    items: Sequence[SourceItem],
    lake: Location,
    validator: Validates,
    *,
    known: KnownReports,
    security_master: Mapping[str, str] | None = None,
    fetch_ahead: int = 1,
) -> BatchResult:
    """Extract and commit one batch in this process (tests, retries of quarantined items)."""
    extracted = extract_batch(
        source, items, lake, security_master=security_master, fetch_ahead=fetch_ahead
    )
    return commit_batch(extracted, lake, validator, known)


def _quarantined(outcome: Outcome, stage: Stage, reason: str) -> Quarantined:
    return Quarantined(
        outcome.report_id,
        outcome.item.uri,
        stage,
        [reason],
        source_id=item_source_id(outcome.item),
    )


def _tables_of(batch: ExtractedBatch, reports: Sequence[Report]) -> dict[str, pa.Table]:
    """The Arrow tables of a batch's ``reports``, built once: the reports then give up their
    text, held by the tables from now on (~17 MB of Python strings a 500-report batch, while
    its partitions are written). A retried commit writes the tables built before."""
    ids = tuple(r.report_id for r in reports)
    if batch.tables is not None and batch.tables[0] == ids:
        return batch.tables[1]
    if any(r.char_count and not r.text for r in reports):  # never: a retry selects the same
        raise RuntimeError("a report's text was given up to tables of other reports")
    tables = reports_to_tables(reports)
    batch.tables = (ids, tables)
    for report in reports:
        report.text = ""
    return tables


def _without(tables: Mapping[str, pa.Table], report_ids: Collection[str]) -> dict[str, pa.Table]:
    """The tables without the rows of ``report_ids`` (a copy: only when some failed)."""
    drop = pa.array(list(report_ids), pa.string())
    return {
        name: table.filter(pc.invert(pc.is_in(table.column("report_id"), value_set=drop)))
        for name, table in tables.items()
    }


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
