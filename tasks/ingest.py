"""Tasks of the ingest flow: one domain call each, with retries on I/O and the run's artifacts."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol

from prefect import task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NONE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State, TaskRun
from prefect.futures import PrefectFuture
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.tasks import Task
from prefect.utilities.annotations import quote

from reportlake.errors import ReportlakeError, TransientError
from reportlake.pipeline import BatchResult, ExtractedBatch, KnownReports
from reportlake.runs import (
    Plan,
    RunSummary,
    build_quality_docs,
    commit,
    describe_source,
    extract,
    extract_in_worker,
    plan_batches,
    read_spooled,
)
from reportlake.runs import finish_run as advance_cursor
from reportlake.settings import Settings
from reportlake.sources import SourceItem, Window
from reportlake.startup import WorkerSetup, process_start
from reportlake.workers import take_forked


def quality_run_key() -> str:
    """The directory of a run's Data Docs: the flow run id, or a UTC timestamp outside Prefect."""
    run_id = flow_run.get_id()
    return run_id or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def retry_on_io(task: Task[..., object], task_run: TaskRun, state: State[object]) -> bool:
    """Retry transient faults (network, object store); bad input and defects fail at once."""
    try:
        state.result()
    except (TransientError, OSError, TimeoutError):
        return True
    except Exception:  # noqa: BLE001 - anything else is not worth a retry
        return False
    return False


# I/O tasks retry transient faults; results are references and small summaries, never persisted.
IO_TASK: dict[str, Any] = {
    "retries": 3,
    "retry_condition_fn": retry_on_io,
    "cache_policy": NONE,
    "persist_result": False,
}


@task(name="list-source", retry_delay_seconds=[1, 5, 20], **IO_TASK)
def list_batches(settings: Settings, window: Window) -> Plan:
    """List the source and cut what is new into batches of references (no report bytes)."""
    plan = plan_batches(settings, window)
    get_run_logger().info(
        "%s: %d new items in %d batches, %d committed by earlier runs",
        describe_source(settings),
        sum(len(b) for b in plan.batches),
        len(plan.batches),
        plan.already_done,
    )
    return plan


# A chunk's task run, in the flow's process, on Dask or handing the chunk to a worker process.
EXTRACT_TASK: dict[str, Any] = {
    "name": "extract-batch",
    "retry_delay_seconds": [2, 10, 30],
    **IO_TASK,
}


@task(**EXTRACT_TASK)
def extract_batch(settings: Settings, items: Sequence[SourceItem]) -> ExtractedBatch:
    """Fetch, extract, parse and archive a chunk of a batch, in the flow's process or on Dask."""
    return _logged(extract(settings, items))


def _logged(batch: ExtractedBatch) -> ExtractedBatch:
    get_run_logger().info(
        "extracted %d items (%s)",
        len(batch.outcomes),
        ", ".join(f"{stage} {s:.2f}s" for stage, s in sorted(batch.seconds.items())),
    )
    return batch


@task(name="commit-batch", retry_delay_seconds=[2, 10, 30], **IO_TASK)
def commit_batch(settings: Settings, batch: ExtractedBatch, known: KnownReports) -> BatchResult:
    """Validate and write one batch, then record it in the state; safe to retry."""
    result = commit(settings, batch, known)
    get_run_logger().info(
        "batch of %d: %d written, %d already in lake, %d quarantined (validate %.2fs, write %.2fs)",
        result.read,
        result.written,
        result.skipped,
        len(result.quarantined),
        result.seconds["validate"],
        result.seconds["write"],
    )
    return result


class Extractors(Protocol):
    """Where chunks are extracted beside the flow's process: each an ``extract-batch`` run."""

    def submit(
        self, settings: Settings, items: Sequence[SourceItem]
    ) -> PrefectFuture[ExtractedBatch]: ...


class WorkerProcesses:
    """Local worker processes extracting chunks, each chunk an ``extract-batch`` task run.

    What Prefect's ProcessPoolTaskRunner does for this one task, at a third of its cost per
    worker: a chunk's task run (states, logs, retries) is run by a thread of the flow's process,
    which hands only the domain's work (``reportlake.runs.extract``) to a worker process. A
    worker then imports neither Prefect nor its task engine: it starts in ~0.4 s of CPU instead
    of ~1.2 s, on machines where every core is busy extracting.
    """

    def __init__(self, slots: int, in_flight: int, api_url: str) -> None:
        # Those the command forked before the run started (see reportlake.workers), or spawned,
        # as Prefect's are: the flow's process now has threads, which a fork does not copy.
        self.pool = take_forked(slots) or ProcessPoolExecutor(
            max_workers=slots,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=process_start,  # collector paused until the first chunk freezes imports
        )
        # A worker talks to Prefect only to read a credentials block: through this run's API.
        setup = WorkerSetup({"PREFECT_API_URL": api_url}, _log_levels())
        # A thread per chunk in flight, each waiting on its worker process.
        self._threads: ThreadPoolTaskRunner[ExtractedBatch] = ThreadPoolTaskRunner(
            max_workers=in_flight
        )
        # Where the workers leave their chunks' batches (see extract_in_worker).
        self._spool = tempfile.TemporaryDirectory(prefix="reportlake-chunks-")
        self.spool = spool = Path(self._spool.name)
        pool = self.pool

        @task(**EXTRACT_TASK)
        def extract_batch_in_worker(
            settings: Settings, items: Sequence[SourceItem]
        ) -> ExtractedBatch:
            """Fetch, extract, parse and archive a chunk of a batch in a worker process."""
            try:
                spooled, records = pool.submit(
                    extract_in_worker, settings, items, spool, setup
                ).result()
            except BrokenProcessPool as exc:
                raise ReportlakeError(
                    "a worker process died while extracting (killed, e.g. out of memory, or "
                    "crashed in a PDF library): the batches committed so far stay in the lake; "
                    "rerun, with --workers 0 to see which report brings a process down"
                ) from exc
            batch = read_spooled(spooled)
            for record in records:  # into this task run's logs, as if logged here
                logging.getLogger(record.name).handle(record)
            return _logged(batch)

        self._task = extract_batch_in_worker

    def submit(
        self, settings: Settings, items: Sequence[SourceItem]
    ) -> PrefectFuture[ExtractedBatch]:
        # quote(): Prefect need not scan the chunk's items for futures to resolve.
        return self._threads.submit(self._task, {"settings": settings, "items": quote(items)})

    def __enter__(self) -> WorkerProcesses:
        self._threads.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # After an error, chunks not started yet are dropped: their threads then end at once.
        self.pool.shutdown(wait=False, cancel_futures=exc_info[0] is not None)
        self._threads.__exit__(*exc_info)
        self.pool.shutdown(wait=True)
        self._spool.cleanup()  # what a failed run's workers left


