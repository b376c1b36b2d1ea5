"""The ``ingest-reports`` flow: list what is new, ingest it batch by batch, publish a summary."""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from typing import Any, Literal

from prefect import Flow, flow
from prefect.client.schemas.objects import FlowRun, State
from prefect.futures import PrefectFuture
from prefect.logging.loggers import flow_run_logger
from prefect.runtime import deployment, flow_run
from prefect.utilities.annotations import quote

from reportlake.pipeline import BatchResult, ExtractedBatch, timed
from reportlake.runs import (
    SHANGHAI,
    Plan,
    RunSummary,
    describe_run,
    extraction_slots,
    open_known,
    parse_in_workers,
    resolve_window,
    scheduled_day,
    warm_quality,
    worker_settings,
)
from reportlake.settings import Settings
from tasks.ingest import (
    commit_batch,
    extract_batch,
    finish_run,
    list_batches,
    publish_summary,
    task_runner,
)
from tasks.lease import lake_guard


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
    settings = Settings.load(
        source=source,
        inbox=inbox,
        landing=landing,
        lake=lake,
        batch_size=batch_size,
        workers=workers,
        dask_address=dask_address,
    )
    with lake_guard(settings):
        window = resolve_window(settings, since, until, today=_scheduled_today(until))
        timings: dict[str, float] = {}
        with timed(timings, "list"):
            plan = list_batches(settings, window)
        results = ingest_batches(settings, plan, timings)
        finish_run(settings, plan.window, results)
    timings["run"] = time.perf_counter() - start
    return publish_summary(settings, plan, results, timings)


def ingest_batches(settings: Settings, plan: Plan, timings: dict[str, float]) -> list[BatchResult]:
    """Extract batches side by side on the task runner; commit them one by one, in order.

    Commits are sequential: each merges its partitions into the lake and sees the reports of
    the batches before it, so duplicates across batches are caught. At most ``parallelism``
    batches are extracted ahead of the commits, so memory stays bounded by the batch size.
    ``timings`` gets the seconds this process waited for workers and for the validator.
    """
    if not plan.batches:
        return []  # nothing new: Great Expectations is not even loaded
    quality = warm_quality(settings)  # built while the first batches are extracted
    known = open_known(settings)
    results: list[BatchResult] = []
    slots = extraction_slots(settings, len(plan.batches))
    with task_runner(settings, slots) as runner:
        shared = worker_settings(settings, slots)
        parse = parse_in_workers(settings, slots)
        batches = iter(plan.batches)
        pending: deque[PrefectFuture[ExtractedBatch]] = deque()

        def submit_next() -> None:
            batch = next(batches, None)
            if batch is not None:
                # Not quote()d: a Dask scheduler unpacks the annotation (a named tuple).
                params = {"settings": shared, "items": batch, "parse": parse}
                pending.append(runner.submit(extract_batch, params))

        for _ in range(max(1, slots) + 1):  # one batch ahead of each extraction
            submit_next()
        while pending:
            with timed(timings, "wait"):
                extracted = pending.popleft().result()
            submit_next()
            with timed(timings, "quality_setup"):
                quality.join()  # the run's validator is ready before its first commit
            # quote(): Prefect need not scan the batch's reports for futures to resolve.
            committed = commit_batch(settings, quote(extracted), quote(known))  # type: ignore[call-overload]
            results.append(committed)
    return results


if __name__ == "__main__":
    ingest_reports()
