"""The ``ingest-reports`` flow: list what is new, ingest it batch by batch, publish a summary."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, Literal

from prefect import Flow, flow
from prefect.client.schemas.objects import FlowRun, State
from prefect.futures import PrefectFuture, PrefectWrappedFuture
from prefect.logging.loggers import flow_run_logger
from prefect.runtime import deployment, flow_run
from prefect.utilities.annotations import quote

from reportlake.pipeline import BatchResult, ExtractedBatch, timed
from reportlake.runs import (
    SHANGHAI,
    Plan,
    RunSummary,
    describe_run,
    extraction_chunks,
    extraction_slots,
    extractor_count,
    open_known,
    prepare_quality_docs,
    resolve_window,
    scheduled_day,
    start_quality_run,
    worker_settings,
)
from reportlake.settings import Settings
from reportlake.sources import SourceItem
from reportlake.startup import freeze_start_up
from tasks.heartbeats import flow_run_heartbeats, sent_by_flow_body
from tasks.ingest import (
    commit_batch,
    extract_batch,
    extractors,
    finish_run,
    list_batches,
    publish_summary,
    quality_run_key,
)
from tasks.lease import lake_guard

# Chunks in flight per worker: one running and one queued, which outlasts anything this process
# does between two looks (a chunk of its own, a commit) and leaves little at the end for it to
# wait on.
AHEAD = 2


def window_today(
    until: dt.date | None, scheduled_at: dt.datetime | None, from_deployment: bool
) -> dt.date | None:
    """The day a run lists up to when no ``until`` is given: a deployment run's scheduled day.

    So a late or retried scheduled run processes the window it was scheduled for; other runs
    (CLI, tests, backfill chunks with explicit windows) keep "today in Beijing".
    """
    if until is not None or scheduled_at is None or not from_deployment:
        return None
    return scheduled_day(scheduled_at)


def name_run() -> str:
    """``flow_run_name`` of the flow: the source and the window or scheduled time it covers."""
    params = flow_run.parameters
    source = params.get("source") or Settings.load().source
    at = flow_run.scheduled_start_time or dt.datetime.now(SHANGHAI)
    return describe_run(source, params.get("since"), params.get("until"), at=at)


def _scheduled_today(until: dt.date | None) -> dt.date | None:
    if until is not None:
        return None  # no need to ask the API about the deployment
    return window_today(until, flow_run.scheduled_start_time, deployment.id is not None)


def log_failure(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """``on_failure`` hook: say loudly, in the run's log, why it failed and what to do."""
    # Parameter names are Prefect's hook protocol; ``flow_run`` shadows the runtime module here.
    flow_run_logger(flow_run, flow).error(
        "run %r failed: %s\nCommitted batches stay in the lake and are skipped next time: fix the "
        "cause above, then run again (or retry the run from the UI).",
        flow_run.name,
        state.message or "no message; see the traceback above",
    )


@flow(
    name="ingest-reports",
    flow_run_name=name_run,
    log_prints=False,
    persist_result=False,
    on_failure=[log_failure],
)
def ingest_reports(
    source: Literal["inbox", "s3", "eastmoney"] | None = None,
    inbox: str | None = None,
    landing: str | None = None,
    lake: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
    dask_address: str | None = None,
) -> RunSummary:
    """Ingest what is new at the source into the lake (defaults from REPORTLAKE_* settings).

    Without ``since``, a dated source is listed from its stored cursor minus the lookback; without
    ``until``, up to today in Beijing, or for a deployment run up to its scheduled day. Batches
    are extracted by ``workers`` local processes, or on the Dask cluster at ``dask_address``.
    """
    start = time.perf_counter()
    freeze_start_up()  # start-up, if the command paused collection for it: out of the way
    settings = Settings.load(
        source=source,
        inbox=inbox,
        landing=landing,
        lake=lake,
        batch_size=batch_size,
        workers=workers,
        dask_address=dask_address,
    )
    with flow_run_heartbeats():
        with lake_guard(settings):
            window = resolve_window(settings, since, until, today=_scheduled_today(until))
            timings: dict[str, float] = {}
            with timed(timings, "list"):
                plan = list_batches(settings, window)
            results = ingest_batches(settings, plan, timings)
            # quote(): Prefect need not scan every item and result for futures to resolve.
            finish_run(settings, plan.window, quote(results))  # type: ignore[call-overload]
        timings["run"] = time.perf_counter() - start
        summary: RunSummary = publish_summary(settings, quote(plan), quote(results), timings)  # type: ignore[call-overload]
        return summary


