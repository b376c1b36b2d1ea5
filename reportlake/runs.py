"""Build a run's parts from settings, and summarise what a run did. Prefect-free."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import pickle
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reportlake import lake as lake_io
from reportlake.errors import ConfigurationError
from reportlake.pipeline import (
    BatchResult,
    ExtractedBatch,
    KnownReports,
    commit_batch,
    extract_batch,
    load_security_master,
)
from reportlake.quality_process import validator_for
from reportlake.settings import Settings
from reportlake.sources import Source, SourceItem, Window
from reportlake.sources.inbox import InboxSource
from reportlake.sources.s3 import S3LandingSource
from reportlake.startup import WorkerSetup, freeze_start_up
from reportlake.state import load_cursor, load_known, load_state, record_keys, save_cursor
from reportlake.storage import Location, resolve_location, s3_client

SHANGHAI = ZoneInfo("Asia/Shanghai")


def open_location(settings: Settings, uri: str) -> Location:
    """A lake or inbox URI on the configured object store, with the configured credentials."""
    return resolve_location(
        uri,
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_region=settings.s3_region,
        credentials_block=settings.s3_credentials_block,
    )


def open_lake(settings: Settings) -> Location:
    return open_location(settings, settings.lake)


def open_s3_client(settings: Settings) -> Any:
    return s3_client(
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        credentials_block=settings.s3_credentials_block,
    )


def open_source(settings: Settings) -> Source:
    """The source named by ``settings.source``."""
    max_bytes = int(settings.max_file_mb * 2**20)
    if settings.source == "inbox":
        return InboxSource(open_location(settings, settings.inbox), max_bytes=max_bytes)
    if settings.source == "s3":
        if not settings.landing:
            raise ConfigurationError(
                "source s3 needs the landing prefix: set REPORTLAKE_LANDING=s3://bucket/prefix"
            )
        return S3LandingSource(settings.landing, open_s3_client(settings), max_bytes=max_bytes)
    from reportlake.sources.eastmoney import EastmoneySource

    return EastmoneySource(settings)


def resolve_window(
    settings: Settings,
    since: dt.date | None = None,
    until: dt.date | None = None,
    *,
    today: dt.date | None = None,
) -> Window:
    """The run's publish-date window: as given, else from the stored cursor minus the lookback."""
    if settings.source != "eastmoney":
        return Window(since=since, until=until)  # undated sources list everything they hold
    if since is None:
        cursor = load_cursor(open_lake(settings), settings.source)
        if cursor is not None:
            since = cursor - dt.timedelta(days=settings.lookback_days)
    # A listing is dated in Beijing time; the cursor moves to the end of what was listed.
    until = until or today or dt.datetime.now(SHANGHAI).date()
    return Window(since=since, until=until)


def scheduled_day(scheduled_at: dt.datetime) -> dt.date:
    """The Beijing date a scheduled run covers up to: its scheduled start, not when it started."""
    if scheduled_at.tzinfo is None:
        raise ValueError(f"scheduled time {scheduled_at} has no time zone")
    return scheduled_at.astimezone(SHANGHAI).date()


def describe_run(
    source: str,
    since: dt.date | str | None = None,
    until: dt.date | str | None = None,
    *,
    at: dt.datetime,
) -> str:
    """A run's name: its source and what it covers (``eastmoney 2024-12-30 09:00``).

    An explicit window names the window; otherwise the (scheduled) start time, in Beijing time.
    """
    if since or until:
        return f"{source} {since or ''}..{until or ''}"
    when = at.astimezone(SHANGHAI) if at.tzinfo else at
    return f"{source} {when:%Y-%m-%d %H:%M}"


@cache
def _security_master(path: Path | None) -> dict[str, str] | None:
    return load_security_master(path)


@dataclass
class Plan:
    """What a run will do: batches of new item references, and how many were done before."""

    batches: list[list[SourceItem]]
    already_done: int
    window: Window


def plan_batches(settings: Settings, window: Window | None = None) -> Plan:
    """List the source, drop what the state says is committed, cut the rest into batches."""
    window = window or Window()
    state = load_state(open_lake(settings), settings.source)
    items: list[SourceItem] = []
    done = 0
    with closing(open_source(settings)) as source:
        for item in source.list_items(window):
            if state.is_done(item.key, item.version):
                done += 1
            else:
                items.append(item)
    size = settings.batch_size
    return Plan([items[i : i + size] for i in range(0, len(items), size)], done, window)


