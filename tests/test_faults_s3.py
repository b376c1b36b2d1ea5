"""An S3 lake behind a faulty network: every run ends equal to a clean run, or fails loudly.

The lake lives on moto's S3 server behind ``tests/s3_fault_proxy.py``, which answers a seeded
share of the requests with 500, 503, ``SlowDown``, a reset connection (before or after the
store applied the request) or a late answer. The runs ingest 30 reports of the eastmoney
listing (a local listing server) in batches of 10 and must either finish with a lake equal to
a clean run's, or fail with a non-zero exit and a message, leaving only rows a clean run
writes, state for committed reports only and no cursor; a rerun then completes the lake.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from tests import lakecheck
from tests.conftest import FAULT_RUN_ENV, ingest_argv, listing_env
from tests.fault_run import FAST_RETRIES_ENV, ForkServer, Run
from tests.listing_server import ListingServer, fixture_records
from tests.s3_fault_proxy import FaultProxy

pytestmark = pytest.mark.e2e
WINDOW = ("2023-04-10", "2023-05-14")  # 30 of the listing's reports, 17 publish dates
AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


@dataclass
class S3Lake:
    """A lake in its own bucket, reached through the proxy by runs and directly by checks."""

    bucket: str
    endpoint: str  # moto itself

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/lake"

    def object_keys(self) -> list[str]:
        s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="lake/")
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def snapshot(self) -> lakecheck.Snapshot:
        return lakecheck.snapshot(self.uri, self.endpoint)


@pytest.fixture(scope="module")
def listing_server() -> Iterator[ListingServer]:
    with ListingServer({1: fixture_records()}) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint, seed=7) as p:
        yield p


@pytest.fixture
def healthy(proxy: FaultProxy) -> Iterator[FaultProxy]:
    """The proxy, passing everything through, listening; as it was for every test."""
    proxy.configure(0.0)
    if proxy.is_down:
        proxy.restart()
    proxy.reset_stats()
    yield proxy
    proxy.configure(0.0)
    if proxy.is_down:
        proxy.restart()


def new_lake(s3_endpoint: str, name: str) -> S3Lake:
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return S3Lake(name, s3_endpoint)


def ingest(fork_server: ForkServer, proxy: FaultProxy, listing: ListingServer, lake: S3Lake) -> Run:
    env = {
        **FAULT_RUN_ENV,
        **listing_env(listing.base_url),
        **{k: os.environ[k] for k in AWS_ENV},
        "REPORTLAKE_S3_ENDPOINT_URL": proxy.url,
        FAST_RETRIES_ENV: "0.2",
    }
    argv = [*ingest_argv(lake.uri), "--since", WINDOW[0], "--until", WINDOW[1]]
    return fork_server.run(argv, env=env, timeout=240)


@pytest.fixture(scope="module")
def clean(
    fork_server: ForkServer,
    proxy: FaultProxy,
    listing_server: ListingServer,
    s3_endpoint: str,
) -> lakecheck.Snapshot:
    lake = new_lake(s3_endpoint, "lake-s3-clean")
    proxy.configure(0.0)
    proxy.reset_stats()
    done = ingest(fork_server, proxy, listing_server, lake)
    assert done.returncode == 0, done.output[-3000:]
    print(f"clean run: {proxy.reset_stats().requests} S3 requests")
    snap = lake.snapshot()
    assert snap["reports"].num_rows + snap["quarantine"].num_rows == 30
    return snap


def cursor(lake: S3Lake) -> str | None:
    """The eastmoney cursor's high-water date, None if the lake has none."""
    s3 = boto3.client("s3", endpoint_url=lake.endpoint, region_name="us-east-1")
    key = "lake/_state/eastmoney/cursor.json"
    if key not in lake.object_keys():
        return None
    return str(json.loads(s3.get_object(Bucket=lake.bucket, Key=key)["Body"].read())["high_water"])


