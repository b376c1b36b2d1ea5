"""prefect.yaml says what `prefect deploy` will do, and scheduled runs cover their scheduled window.

Prefect validates prefect.yaml with pydantic models that ignore unknown keys
(prefect/cli/deploy/_models.py: ``PrefectYamlModel``, ``DeploymentConfig``, ``WorkPoolConfig``,
``ConcurrencyLimitSpec`` use ``extra="ignore"``), so a misspelt key would silently deploy
something else. These tests compare every key with the fields of those models.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect.cli.deploy._models import (
    ConcurrencyLimitSpec,
    DeploymentConfig,
    PrefectYamlModel,
    RawScheduleConfig,
    WorkPoolConfig,
)

# What `prefect deploy` turns a schedule entry into (prefect/cli/deploy/_schedules.py).
from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.server.schemas import schedules as server_schedules
from pydantic import BaseModel

from flows.ingest import ingest_reports, name_run, window_today
from reportlake.runs import describe_run, resolve_window, scheduled_day
from reportlake.settings import Settings
from tests.conftest import REPO

SHANGHAI = ZoneInfo("Asia/Shanghai")
PREFECT_YAML = REPO / "prefect.yaml"


def load_project(path: Path = PREFECT_YAML) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def known_keys(model: type[BaseModel]) -> set[str]:
    """The keys a Prefect config model reads: field names and their aliases."""
    return {alias for name, f in model.model_fields.items() for alias in (name, f.alias) if alias}


def unknown_keys(project: dict[str, Any]) -> list[str]:
    """Every key of prefect.yaml that Prefect's deploy models do not read, as a dotted path."""
    bad = [k for k in project if k not in known_keys(PrefectYamlModel)]
    for d in project.get("deployments") or []:
        where = f"deployments[{d.get('name')}]"
        bad += [f"{where}.{k}" for k in d if k not in known_keys(DeploymentConfig)]
        pool = d.get("work_pool") or {}
        bad += [f"{where}.work_pool.{k}" for k in pool if k not in known_keys(WorkPoolConfig)]
        limit = d.get("concurrency_limit")
        if isinstance(limit, dict):
            bad += [
                f"{where}.concurrency_limit.{k}"
                for k in limit
                if k not in known_keys(ConcurrencyLimitSpec)
            ]
        for i, schedule in enumerate(d.get("schedules") or []):
            bad += [
                f"{where}.schedules[{i}].{k}"
                for k in schedule
                if k not in known_keys(RawScheduleConfig)
            ]
    return bad


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return load_project()


@pytest.fixture(scope="module")
def deployments(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in project["deployments"]}


def test_prefect_yaml_has_no_key_prefect_ignores(project: dict[str, Any]) -> None:
    assert unknown_keys(project) == []
    # And Prefect's own model accepts the file as a whole.
    PrefectYamlModel.model_validate(project)


def test_a_misspelt_key_is_caught(project: dict[str, Any]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(project))
    first = broken["deployments"][0]
    first["schedule_s"] = first.pop("schedules")
    first["work_pool"]["queue"] = "default"
    first["concurrency_limit"] = {"limit": 1, "strategy": "CANCEL_NEW"}
    assert sorted(unknown_keys(broken)) == [
        "deployments[inbox-daily].concurrency_limit.strategy",
        "deployments[inbox-daily].schedule_s",
        "deployments[inbox-daily].work_pool.queue",
    ]
    # Prefect itself would deploy it without a word: that is why this test exists.
    PrefectYamlModel.model_validate(broken)


def test_the_expected_deployments_exist(deployments: dict[str, dict[str, Any]]) -> None:
    assert set(deployments) == {"inbox-daily", "eastmoney-hourly", "landing-s3"}
    for d in deployments.values():
        assert d["work_pool"]["name"] == "reportlake-process"
        assert d["concurrency_limit"] == 1, "runs of one deployment must never overlap"
        assert "reportlake" in d["tags"]
        assert d["description"].strip()


