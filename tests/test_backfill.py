"""``reportlake backfill``: chunks, the record of done chunks, and real chunk runs under Prefect."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from reportlake import lake as lake_io
from reportlake.backfill import (
    BackfillRangeError,
    ChunkOutcome,
    chunk_range,
    completed_chunks,
    deployment_lake,
    deployment_parameters,
    flow_run_name,
    idempotency_key,
    run_backfill,
)
from reportlake.cli import app
from reportlake.sources import Window
from reportlake.storage import resolve_location
from tests.listing_server import ListingServer, fixture_records

runner = CliRunner()
D = dt.date


def days(*pairs: tuple[D, D]) -> list[Window]:
    return [Window(since=a, until=b) for a, b in pairs]


# --- chunking -----------------------------------------------------------------------------


def test_day_chunks_cover_the_range_one_day_each() -> None:
    windows = chunk_range(D(2024, 2, 28), D(2024, 3, 1), "day")
    assert windows == days(
        (D(2024, 2, 28), D(2024, 2, 28)),
        (D(2024, 2, 29), D(2024, 2, 29)),
        (D(2024, 3, 1), D(2024, 3, 1)),
    )


def test_week_chunks_run_monday_to_sunday_clipped_to_the_range() -> None:
    # 2024-07-03 is a Wednesday, 2024-07-16 a Tuesday.
    windows = chunk_range(D(2024, 7, 3), D(2024, 7, 16), "week")
    assert windows == days(
        (D(2024, 7, 3), D(2024, 7, 7)),
        (D(2024, 7, 8), D(2024, 7, 14)),
        (D(2024, 7, 15), D(2024, 7, 16)),
    )
    assert all(w.until is not None and w.until.weekday() == 6 for w in windows[:-1])


def test_half_year_in_weeks_has_no_gap_and_no_overlap() -> None:
    windows = chunk_range(D(2024, 7, 1), D(2024, 12, 31), "week")
    assert windows[0].since == D(2024, 7, 1) and windows[-1].until == D(2024, 12, 31)
    for before, after in itertools.pairwise(windows):
        assert before.until is not None and after.since == before.until + dt.timedelta(days=1)
    assert len(windows) == 27


def test_single_day_range_is_one_chunk_for_either_size() -> None:
    assert chunk_range(D(2024, 7, 7), D(2024, 7, 7), "week") == days((D(2024, 7, 7),) * 2)
    assert chunk_range(D(2024, 7, 7), D(2024, 7, 7), "day") == days((D(2024, 7, 7),) * 2)


def test_end_before_start_is_refused_with_what_to_do() -> None:
    with pytest.raises(BackfillRangeError, match="before its start"):
        chunk_range(D(2024, 7, 2), D(2024, 7, 1))


def test_cli_refuses_a_reversed_range_and_an_undated_source(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    reversed_ = ["backfill", "--start", "2024-07-02", "--end", "2024-07-01", "--lake", lake]
    result = runner.invoke(app, reversed_)
    assert result.exit_code == 2 and "--start <= --end" in result.stderr
    inbox = ["backfill", "--source", "inbox", "--start", "2024-07-01", "--end", "2024-07-01"]
    result = runner.invoke(app, inbox)
    assert result.exit_code == 2 and "dated source" in result.stderr
    assert not (tmp_path / "lake").exists()


# --- the resumable loop, with a fake chunk runner ----------------------------------------------


class FakeRunner:
    def __init__(self, failing: set[D] | None = None, raising: set[D] | None = None) -> None:
        self.failing, self.raising = failing or set(), raising or set()
        self.calls: list[Window] = []

    def __call__(self, window: Window) -> ChunkOutcome:
        self.calls.append(window)
        assert window.since is not None
        if window.since in self.raising:
            raise RuntimeError("listing API down")
        if window.since in self.failing:
            return ChunkOutcome(window, "failed", message="Failed: lease busy")
        return ChunkOutcome(window, "completed", read=2, written=2, quarantined=0, flow_run_id="r")


def test_completed_chunks_are_recorded_and_skipped_next_time(tmp_path: Path) -> None:
    lake = resolve_location(str(tmp_path / "lake"))
    windows = chunk_range(D(2024, 7, 1), D(2024, 7, 3))
    first = FakeRunner()
    outcomes = run_backfill(lake, "eastmoney", windows, first)
    assert [o.status for o in outcomes] == ["completed"] * 3 and first.calls == windows
    records = completed_chunks(lake, "eastmoney")
    assert set(records) == set(windows)
    assert (records[windows[0]].read, records[windows[0]].flow_run_id) == (2, "r")
    assert (tmp_path / "lake/_state/eastmoney/backfill/2024-07-01_2024-07-01.json").is_file()

    again = FakeRunner()
    outcomes = run_backfill(lake, "eastmoney", windows, again)
    assert again.calls == [] and [o.status for o in outcomes] == ["skipped"] * 3
    assert outcomes[0].written == 2, "a skipped chunk still shows what its run did"

    forced = FakeRunner()
    outcomes = run_backfill(lake, "eastmoney", windows, forced, force=True)
    assert forced.calls == windows and [o.status for o in outcomes] == ["completed"] * 3


def test_failed_chunks_are_not_recorded_the_rest_still_run_and_a_rerun_retries_them(
    tmp_path: Path,
) -> None:
    lake = resolve_location(str(tmp_path / "lake"))
    windows = chunk_range(D(2024, 7, 1), D(2024, 7, 4))
    first = FakeRunner(failing={D(2024, 7, 2)}, raising={D(2024, 7, 3)})
    seen: list[str] = []
    outcomes = run_backfill(
        lake, "eastmoney", windows, first, on_chunk=lambda o: seen.append(o.status)
    )
    assert [o.status for o in outcomes] == ["completed", "failed", "failed", "completed"]
    assert seen == [o.status for o in outcomes], "progress hears of every chunk as it ends"
    assert "listing API down" in outcomes[2].message
    assert set(completed_chunks(lake, "eastmoney")) == {windows[0], windows[3]}

    retry = FakeRunner()
    outcomes = run_backfill(lake, "eastmoney", windows, retry)
    assert retry.calls == windows[1:3]
    assert [o.status for o in outcomes] == ["skipped", "completed", "completed", "skipped"]


# --- through a deployment: keys, parameters, and which earlier runs are reused -----------------


def test_deployment_parameters_and_idempotency_key_name_the_chunk(tmp_path: Path) -> None:
    window = Window(since=D(2024, 7, 1), until=D(2024, 7, 7))
    lake = deployment_lake(resolve_location("relative-lake"))
    assert Path(lake).is_absolute(), "a worker elsewhere must find the same lake"
    assert deployment_lake(resolve_location("s3://bucket/reports")) == "s3://bucket/reports"
    assert deployment_parameters("eastmoney", "s3://b/r", window) == {
        "source": "eastmoney",
        "since": "2024-07-01",
        "until": "2024-07-07",
        "lake": "s3://b/r",
    }
    key = idempotency_key("eastmoney", "s3://b/r", window)
    assert key == "backfill:eastmoney:s3://b/r:2024-07-01:2024-07-07"
    assert idempotency_key("eastmoney", "s3://b/r", window) == key, "stable across commands"
    assert idempotency_key("eastmoney", "s3://b/other", window) != key
    assert idempotency_key("eastmoney", "s3://b/r", window, after_run="abc") == f"{key}:after:abc"
    assert flow_run_name("eastmoney", window) == "backfill eastmoney 2024-07-01..2024-07-07"


class FakeServer:
    """Prefect's idempotency: one flow run per key; runs made before the command are 'earlier'."""

    def __init__(self, earlier: dict[str, Any]) -> None:
        self.runs = {
            key: SimpleNamespace(id=uuid.uuid4(), created=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                                 state=state)
            for key, state in earlier.items()
        }  # fmt: skip
        self.created: list[str] = []

    def run_deployment(self, **kwargs: Any) -> Any:
        from prefect.states import Completed

        key = kwargs["idempotency_key"]
        if key not in self.runs:
            self.created.append(key)
            self.runs[key] = SimpleNamespace(
                id=uuid.uuid4(), created=dt.datetime.now(dt.UTC), state=Completed()
            )
        return self.runs[key]


