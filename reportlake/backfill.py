"""Backfill a dated source chunk by chunk, resumably. Prefect-free: the caller runs each chunk.

A backfill cuts ``start..end`` into day or week chunks and runs each one as its own ingest run.
A chunk whose run completed is recorded under
``<lake>/_state/<source>/backfill/<since>_<until>.json`` (its numbers and flow run id), written
only after the run completed; a repeated backfill skips recorded chunks unless forced. The
record is bookkeeping for the command, not for exactly-once: the source's committed keys
already keep a rerun from writing anything twice.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypedDict

import pyarrow.fs as pafs

from reportlake.errors import ConfigurationError
from reportlake.sources import Window
from reportlake.storage import Location, read_bytes, write_bytes_atomic

Chunk = Literal["day", "week"]
Status = Literal["completed", "skipped", "failed"]
DEFAULT_DEPLOYMENT = "ingest-reports/eastmoney-hourly"


class BackfillRangeError(ConfigurationError):
    """The backfill's date range or chunk size makes no sense."""


def chunk_range(start: dt.date, end: dt.date, chunk: Chunk = "day") -> list[Window]:
    """Inclusive windows covering ``start..end``: single days, or Monday..Sunday weeks clipped."""
    if end < start:
        raise BackfillRangeError(
            f"backfill end {end} is before its start {start}: give --start <= --end"
        )
    if chunk not in ("day", "week"):
        raise BackfillRangeError(f"unknown chunk {chunk!r}: use day or week")
    windows: list[Window] = []
    since = start
    while since <= end:
        if chunk == "day":
            until = since
        else:
            until = min(since + dt.timedelta(days=6 - since.weekday()), end)
        windows.append(Window(since=since, until=until))
        since = until + dt.timedelta(days=1)
    return windows


def window_label(window: Window) -> str:
    """``2024-07-01..2024-07-07`` (one date for a one-day window)."""
    if window.since == window.until:
        return f"{window.since}"
    return f"{window.since}..{window.until}"


def flow_run_name(source: str, window: Window) -> str:
    """What a chunk's flow run is called in the Prefect UI."""
    return f"backfill {source} {window.since}..{window.until}"


class ChunkCounts(TypedDict):
    """The numbers a chunk's run reports; carried from a RunSummary to an outcome to a record."""

    read: int | None
    written: int | None
    quarantined: int | None
    already_done: int | None


def chunk_counts(summary: Any) -> ChunkCounts:
    """The chunk numbers of anything that has them (RunSummary, ChunkOutcome, ChunkRecord)."""
    return ChunkCounts(
        read=summary.read,
        written=summary.written,
        quarantined=summary.quarantined,
        already_done=summary.already_done,
    )


@dataclass
class ChunkOutcome:
    """What happened to one chunk; the numbers are None when the runner cannot know them."""

    window: Window
    status: Status
    read: int | None = None
    written: int | None = None
    quarantined: int | None = None
    already_done: int | None = None
    seconds: float = 0.0
    flow_run_id: str | None = None
    message: str = ""


