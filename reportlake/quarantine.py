"""Look at the lake's quarantine and retry quarantined items after a fix. Prefect-free.

``reportlake quarantine list|show|retry`` is a thin layer over this module.

A retry re-lists the source and takes the quarantined items it still holds from there, so a
file or sidecar fixed in the inbox is read again. An item the source no longer holds is taken
from its archived original under ``raw/`` when it failed on its content (stage extract, parse
or validate: a parser fix helps it); one that failed on how it was delivered (stage fetch: a
sidecar, a name, a listing record, a duplicate) is only fixed at the source, and is left as it
is. The items are ingested like a run's batch, except that the lake does not count them as
already ingested; afterwards their old quarantine rows are removed, unless the item failed the
same way again under the same key (then its row was replaced in place).
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from reportlake import lake as lake_io
from reportlake.errors import ReportlakeError
from reportlake.lease import lake_lease
from reportlake.models import SourceMetadata
from reportlake.pipeline import BatchResult, ingest_batch, load_security_master
from reportlake.quality_process import validator_for
from reportlake.runs import (
    open_known,
    open_lake,
    open_s3_client,
    open_source,
    resolve_window,
)
from reportlake.settings import Settings
from reportlake.sources import FetchedItem, Source, SourceItem, Window
from reportlake.state import record_keys
from reportlake.storage import Location, exists, read_bytes

TABLE = "quarantine"
ID_SHOWN = 12  # characters of a report_id shown in lists; any unique prefix selects an item


class SelectionError(ReportlakeError):
    """An id prefix matches no quarantined item, or several."""


@dataclass(frozen=True)
class QuarantineRow:
    """One row of the quarantine table."""

    report_id: str
    source_uri: str
    partition: str  # the dt= value of the row's partition
    stage: str
    reasons: tuple[str, ...]
    quarantined_at: dt.datetime | None = None
    publish_date: dt.date | None = None
    raw_uri: str | None = None
    source_id: str | None = None
    title: str | None = None
    broker: str | None = None
    record_json: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies the row in the lake: partition, report_id, source_uri."""
        return self.partition, self.report_id, self.source_uri

    @property
    def name(self) -> str:
        """The original's file name (or the listing record's key), printable on one line."""
        return printable(original_name(self.source_uri))

    @property
    def record(self) -> dict[str, Any]:
        """The fields parsed before the item was stopped (empty if none)."""
        value = json.loads(self.record_json) if self.record_json else {}
        return value if isinstance(value, dict) else {}


