"""One writer per lake: a lease object under ``_state/`` taken with a conditional write.

Local lakes use ``flock`` on ``_state/lease.lock`` (the kernel frees it when the holder dies).
Object stores have no locks, so the lease is an object created with ``If-None-Match: *``: only
one writer can create it. It names its holder (host, pid) and expires: a lease whose holder is a
dead process on this host, or whose time is up, is taken over with ``If-Match`` on its ETag, so
two runs can never both win it. Prefect runs also hold a global concurrency limit on the lake.

A conditional write whose answer is lost (a reset connection) is retried by the SDK and then
fails its condition against the write it made itself: the lease names a random holder id, so
reading it back tells a lost answer from a lost race.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from reportlake.errors import ReportlakeError, TransientError
from reportlake.storage import Location

log = logging.getLogger(__name__)

LEASE_KEY = "_state/lease.json"


class LeaseBusyError(ReportlakeError):
    """Another run holds the lake's lease."""


class StoreUnreachableError(TransientError):
    """The object store did not answer; nothing was written by this call."""


@contextmanager
def _reaching(client: Any, lake: Location) -> Iterator[None]:
    """Turn botocore's connection failures into one message naming the endpoint and the lake."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    try:
        yield
    except (BotoConnectionError, HTTPClientError) as exc:
        endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None) or lake.endpoint
        raise StoreUnreachableError(
            f"S3 endpoint {endpoint} is unreachable ({type(exc).__name__}: {exc}); could not "
            f"take the lease of lake {lake.uri}, nothing was written: check "
            "REPORTLAKE_S3_ENDPOINT_URL and that the store is up, then run again"
        ) from exc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def lake_lease(
    lake: Location,
    *,
    s3_client: Any = None,
    ttl_s: float = 3600.0,
    wait_s: float = 0.0,
    poll_s: float = 1.0,
) -> Iterator[str]:
    """Hold the lake's single-writer lease for the block; yields the holder id.

    Raises LeaseBusyError if another live run holds it after ``wait_s`` seconds.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + wait_s
    if lake.is_local:
        path = Path(lake.root) / LEASE_KEY
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.with_suffix(".lock").open("a+") as fh:
            _flock(fh, deadline, poll_s, lake.uri)
            yield holder
        return
    lease = _S3Lease(lake, s3_client, holder, ttl_s)
    with _reaching(s3_client, lake):
        while not lease.try_acquire():
            if time.monotonic() >= deadline:
                raise LeaseBusyError(
                    f"lake {lake.uri} is being written by {lease.current_holder()}: wait for that "
                    f"run to finish (the lease expires {ttl_s:.0f}s after it was taken)"
                )
            time.sleep(poll_s)
    try:
        yield holder
    finally:
        try:
            lease.release()
        except Exception as exc:  # noqa: BLE001 - must not hide the run's own outcome
            # Another run takes it over once this process has exited (same host) or at expiry.
            log.warning(
                "could not release the lease of lake %s (%s: %s); it expires %.0fs after it was "
                "taken",
                lake.uri,
                type(exc).__name__,
                exc,
                ttl_s,
            )


def _flock(fh: IO[str], deadline: float, poll_s: float, uri: str) -> None:
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LeaseBusyError(
                    f"lake {uri} is being written by another run on this machine: wait for it "
                    "to finish"
                ) from None
            time.sleep(poll_s)


class _S3Lease:
    def __init__(self, lake: Location, client: Any, holder: str, ttl_s: float) -> None:
        if client is None:
            raise ReportlakeError("an S3 lake needs an S3 client for its lease")
        self.client, self.holder, self.ttl_s = client, holder, ttl_s
        self.bucket, _, prefix = lake.root.partition("/")
        self.key = f"{prefix}/{LEASE_KEY}" if prefix else LEASE_KEY
        self.etag: str | None = None

    def _body(self) -> bytes:
        now = dt.datetime.now(dt.UTC)
        return json.dumps(
            {
                "holder": self.holder,
                "acquired_at": now.isoformat(),
                "expires_at": (now + dt.timedelta(seconds=self.ttl_s)).isoformat(),
            }
        ).encode()

    def _read(self) -> tuple[dict[str, Any], str] | None:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except self.client.exceptions.NoSuchKey:
            return None
        return json.loads(obj["Body"].read()), obj["ETag"]

    def current_holder(self) -> str:
        found = self._read()
        return str(found[0].get("holder")) if found else "(nobody)"

    def try_acquire(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            put = self.client.put_object(
                Bucket=self.bucket, Key=self.key, Body=self._body(), IfNoneMatch="*"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {
                "PreconditionFailed",
                "ConditionalRequestConflict",
            }:
                raise
        else:
            self.etag = put["ETag"]
            return True
        found = self._read()
        if found is None:
            return False  # released in between: try again
        current, etag = found
        if current.get("holder") == self.holder:
            self.etag = etag  # our own write went through; only its answer was lost
            return True
        if not self._stale(current):
            return False
        try:  # take over the stale lease, unless someone else just did
            put = self.client.put_object(
                Bucket=self.bucket, Key=self.key, Body=self._body(), IfMatch=etag
            )
        except ClientError:
            return False
        self.etag = put["ETag"]
        return True

    @staticmethod
    def _stale(current: dict[str, Any]) -> bool:
        expires = dt.datetime.fromisoformat(str(current.get("expires_at")))
        if expires < dt.datetime.now(dt.UTC):
            return True
        host, _, rest = str(current.get("holder", "")).partition(":")
        pid = rest.partition(":")[0]
        return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))

    def release(self) -> None:
        found = self._read()
        if found and found[0].get("holder") == self.holder:
            self.client.delete_object(Bucket=self.bucket, Key=self.key)
