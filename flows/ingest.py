"""The ``ingest-reports`` flow: list what is new, ingest it batch by batch, publish a summary."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from prefect import flow

from reportlake.runs import RunSummary, resolve_window
from reportlake.settings import Settings
from tasks.ingest import finish_run, ingest_batch, list_batches, publish_summary
from tasks.lease import lake_guard


@flow(name="ingest-reports", log_prints=False, persist_result=False)
def ingest_reports(
    source: Literal["inbox", "s3", "eastmoney"] | None = None,
    inbox: str | None = None,
    landing: str | None = None,
    lake: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    batch_size: int | None = None,
) -> RunSummary:
    """Ingest what is new at the source into the lake (defaults from REPORTLAKE_* settings).

    Without ``since``, a dated source is listed from its stored cursor minus the lookback.
    """
    settings = Settings.load(
        source=source, inbox=inbox, landing=landing, lake=lake, batch_size=batch_size
    )
    with lake_guard(settings):
        plan = list_batches(settings, resolve_window(settings, since, until))
        # Batches run one after another: each merges its partitions into the lake and sees the
        # report ids written by the batches before it, so duplicates across batches are caught.
        results = [ingest_batch(settings, batch) for batch in plan.batches]
        finish_run(settings, plan.window, results)
    return publish_summary(settings, plan, results)


if __name__ == "__main__":
    ingest_reports()