def open_known(settings: Settings) -> KnownReports:
    """What the lake holds, by report_id: from the state's key index, read once per run."""
    lake = open_lake(settings)
    known = load_known(lake)
    if known is None:  # a lake written before the index recorded source URIs
        known = lake_io.known_sources(lake)
    return KnownReports(known)


EXTRACT_CHUNK = 100  # reports per extraction task: a fraction of a second to a few seconds
MIN_EXTRACT_CHUNK = 10  # the last chunks of a run: smaller still costs more task runs than it saves


def extraction_chunks(
    batches: Sequence[Sequence[SourceItem]], extractors: int = 1
) -> list[tuple[int, list[SourceItem]]]:
    """The batches cut into extraction tasks: (number of the batch, up to EXTRACT_CHUNK items).

    A batch is the unit of a commit (one validation, one set of Parquet files); extraction
    goes in smaller pieces so that every worker is kept busy up to the end of the run. With
    several ``extractors``, chunks shrink toward the end of the run (to a share of what is left,
    down to MIN_EXTRACT_CHUNK): the extractors then finish nearly together, instead of one
    waiting most of a full chunk for another.
    """
    remaining = sum(map(len, batches))
    shrink = extractors > 1 and remaining > EXTRACT_CHUNK  # one chunk is extracted in place
    chunks: list[tuple[int, list[SourceItem]]] = []
    for number, batch in enumerate(batches):
        start = 0
        while start < len(batch):
            size = EXTRACT_CHUNK
            if shrink:
                size = max(MIN_EXTRACT_CHUNK, min(size, remaining // (2 * extractors)))
            if len(batch) - start - size < MIN_EXTRACT_CHUNK:
                size = len(batch) - start  # no chunk of a few items left over: a task run each
            chunk = list(batch[start : start + size])
            chunks.append((number, chunk))
            start += len(chunk)
            remaining -= len(chunk)
    return chunks


def extractor_count(settings: Settings) -> int:
    """How many extract a run's chunks at once: the workers (or cluster tasks) and, on this
    machine, the flow's own process, which extracts whenever it would wait; 1 with ``workers`` 0.
    """
    if settings.dask_address:
        return settings.parallelism
    return 1 if settings.workers == 0 else settings.parallelism + 1


def local_workers(settings: Settings) -> int:
    """How many local worker processes a run extracts with at most: none on a Dask cluster or
    with ``workers`` 0."""
    return 0 if settings.dask_address or settings.workers == 0 else settings.parallelism


def extraction_slots(settings: Settings, chunks: int) -> int:
    """How many worker processes (or cluster tasks) extract a run's ``chunks`` at once.

    0 (everything in the flow's own process) with ``workers`` 0 or a single chunk: starting a
    worker costs seconds, more than it saves on one chunk. A Dask cluster always gets them.
    """
    if settings.dask_address:
        return settings.parallelism
    return min(local_workers(settings), max(0, chunks - 1))


def worker_settings(settings: Settings, slots: int) -> Settings:
    """Settings for one of ``slots`` batches extracted at once: they share the HTTP rate."""
    share = settings.http_rate_per_s / max(1, slots)
    return settings.model_copy(update={"http_rate_per_s": share})


def extract(settings: Settings, items: Sequence[SourceItem]) -> ExtractedBatch:
    """Fetch, extract, parse and archive a chunk of a batch."""
    with closing(open_source(settings)) as source:
        return extract_batch(
            source,
            items,
            open_lake(settings),
            security_master=_security_master(settings.security_master),
            fetch_ahead=settings.http_concurrency,
        )


def extract_in_worker(
    settings: Settings, items: Sequence[SourceItem], spool: Path, setup: WorkerSetup
) -> tuple[Path, list[logging.LogRecord]]:
    """``extract`` in a worker process set up as ``setup`` says, with the log records it emitted
    meanwhile: the caller emits them where its own logs go (a worker process sends its logs
    nowhere).

    The batch is handed back as a file in the directory ``spool`` (read by ``read_spooled``),
    not through the process pool's pipe. A chunk's batch is megabytes (~5 MB for 100 reports),
    which a pipe carries 64 KiB at a time, each piece read by a thread of the caller's process
    that must first get the GIL from that process's own extraction: the worker, blocked on the
    pipe meanwhile, lost ~1 s of a 1,000-report run (measured). A file is read in one call.
    """
    freeze_start_up()  # the worker's first chunk: its imports are done
    setup.apply()
    records: list[logging.LogRecord] = []
    collector = _Collector(records)
    logging.root.addHandler(collector)
    try:
        batch = extract(settings, items)
    finally:
        logging.root.removeHandler(collector)
    with tempfile.NamedTemporaryFile(dir=spool, suffix=".pickle", delete=False) as file:
        pickle.dump(batch, file, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(file.name), records


def read_spooled(path: Path) -> ExtractedBatch:
    """The batch ``extract_in_worker`` left at ``path``; the file is removed."""
    try:
        batch: ExtractedBatch = pickle.loads(path.read_bytes())
    finally:
        path.unlink(missing_ok=True)
    return batch


class _Collector(logging.Handler):
    """Keeps copies of records that pickle: message and traceback rendered, standard fields
    only (an ``extra`` may hold anything: an HTTP library's stream, a lock)."""

    _FIELDS = (
        "name", "levelno", "levelname", "pathname", "filename", "module", "lineno", "funcName",
        "created", "msecs", "relativeCreated", "thread", "threadName", "processName", "process",
        "stack_info", "exc_text",
    )  # fmt: skip

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {name: getattr(record, name, None) for name in self._FIELDS}
            fields.update(msg=record.getMessage(), args=None)
            if record.exc_info:
                fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
            self.records.append(logging.makeLogRecord(fields))
        except Exception:  # noqa: BLE001 - logging's rule: a bad record never breaks the caller
            self.handleError(record)


def commit(settings: Settings, batch: ExtractedBatch, known: KnownReports) -> BatchResult:
    """Validate and write one extracted batch, then record its keys."""
    lake = open_lake(settings)
    start = time.perf_counter()
    result = commit_batch(batch, lake, validator_for(settings.expectations_dir), known)
    # State follows the data: only what this batch committed, only after it committed.
    record_keys(lake, settings.source, result.settled)
    result.seconds["commit"] += time.perf_counter() - start
    return result


def run_batch(
    settings: Settings, items: Sequence[SourceItem], known: KnownReports | None = None
) -> BatchResult:
    """Extract and commit one batch in this process."""
    return commit(settings, extract(settings, items), known or open_known(settings))


def start_quality_run(settings: Settings) -> None:
    """Start a run's quality record: the validator (started now if need be, loading while the run
    goes on) forgets earlier runs' results. Returns at once."""
    validator_for(settings.expectations_dir).reset_results()


def prepare_quality_docs(settings: Settings, run_key: str) -> None:
    """Before a run's last commit: its Data Docs are rendered as soon as that batch is validated,
    while the batch is written (see ``build_quality_docs``). Returns at once."""
    validator_for(settings.expectations_dir).prepare_data_docs(run_key)


def build_quality_docs(settings: Settings, run_key: str, validated: int) -> str | None:
    """Build the run's Great Expectations Data Docs in the lake; the URI of its index.html.

    None if the run ``validated`` nothing (nothing new): a run with nothing to do writes
    nothing, and does not even load Great Expectations.
    """
    if not validated:
        return None
    return validator_for(settings.expectations_dir).build_data_docs(open_lake(settings), run_key)


def finish_run(settings: Settings, window: Window, results: Sequence[BatchResult]) -> None:
    """Advance the listing cursor of a dated source once every batch has committed."""
    if settings.source != "eastmoney" or window.until is None:
        return
    save_cursor(open_lake(settings), settings.source, window.until)


def describe_source(settings: Settings) -> str:
    """The source as a user would name it, without credentials."""
    if settings.source == "inbox":
        return f"inbox {settings.inbox}"
    if settings.source == "s3":
        return f"s3 {settings.landing}"
    return f"eastmoney {settings.eastmoney_api_base}"


def overhead_seconds(seconds: Mapping[str, float]) -> float:
    """Seconds of a run's wall time spent on neither the data nor waiting for its workers.

    The flow's process lists the source, extracts chunks itself (the whole of each chunk's
    ``extract_batch``), waits for the workers' chunks and commits batches (the Arrow tables,
    the write and the state); the rest of its time is orchestration (Prefect's task runs, the
    lease, artifacts) and quality (Great Expectations: validating, Data Docs). Worker-side task
    overhead is inside the wait and so not counted: it overlaps with the commits.
    """
    data = seconds.get("list", 0.0) + seconds.get("wait", 0.0) + seconds.get("flow_extract", 0.0)
    data += seconds.get("commit", 0.0) - seconds.get("validate", 0.0)
    return max(0.0, seconds["run"] - data)


@dataclass
class RunSummary:
    """What a whole run did, for the CLI, the logs and the Prefect artifacts."""

    source: str
    lake: str
    window: str = ""
    already_done: int = 0  # committed by earlier runs, per the source's state: not fetched
    read: int = 0
    written: int = 0
    skipped: int = 0
    validated: int = 0
    quarantined: int = 0
    per_broker: dict[str, int] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    quarantine_rows: list[dict[str, str]] = field(default_factory=list)
    quality_report: str = ""  # URI of the run's Data Docs, once built

    @classmethod
    def from_batches(
        cls,
        settings: Settings,
        plan: Plan,
        results: Iterable[BatchResult],
        timings: Mapping[str, float] | None = None,
    ) -> RunSummary:
        """Sum the batches; ``timings`` are the flow's own (run, list, wait, quality_setup)."""
        total = BatchResult()
        for r in results:
            total.merge(r)
        seconds = {**total.seconds, **(timings or {})}
        if "run" in seconds:
            seconds["overhead"] = overhead_seconds(seconds)
        since, until = plan.window.since, plan.window.until
        return cls(
            source=describe_source(settings),
            lake=settings.lake,
            window=f"{since or '...'} .. {until or '...'}" if since or until else "",
            already_done=plan.already_done,
            read=total.read,
            written=total.written,
            skipped=total.skipped,
            validated=total.validated,
            quarantined=len(total.quarantined),
            per_broker=dict(total.per_broker.most_common()),
            rows_written=dict(total.rows_written),
            seconds={k: round(v, 3) for k, v in seconds.items()},
            quarantine_rows=[
                {
                    "source_uri": q.source_uri,
                    "stage": q.stage,
                    "reasons": "; ".join(q.reasons),
                    "report_id": q.report_id[:12],
                }
                for q in total.quarantined
            ],
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, indent=2)

    def to_markdown(self) -> str:
        lines = [
            "# ingest-reports",
            "",
            f"- source: `{self.source}`",
            f"- lake: `{self.lake}`",
            *([f"- window: {self.window}"] if self.window else []),
            *([f"- quality report: {self.quality_report}"] if self.quality_report else []),
            "",
            "| done before | read | written | already in lake | quarantined |",
            "|---:|---:|---:|---:|---:|",
            f"| {self.already_done} | {self.read} | {self.written} | {self.skipped} "
            f"| {self.quarantined} |",
            "",
            "## Written per broker",
            "",
            "| broker | reports |",
            "|---|---:|",
            *(f"| {b} | {n} |" for b, n in self.per_broker.items()),
        ]
        if self.quarantine_rows:
            lines += ["", "## Quarantined", "", "| source | stage | reasons |", "|---|---|---|"]
            lines += [
                f"| {q['source_uri'].rsplit('/', 1)[-1]} | {q['stage']} | {q['reasons']} |"
                for q in self.quarantine_rows
            ]
        if self.seconds:
            lines += ["", "## Seconds per stage", "", "| stage | s |", "|---|---:|"]
            lines += [f"| {k} | {v:.2f} |" for k, v in sorted(self.seconds.items())]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        lines = [
            f"source: {self.source}" + (f"   window: {self.window}" if self.window else ""),
            f"reports read: {self.read}   written: {self.written}   "
            f"already in lake: {self.skipped}   quarantined: {self.quarantined}   "
            f"done by earlier runs: {self.already_done}",
            "written per broker:",
            *(f"  {b}: {n}" for b, n in self.per_broker.items()),
        ]
        if self.quarantine_rows:
            lines.append("quarantined:")
            lines += [
                f"  {q['source_uri'].rsplit('/', 1)[-1]} [{q['stage']}] {q['reasons']}"
                for q in self.quarantine_rows
            ]
        return "\n".join(lines)