@pytest.mark.parametrize(
    ("earlier", "force", "new_runs"),
    [
        ("none", False, 1),
        ("completed", False, 0),  # a repeated command reuses the run
        ("failed", False, 1),  # ... but not a failed one: a new run keyed after it
        ("completed", True, 1),  # --force: one new run, keyed after the earlier one
    ],
)
def test_deployment_runner_reuses_runs_by_key_and_retries_failed_ones(
    monkeypatch: pytest.MonkeyPatch, earlier: str, force: bool, new_runs: int
) -> None:
    from prefect.states import Completed, Failed

    import flows.backfill

    window = Window(since=D(2024, 7, 1), until=D(2024, 7, 1))
    key = idempotency_key("eastmoney", "/lake", window)
    state = {"completed": Completed(), "failed": Failed(message="boom")}.get(earlier)
    server = FakeServer({key: state} if state else {})
    monkeypatch.setattr(flows.backfill, "run_deployment", server.run_deployment)
    run = flows.backfill.deployment_runner(
        "ingest-reports/eastmoney-hourly", "eastmoney", "/lake", timeout_s=1, force=force
    )
    outcome = run(window)
    assert outcome.status == "completed"
    assert len(server.created) == new_runs
    if earlier != "none" and new_runs:
        assert server.created == [f"{key}:after:{server.runs[key].id}"]


