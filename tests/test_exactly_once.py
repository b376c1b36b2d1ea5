"""Exactly-once: crashes (SIGKILL mid-write), concurrent runs and a backfill overlapping a
scheduled run all end with a clean run's lake.

The randomised SIGKILL trials over a 100-report corpus are in test_faults_kill.py; the ones
here use the sample inbox, whose quarantined, duplicate, HTML and GBK text reports the corpus
does not have.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from reportlake.state import load_cursor
from reportlake.storage import resolve_location
from tests import lakecheck
from tests.conftest import EXAMPLES_INBOX, FAULT_RUN_ENV, ingest_argv, listing_env
from tests.fault_run import ForkServer, new_plan
from tests.listing_server import ListingServer, fixture_records

pytestmark = pytest.mark.e2e
BATCH = 2  # several batches per run, so a crash can fall between them
KILL_TRIALS = 3
WRITES = "write_parquet_atomic:*"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> str:
    # A private copy: source URIs must be identical between the clean and the crashed runs.
    path = tmp_path_factory.mktemp("inbox") / "inbox"
    shutil.copytree(EXAMPLES_INBOX, path)
    return str(path)


@pytest.fixture(scope="module")
def clean(
    fork_server: ForkServer, inbox: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[lakecheck.Snapshot, int]:
    """The clean lake, and how many Parquet files its run wrote."""
    lake = str(tmp_path_factory.mktemp("clean") / "lake")
    counting = new_plan()
    done = fork_server.run(
        ingest_argv(lake, inbox=inbox, batch=BATCH), env=FAULT_RUN_ENV, kill=counting
    )
    assert done.returncode == 0, done.output[-3000:]
    return lakecheck.snapshot(lake), counting.counts()[WRITES]


def test_killed_runs_then_rerun_equal_a_clean_run(
    fork_server: ForkServer, inbox: str, clean: tuple[lakecheck.Snapshot, int], tmp_path: Path
) -> None:
    want, writes = clean
    rng = random.Random(20241230)
    for point in sorted(rng.sample(range(1, writes + 1), k=min(KILL_TRIALS, writes))):
        argv = ingest_argv(str(tmp_path / f"lake-{point}"), inbox=inbox, batch=BATCH)
        killed = fork_server.run(argv, env=FAULT_RUN_ENV, kill=new_plan(WRITES, point, "during"))
        assert killed.returncode == -9, f"not killed at write {point}: {killed.output[-2000:]}"
        rerun = fork_server.run(argv, env=FAULT_RUN_ENV)
        assert rerun.returncode == 0, rerun.output[-3000:]
        lakecheck.assert_same_lake(lakecheck.snapshot(str(tmp_path / f"lake-{point}")), want)


def test_two_concurrent_runs_neither_lose_nor_duplicate(
    fork_server: ForkServer, inbox: str, clean: tuple[lakecheck.Snapshot, int], tmp_path: Path
) -> None:
    want, _ = clean
    lake = str(tmp_path / "lake")
    env = {"REPORTLAKE_WORKERS": "0"}  # and the Prefect concurrency limit, as in production
    pids = [fork_server.start(ingest_argv(lake, inbox=inbox, batch=BATCH), env=env) for _ in "ab"]
    runs = [fork_server.wait(pid) for pid in pids]
    assert [r.returncode for r in runs] == [0, 0], [r.output[-2000:] for r in runs]
    written = sorted(r.number("written") for r in runs)
    assert written == [0, want["reports"].num_rows], "one run wrote everything, the other nothing"
    lakecheck.assert_same_lake(lakecheck.snapshot(lake), want)


def test_killed_run_on_s3_then_rerun_equals_a_clean_run(
    fork_server: ForkServer,
    inbox: str,
    clean: tuple[lakecheck.Snapshot, int],
    s3_endpoint: str,
    s3_bucket: str,
) -> None:
    want, writes = clean
    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    env = {**FAULT_RUN_ENV, **aws, "REPORTLAKE_S3_ENDPOINT_URL": s3_endpoint}
    argv = ingest_argv(f"s3://{s3_bucket}/lake", inbox=inbox, batch=BATCH)
    killed = fork_server.run(argv, env=env, kill=new_plan(WRITES, writes // 2, "during"))
    assert killed.returncode == -9, killed.output[-2000:]
    # The dead run's lease names a dead process on this host: the rerun takes it over.
    rerun = fork_server.run(argv, env=env)
    assert rerun.returncode == 0, rerun.output[-3000:]
    lakecheck.assert_same_lake(lakecheck.snapshot(f"s3://{s3_bucket}/lake", s3_endpoint), want)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert "lake/_state/lease.json" not in keys, "the lease is released after the run"


# The listing from 05-04 to 05-14 (15 reports): what the run scheduled for 05-14 lists, given
# the source's default week or a cursor a backfill chunk moved, plus the backfill's days.
INGEST = ["ingest", "--source", "eastmoney", "--no-example-query", "--until", "2023-05-14"]
SINCE = ["--since", "2023-05-04"]


@dataclass
class Listing:
    server: ListingServer
    env: dict[str, str]
    clean: str  # the lake of one run over 05-04..05-14


@pytest.fixture(scope="module")
def listing(fork_server: ForkServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listing]:
    with ListingServer({1: fixture_records()}) as server:
        env = {**listing_env(server.base_url), "REPORTLAKE_WORKERS": "0"}
        clean = str(tmp_path_factory.mktemp("listing") / "clean")
        done = fork_server.run([*INGEST, *SINCE, "--lake", clean], env=env)
        assert done.returncode == 0, done.output[-3000:]
        yield Listing(server, env, clean)


def assert_same_as_clean(lake: str, listing: Listing) -> lakecheck.Snapshot:
    want = lakecheck.snapshot(listing.clean)
    lakecheck.assert_same_lake(lakecheck.snapshot(lake), want)
    keys = lakecheck.committed_keys(listing.clean, "eastmoney")
    assert lakecheck.committed_keys(lake, "eastmoney") == keys
    return want


def test_a_backfill_overlapping_a_scheduled_run_ends_with_a_clean_runs_lake(
    fork_server: ForkServer,
    listing: Listing,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    """``reportlake backfill`` of 05-04..05-11 beside the run scheduled for 05-14."""
    lake = str(tmp_path / "lake")
    backfill = ["backfill", "--source", "eastmoney", "--start", "2023-05-04", "--end"]
    pids = [fork_server.start([*backfill, "2023-05-11", "--lake", lake], env=listing.env)]
    pids.append(fork_server.start([*INGEST, "--lake", lake], env=listing.env))
    runs = [fork_server.wait(pid) for pid in pids]
    assert [r.returncode for r in runs] == [0, 0], [r.output[-3000:] for r in runs]
    assert runs[0].output.count("completed") == 8, runs[0].output[-3000:]
    want = assert_same_as_clean(lake, listing)
    line = (
        f"backfill of 8 days beside an overlapping scheduled run: both completed in "
        f"{runs[0].seconds:.0f}s and {runs[1].seconds:.0f}s; lake equal to a clean run "
        f"({lakecheck.rows_in(want)} rows)"
    )
    print(line)
    record_property("summary", line)


def test_a_run_killed_writing_its_cursor_then_rerun_equals_a_clean_run(
    fork_server: ForkServer, listing: Listing, tmp_path: Path
) -> None:
    """Every batch is committed; the cursor write is cut off; the rerun only moves the cursor."""
    lake = str(tmp_path / "lake")
    argv = [*INGEST, *SINCE, "--lake", lake]
    env = {**listing.env, **FAULT_RUN_ENV}
    cut = new_plan("write_bytes_atomic:cursor", 1, "during")
    killed = fork_server.run(argv, env=env, kill=cut)
    assert killed.returncode == -9, killed.output[-3000:]
    assert load_cursor(resolve_location(lake), "eastmoney") is None
    rerun = fork_server.run(argv, env=env)
    assert rerun.returncode == 0 and rerun.number("written") == 0, rerun.output[-3000:]
    assert_same_as_clean(lake, listing)
    assert load_cursor(resolve_location(lake), "eastmoney") == dt.date(2023, 5, 14)
