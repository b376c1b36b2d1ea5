"""The lake lease: one writer at a time, and a dead writer's lease can be taken over."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from reportlake.lease import LEASE_KEY, LeaseBusyError, lake_lease
from reportlake.storage import resolve_location


def _take_lease_in_subprocess(path: Path, then: str = "pass") -> subprocess.CompletedProcess[str]:
    code = (
        "import os, signal\n"
        "from reportlake.lease import lake_lease\n"
        "from reportlake.storage import resolve_location\n"
        f"with lake_lease(resolve_location({str(path)!r})):\n    {then}\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_local_lease_is_exclusive_and_released(tmp_path: Path) -> None:
    lake = resolve_location(str(tmp_path))
    with lake_lease(lake):
        other = _take_lease_in_subprocess(tmp_path)
        assert other.returncode == 1 and "LeaseBusyError" in other.stderr
    assert _take_lease_in_subprocess(tmp_path).returncode == 0  # free once released


def test_local_lease_of_a_killed_process_is_free(tmp_path: Path) -> None:
    killed = _take_lease_in_subprocess(tmp_path, then="os.kill(os.getpid(), signal.SIGKILL)")
    assert killed.returncode == -9
    with lake_lease(resolve_location(str(tmp_path))):
        pass


@pytest.fixture
def s3(s3_endpoint: str) -> object:
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


def test_s3_lease_is_exclusive_with_conditional_writes(
    s3: object, s3_endpoint: str, s3_bucket: str
) -> None:
    lake = resolve_location(f"s3://{s3_bucket}/lake", s3_endpoint_url=s3_endpoint)
    with lake_lease(lake, s3_client=s3) as holder:
        body = json.loads(s3.get_object(Bucket=s3_bucket, Key=f"lake/{LEASE_KEY}")["Body"].read())  # type: ignore[attr-defined]
        assert body["holder"] == holder
        with (
            pytest.raises(LeaseBusyError, match="is being written by"),
            lake_lease(lake, s3_client=s3),
        ):
            pass
    with lake_lease(lake, s3_client=s3):
        pass


@pytest.mark.parametrize("stale", ["dead-pid", "expired"])
def test_s3_lease_of_a_dead_or_expired_holder_is_taken_over(
    s3: object, s3_endpoint: str, s3_bucket: str, stale: str
) -> None:
    import socket

    now = dt.datetime.now(dt.UTC)
    holder = (
        f"{socket.gethostname()}:999999999:deadbeef" if stale == "dead-pid" else "other-host:1:x"
    )
    expires = now + dt.timedelta(hours=1) if stale == "dead-pid" else now - dt.timedelta(seconds=1)
    s3.put_object(  # type: ignore[attr-defined]
        Bucket=s3_bucket,
        Key=f"lake/{LEASE_KEY}",
        Body=json.dumps({"holder": holder, "expires_at": expires.isoformat()}).encode(),
    )
    lake = resolve_location(f"s3://{s3_bucket}/lake", s3_endpoint_url=s3_endpoint)
    with lake_lease(lake, s3_client=s3) as mine:
        assert mine != holder


def test_s3_lease_of_a_live_holder_elsewhere_is_respected(
    s3: object, s3_endpoint: str, s3_bucket: str
) -> None:
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    s3.put_object(  # type: ignore[attr-defined]
        Bucket=s3_bucket,
        Key=f"lake/{LEASE_KEY}",
        Body=json.dumps({"holder": "other-host:1:x", "expires_at": expires.isoformat()}).encode(),
    )
    lake = resolve_location(f"s3://{s3_bucket}/lake", s3_endpoint_url=s3_endpoint)
    with pytest.raises(LeaseBusyError, match="other-host"), lake_lease(lake, s3_client=s3):
        pass
