"""Run one backfill chunk under Prefect: in this process, or through a deployment and its worker.

The loop, the chunking and the record of done chunks live in ``reportlake.backfill``; the CLI
hands it one of the runners built here.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from flows.ingest import ingest_reports
from reportlake.backfill import (
    ChunkOutcome,
    chunk_counts,
    deployment_parameters,
    flow_run_name,
    idempotency_key,
)
from reportlake.runs import RunSummary
from reportlake.sources import Window
from tasks.heartbeats import sent_by_flow_body

ChunkRunner = Callable[[Window], ChunkOutcome]


def in_process_runner(source: str, lake: str | None) -> ChunkRunner:
    """Each chunk is its own ``ingest-reports`` flow run in this process, named by its window."""

    def run(window: Window) -> ChunkOutcome:
        start = time.perf_counter()
        flow = ingest_reports.with_options(flow_run_name=flow_run_name(source, window))
        with sent_by_flow_body():  # the run ends when its work does: see tasks.heartbeats
            state = flow(
                source=source,  # type: ignore[arg-type]
                lake=lake,
                since=window.since,
                until=window.until,
                return_state=True,
            )
        seconds = time.perf_counter() - start
        run_id = state.state_details.flow_run_id
        flow_run_id = str(run_id) if run_id else None
        if not state.is_completed():
            return ChunkOutcome(
                window, "failed", seconds=seconds, flow_run_id=flow_run_id, message=_why(state)
            )
        summary: RunSummary = state.result()  # type: ignore[assignment]
        return ChunkOutcome(
            window,
            "completed",
            **chunk_counts(summary),
            seconds=seconds,
            flow_run_id=flow_run_id,
        )

    return run


def deployment_runner(
    deployment: str,
    source: str,
    lake: str,
    *,
    timeout_s: float,
    force: bool = False,
    poll_interval_s: float = 5.0,
) -> ChunkRunner:
    """Each chunk is a run of ``deployment``, created once per idempotency key and waited for.

    Repeating the command finds the same run (still running: waited for; completed: reused).
    A run that ended in failure before this command started is not reused: a new one is keyed
    after it, and so is every earlier run with ``force``. The worker's run reports its numbers
    in its own artifacts; here only its final state is known.
    """
    started = dt.datetime.now(dt.UTC)

    def run(window: Window) -> ChunkOutcome:
        start = time.perf_counter()
        after: str | None = None
        while True:
            flow_run: FlowRun = run_deployment(  # type: ignore[assignment]
                name=deployment,
                parameters=deployment_parameters(source, lake, window),
                flow_run_name=flow_run_name(source, window),
                idempotency_key=idempotency_key(source, lake, window, after_run=after),
                timeout=timeout_s,
                poll_interval=poll_interval_s,
                as_subflow=False,
            )
            state = flow_run.state
            earlier = flow_run.created is not None and flow_run.created < started
            finished = state is not None and state.is_final()
            if earlier and finished and (force or not state.is_completed()):  # type: ignore[union-attr]
                after = str(flow_run.id)
                continue
            break
        seconds = time.perf_counter() - start
        if state is not None and state.is_completed():
            return ChunkOutcome(window, "completed", seconds=seconds, flow_run_id=str(flow_run.id))
        if not finished:
            message = (
                f"still {state.name if state else 'unknown'} after {timeout_s:.0f}s: "
                "run the same command again to wait for it"
            )
        else:
            message = _why(state)  # type: ignore[arg-type]
        return ChunkOutcome(
            window, "failed", seconds=seconds, flow_run_id=str(flow_run.id), message=message
        )

    return run


def _why(state: object) -> str:
    name = getattr(state, "name", "unknown")
    message = getattr(state, "message", None) or ""
    return f"{name}: {message}" if message else str(name)