def _log_levels() -> dict[str, int]:
    """The levels set on this process's loggers (root as ""): Prefect's logging settings."""
    levels = {"": logging.root.level}
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            levels[name] = logger.level
    return levels


class DaskWorkers:
    """Chunks extracted on a Dask cluster, as ``extract-batch`` task runs of its workers."""

    def __init__(self, address: str) -> None:
        from prefect_dask.task_runners import DaskTaskRunner

        self.runner: TaskRunner[Any] = DaskTaskRunner(address=address)

    def submit(
        self, settings: Settings, items: Sequence[SourceItem]
    ) -> PrefectFuture[ExtractedBatch]:
        # Not quote()d: a Dask scheduler unpacks the annotation (a named tuple).
        future: PrefectFuture[ExtractedBatch] = self.runner.submit(
            extract_batch, {"settings": settings, "items": items}
        )
        return future

    def __enter__(self) -> DaskWorkers:
        self.runner.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.runner.__exit__(*exc_info)


@contextmanager
def extractors(
    settings: Settings,
    slots: int,
    in_flight: int,
    stopping: list[threading.Thread] | None = None,
) -> Iterator[Extractors | None]:
    """Where chunks are extracted beside the flow's process, ``slots`` at once (see
    ``extraction_slots``), up to ``in_flight`` submitted: on a Dask cluster if one is named,
    else in local worker processes; None with 0 slots (the flow's process extracts everything).

    Dask workers report their task runs to this run's API: a run on a temporary (ephemeral)
    server passes that server's address on, or each would start a server of its own. With
    ``stopping``, extractors left without an error are shut down by a thread added to that
    list, for the caller to join later: worker processes take ~0.3 s to exit, which the flow
    need not wait for before its last commits.
    """
    if not settings.dask_address and slots == 0:
        yield None
        return
    with get_client(sync_client=True) as client:
        api_url = str(client.api_url).rstrip("/")
    with temporary_settings({PREFECT_API_URL: api_url}), ExitStack() as stack:
        found: WorkerProcesses | DaskWorkers = (
            DaskWorkers(settings.dask_address)
            if settings.dask_address
            else WorkerProcesses(slots, in_flight, api_url)
        )
        stack.enter_context(found)
        yield found
        if stopping is not None:  # left without an error: shut down beside the caller
            shut_down = stack.pop_all()
            thread = threading.Thread(target=shut_down.close, name="stop-extractors")
            thread.start()
            stopping.append(thread)


@task(name="finish-run", retry_delay_seconds=[1, 5, 20], **IO_TASK)
def finish_run(settings: Settings, window: Window, results: Sequence[BatchResult]) -> None:
    """Advance the source's listing cursor, now that every batch is committed."""
    advance_cursor(settings, window, results)


@task(name="publish-summary", cache_policy=NONE, persist_result=False)
def publish_summary(
    settings: Settings,
    plan: Plan,
    results: Sequence[BatchResult],
    timings: Mapping[str, float] | None = None,
) -> RunSummary:
    """Sum the batches, build the run's Data Docs and publish the run's artifacts.

    The data is committed before this runs, so a failure to build the Data Docs is logged as a
    warning and the summary is still published.
    """
    summary = RunSummary.from_batches(settings, plan, results, timings)
    run_key = quality_run_key()
    try:
        docs = build_quality_docs(settings, run_key, summary.validated)
    except Exception:  # noqa: BLE001 - docs are a report on committed data, not the data
        get_run_logger().warning(
            "could not build the quality report (Data Docs) for run %s; the data is committed, "
            "the summary has no quality link",
            run_key,
            exc_info=True,
        )
    else:
        if docs is None:
            get_run_logger().info("nothing was validated: no quality report for this run")
        else:
            summary.quality_report = docs
            create_link_artifact(
                key="quality-report",
                link=docs,
                link_text="Great Expectations Data Docs",
                description="Validation results of this run (Great Expectations Data Docs)",
            )
            get_run_logger().info("quality report: %s", docs)
    create_markdown_artifact(
        key="ingest-summary", markdown=summary.to_markdown(), description="ingest-reports run"
    )
    create_table_artifact(
        key="quarantined-reports",
        table=summary.quarantine_rows or [{"source_uri": "", "stage": "", "reasons": "none"}],
        description="Reports quarantined by this run, with the checks they failed",
    )
    return summary