def printable(text: str) -> str:
    """``text`` with control characters and invisible marks shown as escapes (``\\n``)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def original_name(source_uri: str) -> str:
    """The file name in a source URI (``file:///in/a%20b.pdf`` -> ``a b.pdf``)."""
    parsed = urlparse(source_uri)
    if parsed.fragment:  # a rejected listing record: <api>/report/list#record-<digest>
        return parsed.fragment
    return unquote(posixpath.basename(parsed.path)) or source_uri


def load_rows(lake: Location) -> list[QuarantineRow]:
    """Every quarantined item of the lake, newest first."""
    table = lake_io.read_table(lake, TABLE)
    rows = [
        QuarantineRow(
            report_id=r["report_id"],
            source_uri=r["source_uri"],
            partition=r["dt"] or lake_io.NULL_PARTITION,
            stage=r["stage"],
            reasons=tuple(r["reasons"] or ()),
            quarantined_at=r["quarantined_at"],
            publish_date=r["publish_date"],
            raw_uri=r["raw_uri"],
            source_id=r["source_id"],
            title=r["title"],
            broker=r["broker"],
            record_json=r["record_json"],
        )
        for r in table.to_pylist()
    ]
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(rows, key=lambda r: (r.quarantined_at or oldest, r.report_id), reverse=True)


def filter_rows(
    rows: Iterable[QuarantineRow], *, stage: str | None = None, since: dt.date | None = None
) -> list[QuarantineRow]:
    """Rows of one stage and/or quarantined on or after a (UTC) date."""
    return [
        r
        for r in rows
        if (stage is None or r.stage == stage)
        and (since is None or (r.quarantined_at is not None and r.quarantined_at.date() >= since))
    ]


def select_rows(rows: Sequence[QuarantineRow], prefixes: Iterable[str]) -> list[QuarantineRow]:
    """The rows of the reports whose id starts with each prefix; one report per prefix.

    A report quarantined under several names (the same bytes) has one row per name: all of
    them are selected.
    """
    selected: dict[tuple[str, str, str], QuarantineRow] = {}
    for prefix in prefixes:
        wanted = prefix.strip().lower()
        ids = sorted({r.report_id for r in rows if r.report_id.startswith(wanted)})
        if not wanted or not ids:
            raise SelectionError(f"no quarantined item has an id starting with {prefix!r}")
        if len(ids) > 1:
            shown = ", ".join(i[:ID_SHOWN] for i in ids[:5])
            raise SelectionError(
                f"{prefix!r} matches {len(ids)} quarantined items ({shown}): give more characters"
            )
        selected.update((r.key, r) for r in rows if r.report_id == ids[0])
    return list(selected.values())


# --- Output ------------------------------------------------------------------------------------


def format_list(rows: Sequence[QuarantineRow], *, total: int | None = None) -> str:
    """One line per item: short id, stage, when, name, first reason."""
    if not rows:
        return "no quarantined items"
    header = f"{'id':<{ID_SHOWN}}  {'stage':<8}  {'quarantined (UTC)':<17}  source  reason"
    lines = [header]
    for r in rows:
        when = f"{r.quarantined_at:%Y-%m-%d %H:%M}" if r.quarantined_at else "-"
        reason = r.reasons[0] if r.reasons else "-"
        lines.append(
            f"{r.report_id[:ID_SHOWN]}  {r.stage:<8}  {when:<17}  {r.name}  {printable(reason)}"
        )
    shown = f"{len(rows)} of {total}" if total is not None and total > len(rows) else len(rows)
    lines.append(f"({shown} quarantined items; `reportlake quarantine show <id>` for details)")
    return "\n".join(lines)


def format_row(row: QuarantineRow) -> str:
    """Everything the lake knows about one quarantined item."""
    fields: list[tuple[str, object]] = [
        ("report_id", row.report_id),
        ("source_uri", printable(row.source_uri)),
        ("raw_uri", row.raw_uri or "- (no bytes were kept)"),
        ("stage", row.stage),
        (
            "quarantined_at",
            f"{row.quarantined_at:%Y-%m-%d %H:%M:%S} UTC" if row.quarantined_at else "-",
        ),
        ("publish_date", row.publish_date or "-"),
        ("source_id", row.source_id or "-"),
        ("title", row.title or "-"),
        ("broker", row.broker or "-"),
    ]
    lines = [f"{name + ':':<16}{value}" for name, value in fields]
    lines.append("reasons:")
    lines += [f"  - {printable(reason)}" for reason in row.reasons]
    if row.record:
        lines.append("record:")
        lines += [
            f"  {k}: {json.dumps(v, ensure_ascii=False, default=str)}"
            for k, v in row.record.items()
        ]
    return "\n".join(lines)


# --- Retry -------------------------------------------------------------------------------------


@dataclass
class RetryPlan:
    """How each selected row is retried: from the source, from raw/, or not at all."""

    listed: list[SourceItem] = field(default_factory=list)  # still at the source
    archived: dict[str, QuarantineRow] = field(default_factory=dict)  # raw path -> row
    retried: list[QuarantineRow] = field(default_factory=list)
    missing: list[tuple[QuarantineRow, str]] = field(default_factory=list)  # row, why not

    def items(self) -> list[SourceItem]:
        return self.listed + [_archived_item(path, row) for path, row in self.archived.items()]


@dataclass
class RetryOutcome:
    """What a retry did, per item (by source URI)."""

    retried: list[QuarantineRow]
    written: list[str]  # source URIs now in reports
    still: dict[str, list[str]]  # source URI -> the reasons of its fresh quarantine row
    missing: list[tuple[QuarantineRow, str]]  # not retried, and why
    removed: int  # old quarantine rows deleted

    def to_text(self) -> str:
        lines = [
            f"{len(self.retried)} retried, {len(self.written)} now written, "
            f"{len(self.still)} still quarantined, {len(self.missing)} not retried"
        ]
        lines += [f"  written: {printable(original_name(uri))}" for uri in self.written]
        for uri, reasons in self.still.items():
            lines.append(f"  still quarantined: {printable(original_name(uri))}")
            lines += [f"    - {printable(reason)}" for reason in reasons]
        lines += [
            f"  not retried: {row.name} ({row.report_id[:ID_SHOWN]}): {why}"
            for row, why in self.missing
        ]
        return "\n".join(lines)


def retry(settings: Settings, rows: Sequence[QuarantineRow]) -> RetryOutcome:
    """Ingest the items of ``rows`` again (see the module docstring) and tidy the quarantine."""
    lake = open_lake(settings)
    client = None if lake.is_local else open_s3_client(settings)
    with lake_lease(
        lake, s3_client=client, ttl_s=settings.lease_ttl_s, wait_s=settings.lease_wait_s
    ):
        known = open_known(settings)
        for row in rows:  # not to be skipped as already ingested
            known.discard(row.report_id, row.source_uri)
        with closing(open_source(settings)) as source:
            plan = plan_retry(source, lake, rows, _window(settings, rows))
            result = ingest_batch(
                _RetrySource(source, lake, plan.archived),
                plan.items(),
                lake,
                validator_for(settings.expectations_dir),
                known=known,
                security_master=load_security_master(settings.security_master),
                fetch_ahead=settings.http_concurrency,
            )
        # The source's state learns only its own keys, as after a run's batch.
        listed = {item.key for item in plan.listed}
        record_keys(lake, settings.source, [s for s in result.settled if s[0] in listed])
        removed = remove_rows(lake, stale_rows(plan.retried, result))
    return _outcome(plan, result, removed)


def plan_retry(
    source: Source, lake: Location, rows: Sequence[QuarantineRow], window: Window
) -> RetryPlan:
    """Find each row's item: listed by the source, else its archived original if it may help."""
    plan = RetryPlan()
    by_uri: dict[str, list[QuarantineRow]] = {}
    for row in rows:
        by_uri.setdefault(row.source_uri, []).append(row)
    for item in source.list_items(window):
        if item.uri in by_uri:
            plan.listed.append(item)
            plan.retried += by_uri.pop(item.uri)
    for same_uri in by_uri.values():
        row = same_uri[0]  # rows are newest first: the latest bytes seen under this URI
        why = _why_not_archived(lake, row)
        if why:
            plan.missing += [(r, why) for r in same_uri]
        else:
            plan.archived[_raw_path(lake, row.raw_uri or "")] = row
            plan.retried += same_uri
    return plan


def _why_not_archived(lake: Location, row: QuarantineRow) -> str | None:
    """Why a row the source no longer holds cannot be retried from raw/, or None."""
    if row.stage == "fetch":
        return "no longer at the source, where a fetch problem is fixed: nothing to retry"
    if not row.raw_uri:
        return "no longer at the source, and no original was archived"
    path = _raw_path(lake, row.raw_uri)
    if not path.startswith(lake.join("raw") + "/") or not exists(lake, path):
        return f"no longer at the source, and its archived original {row.raw_uri} is gone"
    return None


def stale_rows(retried: Iterable[QuarantineRow], result: BatchResult) -> list[QuarantineRow]:
    """Retried rows not replaced in place by a fresh row (same partition, id and source)."""
    fresh = {
        (lake_io.partition_value(q.publish_date), q.report_id, q.source_uri)
        for q in result.quarantined
    }
    return [r for r in retried if r.key not in fresh]


def remove_rows(lake: Location, rows: Iterable[QuarantineRow]) -> int:
    """Delete these rows from the quarantine table; returns how many were removed."""
    by_partition: dict[str, set[tuple[str, ...]]] = {}
    for row in rows:
        by_partition.setdefault(row.partition, set()).add((row.report_id, row.source_uri))
    return sum(
        lake_io.delete_rows(lake, TABLE, p, keys) for p, keys in sorted(by_partition.items())
    )


def _window(settings: Settings, rows: Sequence[QuarantineRow]) -> Window:
    """The dates to list a dated source for: the rows' publish dates when all are known."""
    dates = [r.publish_date for r in rows if r.publish_date is not None]
    if rows and len(dates) == len(rows):
        return resolve_window(settings, min(dates), max(dates))
    return resolve_window(settings)


def _raw_path(lake: Location, raw_uri: str) -> str:
    """The path of an archived original in the lake's filesystem, from its URI."""
    parsed = urlparse(raw_uri)
    if lake.is_local:
        return url2pathname(parsed.path) if parsed.scheme == "file" else raw_uri
    return raw_uri.removeprefix(f"{parsed.scheme}://")


def _archived_item(path: str, row: QuarantineRow) -> SourceItem:
    """An item read from raw/ but ingested under its original source URI and name."""
    name = original_name(row.source_uri)
    if posixpath.splitext(name)[1].lower() != posixpath.splitext(path)[1].lower():
        name = posixpath.basename(path)  # the archive keeps the original's suffix
    url = row.record.get("source_url")
    metadata = SourceMetadata(
        source_id=row.source_id, source_url=url if isinstance(url, str) else None
    )
    return SourceItem(uri=row.source_uri, name=name, key=path, metadata=metadata)


class _RetrySource:
    """The source, with archived originals served from the lake's raw/ folder."""

    def __init__(
        self, source: Source, lake: Location, archived: Mapping[str, QuarantineRow]
    ) -> None:
        self.name, self.remote = source.name, source.remote or not lake.is_local
        self._source, self._lake, self._archived = source, lake, archived

    def list_items(self, window: Window | None = None) -> Iterator[SourceItem]:
        return iter(())  # a retry's items are planned, not listed

    def fetch(self, item: SourceItem) -> FetchedItem:
        if item.key not in self._archived:
            return self._source.fetch(item)
        data = read_bytes(self._lake, item.key)
        return FetchedItem(item=item, data=data, metadata=item.metadata or SourceMetadata())

    def close(self) -> None:
        """The wrapped source is closed by its owner."""


def _outcome(plan: RetryPlan, result: BatchResult, removed: int) -> RetryOutcome:
    still: dict[str, list[str]] = {}
    for q in result.quarantined:
        still.setdefault(q.source_uri, []).extend(q.reasons)
    retried_uris = dict.fromkeys(r.source_uri for r in plan.retried)
    return RetryOutcome(
        retried=plan.retried,
        written=[uri for uri in retried_uris if uri not in still],
        still=still,
        missing=plan.missing,
        removed=removed,
    )
