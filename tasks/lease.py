"""Keep one writer per lake: a Prefect global concurrency limit plus the lake's own lease."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_run_logger

from reportlake.lease import lake_lease
from reportlake.runs import open_lake, open_s3_client
from reportlake.settings import Settings


def lake_limit_name(lake: str) -> str:
    """The global concurrency limit of one lake (named by a hash: URIs are not valid names)."""
    return "reportlake-lake-" + hashlib.sha256(lake.encode()).hexdigest()[:12]


def _ensure_limit(name: str) -> None:
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with suppress(ObjectAlreadyExists):  # another run created it first
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )


@contextmanager
def lake_guard(settings: Settings) -> Iterator[None]:
    """Hold the lake's concurrency slot (in Prefect) and its lease (in the store) for a run.

    The Prefect limit queues runs cleanly in the UI; the lease also stops runs outside Prefect
    (or on another Prefect server) from writing the same lake at the same time.
    """
    lake = open_lake(settings)
    client = None if lake.is_local else open_s3_client(settings)
    with ExitStack() as stack:
        if settings.prefect_lake_limit:
            name = lake_limit_name(settings.lake)
            _ensure_limit(name)
            # Prefect renews the slot while the run lives; a killed run's slot is freed when
            # its lease runs out (60 s, the server's minimum).
            stack.enter_context(
                concurrency(
                    name,
                    occupy=1,
                    timeout_seconds=settings.lease_wait_s,
                    lease_duration=60,
                    strict=True,
                )
            )
        stack.enter_context(
            lake_lease(
                lake, s3_client=client, ttl_s=settings.lease_ttl_s, wait_s=settings.lease_wait_s
            )
        )
        get_run_logger().info("holding the lease of lake %s", settings.lake)
        yield
