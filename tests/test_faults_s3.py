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
from dataclasses import dataclass, field

import boto3
import pytest

from reportlake.lease import LEASE_KEY, lake_lease
from reportlake.storage import resolve_location, s3_client
from tests import lakecheck
from tests.conftest import FAULT_RUN_ENV, ingest_argv, listing_env
from tests.fault_run import FAST_RETRIES_ENV, ForkServer, Run
from tests.listing_server import ListingServer, fixture_records
from tests.s3_fault_proxy import FaultProxy

pytestmark = pytest.mark.e2e
WINDOW = ("2023-04-10", "2023-05-14")  # 30 of the listing's reports, 17 publish dates
AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
GONE_AFTER = 230  # of the ~345 S3 requests of a clean run: a batch or two is committed


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

    def cursor(self) -> str | None:
        """The eastmoney cursor's high-water date, None if the lake has none."""
        key = "lake/_state/eastmoney/cursor.json"
        if key not in self.object_keys():
            return None
        s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")
        body = s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return str(json.loads(body)["high_water"])

    def snapshot(self) -> lakecheck.Snapshot:
        return lakecheck.snapshot(self.uri, self.endpoint)


@dataclass
class Rig:
    """What the tests here drive: runs, the proxy, the listing, the store and the clean lake."""

    runs: ForkServer
    proxy: FaultProxy
    listing: ListingServer
    endpoint: str  # moto itself
    clean: lakecheck.Snapshot = field(default_factory=dict)

    def new_lake(self, bucket: str) -> S3Lake:
        s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        return S3Lake(bucket, self.endpoint)

    def ingest(self, lake: S3Lake) -> Run:
        """Ingest the window into ``lake`` through the proxy, retrying tasks 0.2 s apart."""
        env = {
            **FAULT_RUN_ENV,
            **listing_env(self.listing.base_url),
            **{k: os.environ[k] for k in AWS_ENV},
            "REPORTLAKE_S3_ENDPOINT_URL": self.proxy.url,
            FAST_RETRIES_ENV: "0.2",
        }
        argv = [*ingest_argv(lake.uri), "--since", WINDOW[0], "--until", WINDOW[1]]
        return self.runs.run(argv, env=env, timeout=240)

    def assert_failed_cleanly(self, run: Run, lake: S3Lake) -> None:
        """Failed, saying so; left a part of the clean lake, state in step, no cursor."""
        assert run.returncode != 0 and not run.timed_out, run.output[-3000:]
        assert "Traceback" in run.output and "failed" in run.output, run.output[-3000:]
        lakecheck.assert_interrupted_cleanly(lake.uri, "eastmoney", self.clean, lake.endpoint)
        assert lake.cursor() is None, "a failed run must not move the cursor"

    def assert_complete(self, run: Run, lake: S3Lake) -> None:
        assert run.returncode == 0, run.output[-3000:]
        lakecheck.assert_same_lake(lake.snapshot(), self.clean)
        assert lake.cursor() == WINDOW[1]
        assert "lake/_state/lease.json" not in lake.object_keys(), "the lease is released"

    def heal(self) -> None:
        """Pass everything through again, listening."""
        self.proxy.configure(0.0)
        if self.proxy.is_down:
            self.proxy.restart()


@pytest.fixture(scope="module")
def module_rig(fork_server: ForkServer, s3_endpoint: str) -> Iterator[Rig]:
    with (
        ListingServer({1: fixture_records()}) as listing,
        FaultProxy(s3_endpoint, seed=7) as proxy,
    ):
        rig = Rig(fork_server, proxy, listing, s3_endpoint)
        lake = rig.new_lake("lake-s3-clean")
        done = rig.ingest(lake)
        assert done.returncode == 0, done.output[-3000:]
        print(f"clean run: {proxy.reset_stats().requests} S3 requests")
        rig.clean = lake.snapshot()
        assert rig.clean["reports"].num_rows + rig.clean["quarantine"].num_rows == 30
        yield rig


@pytest.fixture
def rig(module_rig: Rig) -> Iterator[Rig]:
    module_rig.heal()
    module_rig.proxy.reset_stats()
    yield module_rig
    module_rig.heal()


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_faulty_store_retries_and_ends_equal_to_a_clean_run(
    rate: float, rig: Rig, record_property: pytest.RecordProperty
) -> None:
    lake = rig.new_lake(f"lake-s3-faults-{int(rate * 100)}")
    rig.proxy.configure(rate, seed=int(rate * 100))
    run = rig.ingest(lake)
    stats = rig.proxy.reset_stats()
    outcome = "completed"
    if rate <= 0.1 or run.returncode == 0:
        rig.assert_complete(run, lake)  # 10%: retries absorb every fault
    else:
        outcome = "failed loudly"
        rig.assert_failed_cleanly(run, lake)
        rig.heal()
        rig.assert_complete(rig.ingest(lake), lake)
    line = (
        f"S3 at {rate:.0%} faults: {stats.requests} requests, {stats.injected} faults "
        f"({dict(stats.faults)}); run {outcome} in {run.seconds:.0f}s; lake equal to a clean run"
    )
    print(line)
    record_property("summary", line)


def test_store_down_at_start_fails_naming_the_endpoint_and_writes_nothing(rig: Rig) -> None:
    lake = rig.new_lake("lake-s3-down")
    rig.proxy.stop()
    run = rig.ingest(lake)
    assert run.returncode != 0 and not run.timed_out
    assert f"S3 endpoint {rig.proxy.url} is unreachable" in run.output, run.output[-3000:]
    assert "nothing was written" in run.output
    assert lake.object_keys() == []


def test_store_going_away_mid_run_fails_cleanly_and_a_rerun_completes(
    rig: Rig, record_property: pytest.RecordProperty
) -> None:
    lake = rig.new_lake("lake-s3-away")
    rig.proxy.stop_after(GONE_AFTER)
    run = rig.ingest(lake)
    assert rig.proxy.is_down
    rig.assert_failed_cleanly(run, lake)
    committed = lake.snapshot()["reports"].num_rows
    rig.heal()
    rig.assert_complete(rig.ingest(lake), lake)
    line = (
        f"S3 gone after {GONE_AFTER} requests: run failed in {run.seconds:.0f}s with "
        f"{committed} reports committed; rerun equal"
    )
    print(line)
    record_property("summary", line)


def test_a_lease_whose_conditional_write_lost_its_answer_is_still_ours(rig: Rig) -> None:
    """The store creates the lease, the answer is lost, the SDK retries and gets 412."""
    lake = rig.new_lake("lake-s3-lease")
    client = s3_client(endpoint_url=rig.proxy.url, region="us-east-1")
    location = resolve_location(lake.uri, s3_endpoint_url=rig.proxy.url)
    rig.proxy.script("reset-after")
    with lake_lease(location, s3_client=client, wait_s=2, poll_s=0.1):
        assert f"lake/{LEASE_KEY}" in lake.object_keys()
    assert rig.proxy.stats.faults["reset-after"] == 1
    assert lake.object_keys() == [], "released"