# --- end to end: real chunk flow runs against the local listing server -------------------------


def chunk_runs(names: list[str]) -> list[Any]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        return list(
            client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=names)))
        )


def lake_rows(lake: str) -> tuple[list[str], list[str]]:
    loc = resolve_location(lake)
    reports = lake_io.read_table(loc, "reports").column("source_id").to_pylist()
    quarantined = lake_io.read_table(loc, "quarantine").column("source_id").to_pylist()
    return sorted(reports), sorted(quarantined)


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_harness")
def test_backfill_runs_one_flow_run_per_day_resumes_and_forces_without_duplicates(
    listing: ListingServer, tmp_path: Path
) -> None:
    since, until = D(2023, 5, 9), D(2023, 5, 11)
    lake = str(tmp_path / "lake")
    expected = {
        r["infoCode"]
        for r in fixture_records()
        if since <= D.fromisoformat(r["publishDate"][:10]) <= until
    }
    names = [f"backfill eastmoney {d}..{d}" for d in (since, D(2023, 5, 10), until)]
    command = ["backfill", "--source", "eastmoney", "--start", f"{since}", "--end", f"{until}"]
    command += ["--lake", lake]

    first = runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    runs = chunk_runs(names)
    assert sorted(r.name for r in runs) == names, "one flow run per chunk, named by its window"
    assert all(r.state is not None and r.state.is_completed() for r in runs)
    assert {r.flow_id for r in runs} and len({r.flow_id for r in runs}) == 1
    reports, quarantined = lake_rows(lake)
    assert len(reports) == len(set(reports)) and len(quarantined) == len(set(quarantined))
    assert set(reports) | set(quarantined) == expected and len(expected) == 6
    assert "2023-05-09" in first.stdout and "completed" in first.stdout
    records = completed_chunks(resolve_location(lake), "eastmoney")
    assert {str(r.flow_run_id) for r in records.values()} == {str(r.id) for r in runs}
    assert sum(r.read or 0 for r in records.values()) == len(expected)

    again = runner.invoke(app, command)
    assert again.exit_code == 0, again.output
    assert len(chunk_runs(names)) == 3, "a repeated backfill starts no flow run"
    assert again.stdout.count("skipped") == 3
    assert lake_rows(lake) == (reports, quarantined)

    forced = runner.invoke(app, [*command, "--force"])
    assert forced.exit_code == 0, forced.output
    assert len(chunk_runs(names)) == 6, "--force reruns every chunk"
    assert lake_rows(lake) == (reports, quarantined), "a forced rerun adds no duplicates"
    pdfs = [r for r in listing.requests if r.path.startswith("/pdf/")]
    assert len(pdfs) == len(expected), "each PDF was downloaded once over all three commands"


def test_cli_reports_a_failed_chunk_runs_the_rest_and_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import flows.backfill

    fake = FakeRunner(failing={D(2024, 7, 2)})
    monkeypatch.setattr(flows.backfill, "in_process_runner", lambda source, lake: fake)
    lake = str(tmp_path / "lake")
    command = ["backfill", "--start", "2024-07-01", "--end", "2024-07-03", "--lake", lake]
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    assert len(fake.calls) == 3, "the chunks after the failed one still ran"
    assert "chunk 2024-07-02 failed: Failed: lease busy" in result.stderr
    assert "run the same command again" in result.stderr
    assert result.stdout.count("completed") == 2 and result.stdout.count("failed") == 1
    assert set(completed_chunks(resolve_location(lake), "eastmoney")) == {
        Window(since=D(2024, 7, 1), until=D(2024, 7, 1)),
        Window(since=D(2024, 7, 3), until=D(2024, 7, 3)),
    }
