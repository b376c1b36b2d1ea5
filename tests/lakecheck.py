"""Compare a lake with a clean run's, row by row: the check behind every fault test.

``snapshot`` reads every data table (and quarantine) without the columns that differ between
two correct runs (when a row was written, where its original was archived); two lakes are the
same when every table has the same rows. ``committed_keys`` reads a source's state the same
way. A run that failed part-way must leave a lake that is a *part* of the clean one
(``assert_part_of``) with state for committed reports only (``assert_state_follows_data``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from reportlake import lake as lake_io
from reportlake.storage import Location, resolve_location
from reportlake.tables import DATA_TABLES

VOLATILE = {"raw_uri", "ingested_at", "quarantined_at"}
TABLES = (*DATA_TABLES, "quarantine")
SORT_KEYS = ("report_id", "source_uri", "position", "ticker", "title")

Snapshot = dict[str, pa.Table]


@dataclass
class Tally:
    """How much the fault tests compared, for their summary lines and docs/reliability.md."""

    lakes: int = 0
    rows: int = 0
    faults: Counter[str] = field(default_factory=Counter)

    def compared(self, snap: Snapshot) -> None:
        self.lakes += 1
        self.rows += rows_in(snap)

    def line(self, what: str) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        return f"{what}: {self.lakes} lakes compared, {self.rows} rows equal; faults: {faults}"


def open_lake(lake: str, endpoint: str | None = None) -> Location:
    return resolve_location(lake, s3_endpoint_url=endpoint)


def snapshot(lake: str, endpoint: str | None = None) -> Snapshot:
    """Every table of the lake, without volatile columns, in a stable row order."""
    loc = open_lake(lake, endpoint)
    out = {}
    for name in TABLES:
        table = lake_io.read_table(loc, name)
        keep = [c for c in table.column_names if c not in VOLATILE]
        keys = [c for c in SORT_KEYS if c in keep]
        out[name] = table.select(keep).sort_by([(k, "ascending") for k in keys])
    return out


def rows_in(snap: Snapshot) -> int:
    return sum(t.num_rows for t in snap.values())


def assert_same_lake(got: Snapshot, want: Snapshot) -> None:
    """Every table has exactly the clean run's rows: none missing, none extra, none changed."""
    for name, table in want.items():
        assert got[name].num_rows == table.num_rows, (
            f"{name}: {got[name].num_rows} rows, a clean run has {table.num_rows}"
        )
        assert got[name].equals(table), f"{name} differs from a clean run"


def _row_keys(table: pa.Table) -> Counter[str]:
    return Counter(json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())


def assert_part_of(got: Snapshot, want: Snapshot) -> None:
    """Every row of ``got`` is a row of the clean run (an interrupted run adds nothing else)."""
    for name, table in got.items():
        extra = _row_keys(table) - _row_keys(want[name])
        assert not extra, f"{name}: {sum(extra.values())} rows a clean run does not have"


def committed_keys(
    lake: str, source: str, endpoint: str | None = None
) -> set[tuple[str, str | None, str | None]]:
    """The source's committed ``(key, version, report_id)`` (duplicates across files are one)."""
    loc = open_lake(lake, endpoint)
    selector = pafs.FileSelector(loc.join("_state", source, "keys"), allow_not_found=True)
    found: set[tuple[str, str | None, str | None]] = set()
    for info in loc.fs.get_file_info(selector):
        if info.base_name.startswith(".") or not info.base_name.endswith(".parquet"):
            continue
        table = pq.read_table(info.path, filesystem=loc.fs, columns=["key", "version", "report_id"])
        found.update(
            zip(
                table.column("key").to_pylist(),
                table.column("version").to_pylist(),
                table.column("report_id").to_pylist(),
                strict=True,
            )
        )
    return found


def assert_state_follows_data(
    lake: str, source: str, snap: Snapshot, endpoint: str | None = None
) -> int:
    """Every committed key names a report the lake holds; returns how many keys there are.

    State is written after the data it covers, so a key whose report is missing means a run
    recorded work it had not committed: the next run would skip that report for good.
    """
    in_lake = set(snap["reports"].column("report_id").to_pylist())
    in_lake |= set(snap["quarantine"].column("report_id").to_pylist())
    keys = committed_keys(lake, source, endpoint)
    lost = sorted(k for k, _, rid in keys if rid not in in_lake)
    assert not lost, f"state records {len(lost)} keys whose reports are not in the lake: {lost[:5]}"
    return len(keys)


def assert_files_readable(lake: str, endpoint: str | None = None) -> int:
    """Every visible Parquet file of the lake reads in full (no torn or empty file is visible)."""
    loc = open_lake(lake, endpoint)
    selector = pafs.FileSelector(loc.root, recursive=True, allow_not_found=True)
    count = 0
    for info in loc.fs.get_file_info(selector):
        name = info.base_name
        if info.type != pafs.FileType.File or not name.endswith(".parquet"):
            continue
        relative = info.path[len(loc.root) :].lstrip("/")
        if any(part.startswith(".") for part in relative.split("/")):
            continue  # hidden: a crashed write's temporary file, never read by anyone
        pq.read_table(info.path, filesystem=loc.fs)
        count += 1
    return count


def assert_interrupted_cleanly(
    lake: str, source: str, clean: Snapshot, endpoint: str | None = None
) -> tuple[Snapshot, int]:
    """What a killed or failed run left: a part of the clean lake, readable, state in step.

    Returns the lake's snapshot and how many keys its state holds.
    """
    partial = snapshot(lake, endpoint)
    assert_part_of(partial, clean)
    keys = assert_state_follows_data(lake, source, partial, endpoint)
    assert_files_readable(lake, endpoint)
    return partial, keys