def ingest_in_process(**parameters: Any) -> RunSummary:
    """Run ``ingest-reports`` in this process (the CLI), its heartbeats sent by the flow body:
    the run ends as soon as its work does (see ``tasks.heartbeats``)."""
    with sent_by_flow_body():
        summary: RunSummary = ingest_reports(**parameters)
    return summary


def ingest_batches(settings: Settings, plan: Plan, timings: dict[str, float]) -> list[BatchResult]:
    """Extract the batches side by side; commit them one by one, in order.

    Commits are sequential: each merges its partitions into the lake and sees the reports of
    the batches before it, so duplicates across batches are caught. ``timings`` gets the
    seconds this process waited for workers and extracted itself (a first commit that waits for
    the validator to load counts in its ``validate`` seconds).
    """
    if not plan.batches:
        return []  # nothing new: Great Expectations is not even loaded
    known = open_known(settings)
    results: list[BatchResult] = []
    with timed(timings, "quality_setup"):
        # Returns at once: the validator loads in a process of its own while the batches are
        # extracted, and the first commit waits only for what is left of that.
        start_quality_run(settings)
    last = len(plan.batches) - 1
    for number, batch in enumerate(extracted_batches(settings, plan.batches, timings)):
        if number == last:
            prepare_quality_docs(settings, quality_run_key())
        # quote(): Prefect need not scan the batch's reports for futures to resolve.
        committed = commit_batch(settings, quote(batch), quote(known))  # type: ignore[call-overload]
        results.append(committed)
    return results


def extracted_batches(
    settings: Settings,
    batches: list[list[SourceItem]],
    timings: dict[str, float],
) -> Iterator[ExtractedBatch]:
    """The batches, extracted, in order, each as soon as all its chunks are back.

    Chunks go to the workers ``AHEAD`` per worker, so a worker never waits for this process to
    collect a result. Whenever this process would otherwise wait, it extracts the next chunk
    itself (not with a Dask cluster, whose workers may be many). The workers are shut down as
    soon as the last chunk is back: they exit while the last batches commit.
    """
    helps = not settings.dask_address
    chunks = extraction_chunks(batches, extractor_count(settings))
    slots = extraction_slots(settings, len(chunks))
    shared = worker_settings(settings, slots + helps)  # the extractors share the HTTP rate
    todo = deque(range(len(chunks)))
    of_batch: dict[int, list[int]] = {}  # the chunks of each batch
    for i, (number, _) in enumerate(chunks):
        of_batch.setdefault(number, []).append(i)
    pending: dict[int, PrefectFuture[ExtractedBatch]] = {}
    extracted: dict[int, ExtractedBatch] = {}
    stopping: list[threading.Thread] = []  # the workers' shut-down, joined at the end
    try:
        with ExitStack() as stack:
            workers = stack.enter_context(extractors(settings, slots, AHEAD * slots, stopping))

            def submit() -> None:
                # Chunks back but not collected yet keep no worker busy: they do not count.
                busy = sum(not _is_done(future) for future in pending.values())
                while workers is not None and todo and busy < AHEAD * slots:
                    busy += 1
                    i = todo.popleft()
                    pending[i] = workers.submit(shared, chunks[i][1])

            submit()
            for needed in of_batch.values():
                while missing := [i for i in needed if i not in extracted]:
                    submit()
                    back = [i for i, future in pending.items() if _is_done(future)]
                    for i in back:
                        extracted[i] = pending.pop(i).result()
                    if back:
                        continue
                    if todo and (helps or workers is None):
                        i = todo.popleft()
                        extracted[i] = extract_batch(shared, quote(chunks[i][1]))  # type: ignore[call-overload]
                        timings["flow_extract"] = (
                            timings.get("flow_extract", 0.0) + extracted[i].wall_s
                        )
                    else:
                        with timed(timings, "wait"):
                            extracted[missing[0]] = pending.pop(missing[0]).result()
                if not todo and not pending:
                    stack.close()  # the workers exit while the last batches commit
                submit()  # topped up before the commit, which keeps this process busy
                yield ExtractedBatch.join(extracted.pop(i) for i in needed)
    finally:
        for thread in stopping:
            thread.join()


def _is_done(future: PrefectFuture[ExtractedBatch]) -> bool:
    """Whether a submitted chunk is back, without blocking or asking the API."""
    return isinstance(future, PrefectWrappedFuture) and future.wrapped_future.done()


if __name__ == "__main__":
    ingest_reports()
