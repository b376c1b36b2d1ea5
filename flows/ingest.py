"""The ``ingest-reports`` flow: list the inbox, ingest it batch by batch, publish a summary."""

from __future__ import annotations

from prefect import flow

from reportlake.runs import RunSummary
from reportlake.settings import Settings
from tasks.ingest import ingest_batch, list_batches, publish_summary


@flow(name="ingest-reports", log_prints=False, persist_result=False)
def ingest_reports(
    inbox: str | None = None, lake: str | None = None, batch_size: int | None = None
) -> RunSummary:
    """Ingest every new report of ``inbox`` into ``lake`` (defaults from REPORTLAKE_* settings)."""
    settings = Settings.load(inbox=inbox, lake=lake, batch_size=batch_size)
    # Batches run one after another: each merges its partitions into the lake and sees the
    # report ids written by the batches before it, so duplicates across batches are caught.
    results = [ingest_batch(settings, batch) for batch in list_batches(settings)]
    return publish_summary(settings, results)


if __name__ == "__main__":
    ingest_reports()
