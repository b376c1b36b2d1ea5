"""Exactly-once: reruns, crashes (SIGKILL mid-write) and concurrent runs equal a clean run."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pyarrow as pa
import pytest

from reportlake import lake as lake_io
from reportlake.storage import resolve_location
from reportlake.tables import DATA_TABLES
from tests.conftest import EXAMPLES_INBOX, REPO, run_in_subprocess

pytestmark = pytest.mark.e2e
VOLATILE = {"raw_uri", "ingested_at", "quarantined_at"}
BATCH = "2"  # several batches per run, so a crash can fall between them
# A killed run's Prefect slot is only freed when the server's repossessor reclaims its expired
# lease (which the test harness does not run). The lake's own lease (flock, or a dead-pid
# takeover on S3) is what makes a rerun after a crash safe, so crash trials run without the
# Prefect limit; the concurrent-runs test keeps it.
NO_PREFECT_LIMIT = {"REPORTLAKE_PREFECT_LAKE_LIMIT": "false"}


def snapshot(lake: str, endpoint: str | None = None) -> dict[str, pa.Table]:
    loc = resolve_location(lake, s3_endpoint_url=endpoint)
    out = {}
    for name in (*DATA_TABLES, "quarantine"):
        table = lake_io.read_table(loc, name)
        keep = [c for c in table.column_names if c not in VOLATILE]
        keys = [c for c in ("report_id", "source_uri", "position", "ticker", "title") if c in keep]
        out[name] = table.select(keep).sort_by([(k, "ascending") for k in keys])
    return out


def assert_same_lake(got: dict[str, pa.Table], want: dict[str, pa.Table]) -> None:
    for name, table in want.items():
        assert got[name].num_rows == table.num_rows, f"{name}: {got[name].num_rows} rows"
        assert got[name].equals(table), f"{name} differs from a clean run"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> str:
    # A private copy: source URIs must be identical between the clean and the crashed runs.
    path = tmp_path_factory.mktemp("inbox") / "inbox"
    shutil.copytree(EXAMPLES_INBOX, path)
    return str(path)


@pytest.fixture(scope="module")
def clean(
    prefect_harness: str, inbox: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, pa.Table], int]:
    lake = str(tmp_path_factory.mktemp("clean"))
    done = run_in_subprocess(prefect_harness, "0", inbox, lake, BATCH)
    assert done.returncode == 0, done.stderr[-3000:]
    writes = int(done.stdout.split("writes=")[1].split()[0])
    return snapshot(lake), writes


def test_killed_runs_then_rerun_equal_a_clean_run(
    prefect_harness: str,
    inbox: str,
    clean: tuple[dict[str, pa.Table], int],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    want, writes = clean
    trials = int(request.config.getoption("--kill-trials"))
    rng = random.Random(20241230)
    points = sorted(rng.sample(range(1, writes + 1), k=min(trials, writes)))
    for point in points:
        lake = str(tmp_path / f"lake-{point}")
        killed = run_in_subprocess(
            prefect_harness, str(point), inbox, lake, BATCH, env=NO_PREFECT_LIMIT
        )
        assert killed.returncode == -9, f"not killed at write {point}: {killed.stderr[-2000:]}"
        rerun = run_in_subprocess(prefect_harness, "0", inbox, lake, BATCH, env=NO_PREFECT_LIMIT)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert_same_lake(snapshot(lake), want)


def test_two_concurrent_runs_neither_lose_nor_duplicate(
    prefect_harness: str, inbox: str, clean: tuple[dict[str, pa.Table], int], tmp_path: Path
) -> None:
    want, _ = clean
    lake = str(tmp_path / "lake")
    env = {**os.environ, "PREFECT_API_URL": prefect_harness}
    cmd = [sys.executable, "-m", "tests.fault_run", "0", inbox, lake, BATCH]
    procs = [
        subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    written = sorted(int(o[0].split("written=")[1].split()[0]) for o in outs)
    assert written == [0, want["reports"].num_rows], "one run wrote everything, the other nothing"
    assert_same_lake(snapshot(lake), want)


def test_killed_run_on_s3_then_rerun_equals_a_clean_run(
    prefect_harness: str,
    inbox: str,
    clean: tuple[dict[str, pa.Table], int],
    s3_endpoint: str,
    s3_bucket: str,
) -> None:
    want, writes = clean
    env = {"REPORTLAKE_S3_ENDPOINT_URL": s3_endpoint, **NO_PREFECT_LIMIT}
    lake = f"s3://{s3_bucket}/lake"
    killed = run_in_subprocess(prefect_harness, str(writes // 2), inbox, lake, BATCH, env=env)
    assert killed.returncode == -9, killed.stderr[-2000:]
    # The dead run's lease names a dead process on this host: the rerun takes it over.
    rerun = run_in_subprocess(prefect_harness, "0", inbox, lake, BATCH, env=env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_same_lake(snapshot(lake, s3_endpoint), want)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert "lake/_state/lease.json" not in keys, "the lease is released after the run"