def assert_failed_loudly_and_cleanly(run: Run, lake: S3Lake, clean: lakecheck.Snapshot) -> None:
    """A failed run says so, and leaves a part of the clean lake with its state in step."""
    assert run.returncode not in (0, None) and not run.timed_out, run.output[-3000:]
    assert "Traceback" in run.output or "failed" in run.output, run.output[-3000:]
    partial = lake.snapshot()
    lakecheck.assert_part_of(partial, clean)
    lakecheck.assert_state_follows_data(lake.uri, "eastmoney", partial, lake.endpoint)
    lakecheck.assert_files_readable(lake.uri, lake.endpoint)
    assert cursor(lake) is None, "a failed run must not move the cursor"


def assert_complete(run: Run, lake: S3Lake, clean: lakecheck.Snapshot) -> None:
    assert run.returncode == 0, run.output[-3000:]
    lakecheck.assert_same_lake(lake.snapshot(), clean)
    assert cursor(lake) == WINDOW[1]
    assert "lake/_state/lease.json" not in lake.object_keys(), "the lease is released"


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_faulty_store_retries_and_ends_equal_to_a_clean_run(
    rate: float,
    fork_server: ForkServer,
    healthy: FaultProxy,
    listing_server: ListingServer,
    s3_endpoint: str,
    clean: lakecheck.Snapshot,
    record_property: pytest.RecordProperty,
) -> None:
    lake = new_lake(s3_endpoint, f"lake-s3-faults-{int(rate * 100)}")
    healthy.configure(rate, seed=int(rate * 100))
    run = ingest(fork_server, healthy, listing_server, lake)
    stats = healthy.reset_stats()
    outcome = "completed"
    if rate <= 0.1 or run.returncode == 0:
        assert_complete(run, lake, clean)  # 10%: retries absorb every fault
    else:
        outcome = "failed loudly"
        assert_failed_loudly_and_cleanly(run, lake, clean)
        healthy.configure(0.0)
        assert_complete(ingest(fork_server, healthy, listing_server, lake), lake, clean)
    line = (
        f"S3 at {rate:.0%} faults: {stats.requests} requests, {stats.injected} faults "
        f"({dict(stats.faults)}); run {outcome}; lake equal to a clean run"
    )
    print(line)
    record_property("summary", line)


def test_store_down_at_start_fails_naming_the_endpoint_and_writes_nothing(
    fork_server: ForkServer,
    healthy: FaultProxy,
    listing_server: ListingServer,
    s3_endpoint: str,
    clean: lakecheck.Snapshot,
) -> None:
    lake = new_lake(s3_endpoint, "lake-s3-down")
    healthy.stop()
    run = ingest(fork_server, healthy, listing_server, lake)
    assert run.returncode != 0 and not run.timed_out
    assert f"S3 endpoint {healthy.url} is unreachable" in run.output, run.output[-3000:]
    assert "nothing was written" in run.output
    assert lake.object_keys() == []
    healthy.restart()
    assert_complete(ingest(fork_server, healthy, listing_server, lake), lake, clean)


def test_store_going_away_mid_run_fails_cleanly_and_a_rerun_completes(
    fork_server: ForkServer,
    healthy: FaultProxy,
    listing_server: ListingServer,
    s3_endpoint: str,
    clean: lakecheck.Snapshot,
    record_property: pytest.RecordProperty,
) -> None:
    lake = new_lake(s3_endpoint, "lake-s3-away")
    healthy.stop_after(150)  # the lease, the listing's state and a batch or so
    run = ingest(fork_server, healthy, listing_server, lake)
    assert healthy.is_down
    assert_failed_loudly_and_cleanly(run, lake, clean)
    committed = lake.snapshot()["reports"].num_rows
    healthy.restart()
    assert_complete(ingest(fork_server, healthy, listing_server, lake), lake, clean)
    line = f"S3 gone after 150 requests: run failed with {committed} reports committed; rerun equal"
    print(line)
    record_property("summary", line)