def test_entrypoints_import_and_name_the_ingest_flow(
    deployments: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # entrypoints are relative to the project root, as for the worker
    for d in deployments.values():
        loaded = load_flow_from_entrypoint(d["entrypoint"])
        assert isinstance(loaded, Flow)
        assert loaded.name == "ingest-reports"


def test_parameters_match_the_flow_signature(deployments: dict[str, dict[str, Any]]) -> None:
    accepted = set(inspect.signature(ingest_reports.fn).parameters)
    for name, d in deployments.items():
        sets = [d.get("parameters") or {}]
        sets += [s.get("parameters") or {} for s in d.get("schedules") or []]
        for params in sets:
            assert set(params) <= accepted, f"{name}: {set(params) - accepted}"
            ingest_reports.validate_parameters({**(d.get("parameters") or {}), **params})
    assert deployments["eastmoney-hourly"]["parameters"]["source"] == "eastmoney"
    assert deployments["landing-s3"]["parameters"]["source"] == "s3"


def test_every_schedule_parses_as_prefect_deploy_builds_it(
    deployments: dict[str, dict[str, Any]],
) -> None:
    for name, d in deployments.items():
        assert d["schedules"], name
        for entry in d["schedules"]:
            RawScheduleConfig.model_validate(entry)
            built = DeploymentScheduleCreate(**_schedule_config_to_deployment_schedule(entry))
            assert built.schedule.timezone == "Asia/Shanghai", name  # type: ignore[union-attr]


def _fire_times(entry: dict[str, Any], start: dt.datetime, end: dt.datetime) -> list[str]:
    """When the server's scheduler creates runs for one schedule entry, in Beijing time."""
    built = _schedule_config_to_deployment_schedule(entry)["schedule"]
    server = type(built).__name__
    schedule = getattr(server_schedules, server).model_validate(built.model_dump())
    dates = asyncio.run(schedule.get_dates(start=start, end=end))
    return [f"{d.astimezone(SHANGHAI):%a %H:%M}" for d in dates]


def test_eastmoney_runs_through_trading_hours_and_an_evening_catch_up(
    deployments: dict[str, dict[str, Any]],
) -> None:
    # Fri 2024-12-27 00:00 to Mon 2024-12-30 00:00, Beijing time.
    start = dt.datetime(2024, 12, 27, tzinfo=SHANGHAI)
    end = dt.datetime(2024, 12, 30, tzinfo=SHANGHAI)
    trading, evening = deployments["eastmoney-hourly"]["schedules"]
    assert _fire_times(trading, start, end) == [f"Fri {h:02d}:00" for h in range(9, 16)]
    assert _fire_times(evening, start, end) == ["Fri 21:30", "Sat 21:30", "Sun 21:30"]


def test_landing_runs_every_half_hour(deployments: dict[str, dict[str, Any]]) -> None:
    start = dt.datetime(2024, 12, 30, 9, 10, tzinfo=SHANGHAI)
    end = dt.datetime(2024, 12, 30, 10, 40, tzinfo=SHANGHAI)
    (entry,) = deployments["landing-s3"]["schedules"]
    assert _fire_times(entry, start, end) == ["Mon 09:30", "Mon 10:00", "Mon 10:30"]


def test_prefect_yaml_holds_no_secrets() -> None:
    text = PREFECT_YAML.read_text(encoding="utf-8").lower()
    for word in ("aws_secret", "aws_access_key_id", "password", "token", "://user"):
        assert word not in text


# Run names and scheduled windows, as pure functions.


def test_a_scheduled_run_is_named_by_its_scheduled_time_in_beijing() -> None:
    at = dt.datetime(2024, 12, 30, 1, 0, tzinfo=dt.UTC)  # 09:00 in Beijing
    assert describe_run("eastmoney", at=at) == "eastmoney 2024-12-30 09:00"


def test_a_run_with_a_window_is_named_by_its_window() -> None:
    at = dt.datetime(2025, 1, 5, tzinfo=dt.UTC)
    since, until = dt.date(2024, 12, 1), dt.date(2024, 12, 7)
    assert describe_run("eastmoney", since, until, at=at) == "eastmoney 2024-12-01..2024-12-07"
    assert describe_run("eastmoney", "2024-12-01", None, at=at) == "eastmoney 2024-12-01.."
    assert describe_run("eastmoney", None, until, at=at) == "eastmoney ..2024-12-07"


def test_the_scheduled_day_is_the_beijing_date() -> None:
    # 16:30 UTC is already the next morning in Beijing.
    assert scheduled_day(dt.datetime(2024, 12, 30, 16, 30, tzinfo=dt.UTC)) == dt.date(2024, 12, 31)
    with pytest.raises(ValueError, match="time zone"):
        scheduled_day(dt.datetime(2024, 12, 30, 16, 30))


def test_only_deployment_runs_without_until_take_their_scheduled_day() -> None:
    at = dt.datetime(2024, 12, 30, 13, 30, tzinfo=dt.UTC)  # the 21:30 catch-up of Dec 30
    assert window_today(None, at, from_deployment=True) == dt.date(2024, 12, 30)
    assert window_today(dt.date(2024, 12, 1), at, from_deployment=True) is None
    assert window_today(None, at, from_deployment=False) is None
    assert window_today(None, None, from_deployment=True) is None


def test_a_late_scheduled_run_lists_the_window_it_was_scheduled_for(tmp_path: Path) -> None:
    settings = Settings.load(source="eastmoney", lake=str(tmp_path / "lake"))
    scheduled = dt.datetime(2024, 12, 30, 13, 30, tzinfo=dt.UTC)  # Dec 30, 21:30 in Beijing
    # The worker picks it up two days late; the window still ends on Dec 30.
    window = resolve_window(settings, today=window_today(None, scheduled, from_deployment=True))
    assert window.until == dt.date(2024, 12, 30)


def test_run_name_outside_a_run_falls_back_to_now_and_the_configured_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REPORTLAKE_SOURCE", "s3")
    before = dt.datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    name = name_run()
    source, stamp = name.split(" ", 1)
    assert source == "s3"
    when = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
    assert before <= when <= before + dt.timedelta(minutes=2)


def test_a_flow_run_is_renamed_from_its_parameters(prefect_harness: str) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    @flow(flow_run_name=name_run, persist_result=False)
    def named(
        source: str | None = None, since: dt.date | None = None, until: dt.date | None = None
    ) -> str:
        return str(flow_run.id)

    run_id = named(source="eastmoney", since=dt.date(2024, 12, 1), until=dt.date(2024, 12, 7))
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run_id).name == "eastmoney 2024-12-01..2024-12-07"
