"""Build a run's parts from settings, and summarise what a run did. Prefect-free."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from reportlake import lake as lake_io
from reportlake.pipeline import BatchResult, ingest_batch, load_security_master
from reportlake.settings import Settings
from reportlake.sources import Source, SourceItem
from reportlake.sources.inbox import InboxSource
from reportlake.storage import Location, resolve_location

if TYPE_CHECKING:
    from reportlake.quality import Validator


def open_lake(settings: Settings) -> Location:
    return resolve_location(
        settings.lake, s3_endpoint_url=settings.s3_endpoint_url, s3_region=settings.s3_region
    )


def open_source(settings: Settings) -> Source:
    location = resolve_location(
        settings.inbox, s3_endpoint_url=settings.s3_endpoint_url, s3_region=settings.s3_region
    )
    return InboxSource(location, max_bytes=int(settings.max_file_mb * 2**20))


@cache
def validator_for(suites_dir: Path) -> Validator:
    """One Great Expectations context per process: it takes seconds to build."""
    from reportlake.quality import Validator

    return Validator(suites_dir)


@cache
def _security_master(path: Path | None) -> dict[str, str] | None:
    return load_security_master(path)


def plan_batches(settings: Settings) -> list[list[SourceItem]]:
    """List the source and cut it into batches of ``settings.batch_size`` references."""
    items = list(open_source(settings).list_items())
    size = settings.batch_size
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_batch(settings: Settings, items: Sequence[SourceItem]) -> BatchResult:
    """Ingest one batch into the lake named by ``settings``."""
    lake = open_lake(settings)
    start = time.perf_counter()
    known = lake_io.known_sources(lake)
    result = ingest_batch(
        open_source(settings),
        items,
        lake,
        validator_for(settings.expectations_dir),
        known=known,
        security_master=_security_master(settings.security_master),
    )
    result.seconds["batch"] += time.perf_counter() - start
    return result


@dataclass
class RunSummary:
    """What a whole run did, for the CLI, the logs and the Prefect artifacts."""

    inbox: str
    lake: str
    read: int = 0
    written: int = 0
    skipped: int = 0
    quarantined: int = 0
    per_broker: dict[str, int] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    quarantine_rows: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def from_batches(cls, settings: Settings, results: Iterable[BatchResult]) -> RunSummary:
        total = BatchResult()
        for r in results:
            total.merge(r)
        return cls(
            inbox=settings.inbox,
            lake=settings.lake,
            read=total.read,
            written=total.written,
            skipped=total.skipped,
            quarantined=len(total.quarantined),
            per_broker=dict(total.per_broker.most_common()),
            rows_written=dict(total.rows_written),
            seconds={k: round(v, 3) for k, v in total.seconds.items()},
            quarantine_rows=[
                {
                    "source_uri": q.source_uri,
                    "stage": q.stage,
                    "reasons": "; ".join(q.reasons),
                    "report_id": q.report_id[:12],
                }
                for q in total.quarantined
            ],
        )

    def to_markdown(self) -> str:
        lines = [
            "# ingest-reports",
            "",
            f"- inbox: `{self.inbox}`",
            f"- lake: `{self.lake}`",
            "",
            "| read | written | already in lake | quarantined |",
            "|---:|---:|---:|---:|",
            f"| {self.read} | {self.written} | {self.skipped} | {self.quarantined} |",
            "",
            "## Written per broker",
            "",
            "| broker | reports |",
            "|---|---:|",
            *(f"| {b} | {n} |" for b, n in self.per_broker.items()),
        ]
        if self.quarantine_rows:
            lines += ["", "## Quarantined", "", "| source | stage | reasons |", "|---|---|---|"]
            lines += [
                f"| {q['source_uri'].rsplit('/', 1)[-1]} | {q['stage']} | {q['reasons']} |"
                for q in self.quarantine_rows
            ]
        if self.seconds:
            lines += ["", "## Seconds per stage", "", "| stage | s |", "|---|---:|"]
            lines += [f"| {k} | {v:.2f} |" for k, v in sorted(self.seconds.items())]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        lines = [
            f"reports read: {self.read}   written: {self.written}   "
            f"already in lake: {self.skipped}   quarantined: {self.quarantined}",
            "written per broker:",
            *(f"  {b}: {n}" for b, n in self.per_broker.items()),
        ]
        if self.quarantine_rows:
            lines.append("quarantined:")
            lines += [
                f"  {q['source_uri'].rsplit('/', 1)[-1]} [{q['stage']}] {q['reasons']}"
                for q in self.quarantine_rows
            ]
        return "\n".join(lines)
