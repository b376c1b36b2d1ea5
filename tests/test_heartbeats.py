"""Heartbeats of in-process runs: sent by the flow body, once per interval, not also by Prefect."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES_INBOX

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]


def _latest_flow_run() -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
    return run


def _heartbeats(flow_run_id: object, settle_s: float = 2.0, timeout_s: float = 30.0) -> list[Any]:
    """The run's heartbeat events, once their number has not changed for ``settle_s``."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    query = EventFilter(
        event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
        resource=EventResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
    )
    deadline = time.monotonic() + timeout_s
    seen: list[Any] = []
    stable_since = time.monotonic()
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            events = client.read_events(filter=query, limit=50).events
            if len(events) != len(seen):
                seen, stable_since = events, time.monotonic()
            elif seen and time.monotonic() - stable_since >= settle_s:
                return seen
            time.sleep(0.2)
    return seen


def test_in_process_run_sends_one_heartbeat_per_interval_from_the_flow_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    import tasks.heartbeats
    from flows.ingest import ingest_in_process

    sent: list[str] = []

    def emit(**event: Any) -> Any:
        sent.append(event["event"])
        return emit_event(**event)

    emit_event = tasks.heartbeats.emit_event
    monkeypatch.setattr(tasks.heartbeats, "emit_event", emit)

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(EXAMPLES_INBOX / "004_0b306bed774ee041.txt", inbox)
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}):
        summary = ingest_in_process(inbox=str(inbox), lake=str(tmp_path / "lake"))
        assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() == 60  # the setting is given back
    assert summary.written == 1
    assert sent == ["prefect.flow-run.heartbeat"]  # by the flow body, at its start
    assert not [t for t in threading.enumerate() if t.name == "flow-heartbeats"]  # stopped
    run = _latest_flow_run()
    assert run.state.is_completed()
    beats = _heartbeats(run.id)
    # The body's only: the engine's own would be a second one at the start.
    assert len(beats) == 1
    (beat,) = beats
    assert beat.resource["prefect.resource.name"] == run.name
    flows = [r for r in beat.related if r.role == "flow"]
    assert [(r.id, r.name) for r in flows] == [(f"prefect.flow.{run.flow_id}", "ingest-reports")]


def test_without_heartbeat_setting_nobody_sends_them(tmp_path: Path) -> None:
    from flows.ingest import ingest_in_process

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(EXAMPLES_INBOX / "004_0b306bed774ee041.txt", inbox)
    # The test session runs with heartbeats off (see conftest).
    ingest_in_process(inbox=str(inbox), lake=str(tmp_path / "lake"))
    assert _heartbeats(_latest_flow_run().id, timeout_s=3.0) == []