@dataclass
class ChunkRecord:
    """The lake's record of a completed chunk."""

    source: str
    since: dt.date
    until: dt.date
    read: int | None = None
    written: int | None = None
    quarantined: int | None = None
    already_done: int | None = None
    seconds: float = 0.0
    flow_run_id: str | None = None
    finished_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    @property
    def window(self) -> Window:
        return Window(since=self.since, until=self.until)

    def to_json(self) -> bytes:
        body = asdict(self) | {"since": self.since.isoformat(), "until": self.until.isoformat()}
        return json.dumps(body, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ChunkRecord:
        body: dict[str, Any] = json.loads(data)
        body["since"] = dt.date.fromisoformat(body["since"])
        body["until"] = dt.date.fromisoformat(body["until"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in body.items() if k in known})


def _records_dir(lake: Location, source: str) -> str:
    return lake.join("_state", source, "backfill")


def chunk_record_path(lake: Location, source: str, window: Window) -> str:
    return posixpath.join(_records_dir(lake, source), f"{window.since}_{window.until}.json")


def completed_chunks(lake: Location, source: str) -> dict[Window, ChunkRecord]:
    """Every chunk of ``source`` recorded as completed in this lake, by window."""
    selector = pafs.FileSelector(_records_dir(lake, source), allow_not_found=True)
    records: dict[Window, ChunkRecord] = {}
    for info in lake.fs.get_file_info(selector):
        # Temporary files of an atomic write start with a dot: never a record.
        if info.type != pafs.FileType.File or not info.base_name.endswith(".json"):
            continue
        if info.base_name.startswith("."):
            continue
        record = ChunkRecord.from_json(read_bytes(lake, info.path))
        records[record.window] = record
    return records


def mark_chunk_done(lake: Location, source: str, outcome: ChunkOutcome) -> ChunkRecord:
    """Record a completed chunk; call only after its run completed."""
    if outcome.status != "completed":
        raise ValueError(f"chunk {window_label(outcome.window)} is {outcome.status}, not done")
    assert outcome.window.since is not None and outcome.window.until is not None
    record = ChunkRecord(
        source=source,
        since=outcome.window.since,
        until=outcome.window.until,
        **chunk_counts(outcome),
        seconds=round(outcome.seconds, 3),
        flow_run_id=outcome.flow_run_id,
    )
    write_bytes_atomic(lake, chunk_record_path(lake, source, outcome.window), record.to_json())
    return record


def run_backfill(
    lake: Location,
    source: str,
    windows: Iterable[Window],
    run_chunk: Callable[[Window], ChunkOutcome],
    *,
    force: bool = False,
    on_chunk: Callable[[ChunkOutcome], None] | None = None,
) -> list[ChunkOutcome]:
    """Run every chunk not yet done, one after another; returns one outcome per chunk.

    A failed chunk (an outcome that is not completed, or an exception from ``run_chunk``) is
    reported and not recorded; the remaining chunks still run, since each covers its own
    dates. Only completed chunks are recorded, so the next backfill retries exactly the rest.
    """
    done = {} if force else completed_chunks(lake, source)
    outcomes: list[ChunkOutcome] = []
    for window in windows:
        if window in done:
            record = done[window]
            outcome = ChunkOutcome(
                window,
                "skipped",
                **chunk_counts(record),
                flow_run_id=record.flow_run_id,
                message=f"completed {record.finished_at}",
            )
        else:
            start = time.perf_counter()
            try:
                outcome = run_chunk(window)
            except Exception as exc:  # noqa: BLE001 - one chunk's failure must not stop the rest
                outcome = ChunkOutcome(window, "failed", message=f"{type(exc).__name__}: {exc}")
            if not outcome.seconds:
                outcome.seconds = time.perf_counter() - start
            if outcome.status == "completed":
                mark_chunk_done(lake, source, outcome)
        outcomes.append(outcome)
        if on_chunk is not None:
            on_chunk(outcome)
    return outcomes


def deployment_lake(lake: Location) -> str:
    """The lake as a worker elsewhere must see it: an absolute path, or the URI as given."""
    return lake.root if lake.is_local else lake.uri


def deployment_parameters(source: str, lake: str, window: Window) -> dict[str, str]:
    """The ingest deployment's parameters for one chunk (dates as ISO strings, JSON-ready)."""
    return {
        "source": source,
        "since": f"{window.since}",
        "until": f"{window.until}",
        "lake": lake,
    }


def idempotency_key(source: str, lake: str, window: Window, *, after_run: str | None = None) -> str:
    """One key per chunk, so repeating a backfill never starts a second run of it.

    ``after_run`` names an earlier run of the chunk that must not be reused (it failed, or
    ``--force`` asks for a new run): the key then says which run the new one follows, so
    repeating that retry is just as idempotent.
    """
    key = f"backfill:{source}:{lake}:{window.since}:{window.until}"
    return f"{key}:after:{after_run}" if after_run else key


def format_number(value: int | None) -> str:
    return "-" if value is None else str(value)
