"""Flow-run heartbeats that stop as soon as the flow body returns.

Prefect's engine sends a ``prefect.flow-run.heartbeat`` event every
``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (zombie-run detection hangs on them), from a
thread that sleeps one second at a time and is joined when the flow ends: every flow run ends
up to a second later than its work, half a second on average, with nothing left to do. For
flows started in this process (the CLI's ``ingest``, an in-process backfill) the flow body sends
the same events instead, from a thread that wakes at once when told to stop.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import __version__ as prefect_version
from prefect.context import FlowRunContext
from prefect.events import RelatedResource, emit_event
from prefect.events.related import tags_as_related_resources
from prefect.logging import get_logger
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

_LOG = get_logger(__name__)
# Seconds between heartbeats the flow body sends; None: Prefect's engine sends them (or nobody).
_BODY_SECONDS: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "reportlake_heartbeat_seconds", default=None
)


@contextmanager
def sent_by_flow_body() -> Iterator[None]:
    """Around an in-process flow call: the engine's heartbeats off, the body's (same frequency) on
    (with heartbeats off in the settings, nobody sends them); the run's logs all sent after it.
    """
    token = _BODY_SECONDS.set(PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value())
    try:
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield
    finally:
        _BODY_SECONDS.reset(token)
        # The run's last logs go to the API now, not at interpreter exit: a temporary server (no
        # PREFECT_API_URL) stops before logging does, and the engine's heartbeat join no longer
        # gives the log worker a second to send them first.
        APILogWorker.drain_all(timeout=5)


@contextmanager
def flow_run_heartbeats() -> Iterator[None]:
    """In a flow body: send the run's heartbeats if ``sent_by_flow_body`` asked for them."""
    seconds = _BODY_SECONDS.get()
    context = FlowRunContext.get()
    if seconds is None or context is None or context.flow_run is None:
        yield
        return
    run = context.flow_run
    resource = {
        "prefect.resource.id": f"prefect.flow-run.{run.id}",
        "prefect.resource.name": run.name or "",
        "prefect.version": prefect_version,
    }
    # As the engine's: the run, its flow and its tags (a run started in-process has no deployment).
    related = [
        RelatedResource.model_validate(
            {
                "prefect.resource.id": f"prefect.flow.{run.flow_id}",
                "prefect.resource.role": "flow",
                "prefect.resource.name": context.flow.name if context.flow else "",
            }
        ),
        *tags_as_related_resources(set(run.tags or [])),
    ]
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                emit_event(event="prefect.flow-run.heartbeat", resource=resource, related=related)
            except Exception:  # noqa: BLE001 - a missed heartbeat must not fail the run
                _LOG.debug("could not emit a heartbeat", exc_info=True)
            if stop.wait(seconds):
                return

    # The thread sees this run's settings (its API URL), as Prefect's own heartbeat thread does.
    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(beat,), name="flow-heartbeats", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)
