"""The ``ingest-reports`` flow: list what is new, ingest it batch by batch, publish a summary."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from prefect import Flow, flow
from prefect.client.schemas.objects import FlowRun, State
from prefect.logging.loggers import flow_run_logger
from prefect.runtime import deployment, flow_run

from reportlake.runs import (
    SHANGHAI,
    RunSummary,
    describe_run,
    resolve_window,
    scheduled_day,
    start_quality_run,
)
from reportlake.settings import Settings
from tasks.ingest import finish_run, ingest_batch, list_batches, publish_summary
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
) -> RunSummary:
    """Ingest what is new at the source into the lake (defaults from REPORTLAKE_* settings).

    Without ``since``, a dated source is listed from its stored cursor minus the lookback; without
    ``until``, up to today in Beijing, or for a deployment run up to its scheduled day.
    """
    settings = Settings.load(
        source=source, inbox=inbox, landing=landing, lake=lake, batch_size=batch_size
    )
    with lake_guard(settings):
        start_quality_run(settings)
        window = resolve_window(settings, since, until, today=_scheduled_today(until))
        plan = list_batches(settings, window)
        # Batches run one after another: each merges its partitions into the lake and sees the
        # report ids written by the batches before it, so duplicates across batches are caught.
        results = [ingest_batch(settings, batch) for batch in plan.batches]
        finish_run(settings, plan.window, results)
    return publish_summary(settings, plan, results)


if __name__ == "__main__":
    ingest_reports()
