"""Per-source ingest state under ``<lake>/_state/<source>/``, written after the data it covers.

- ``keys/<utc-time>-<run>.parquet``: the source keys (inbox path, object key, infoCode) a batch
  has committed, with their version (ETag, listing time) and report_id. Append-only: a batch
  adds one file, so a crash can lose at most the record of work that the lake itself already
  shows (the next run then finds those reports in the lake by content hash and skips them).
- ``cursor.json``: the high-water publish date listed so far; the next run lists from it minus
  the lookback, so late reports still get picked up.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from reportlake.storage import (
    Location,
    exists,
    read_bytes,
    write_bytes_atomic,
    write_parquet_atomic,
)

KEYS_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("version", pa.string()),
        pa.field("report_id", pa.string()),
        pa.field("committed_at", pa.timestamp("us", tz="UTC")),
    ]
)
_COMPACT_AFTER = 64  # key files; then they are merged into one


@dataclass
class SourceState:
    source: str
    high_water: dt.date | None = None
    keys: dict[str, str | None] = field(default_factory=dict)  # key -> version

    def is_done(self, key: str, version: str | None) -> bool:
        """Whether this key, at this version, was committed by an earlier run."""
        return key in self.keys and self.keys[key] == version


def _dir(lake: Location, source: str) -> str:
    return lake.join("_state", source)


def _key_files(lake: Location, source: str) -> list[str]:
    selector = pafs.FileSelector(posixpath.join(_dir(lake, source), "keys"), allow_not_found=True)
    return sorted(
        info.path
        for info in lake.fs.get_file_info(selector)
        if info.type == pafs.FileType.File
        and info.base_name.endswith(".parquet")
        and not info.base_name.startswith(".")
    )


def load_state(lake: Location, source: str) -> SourceState:
    """The committed keys and cursor of ``source`` (empty on a new lake)."""
    state = SourceState(source, high_water=load_cursor(lake, source))
    for path in _key_files(lake, source):
        table = pq.read_table(path, filesystem=lake.fs, columns=["key", "version"])
        state.keys.update(
            zip(table.column("key").to_pylist(), table.column("version").to_pylist(), strict=True)
        )
    return state


def record_keys(
    lake: Location, source: str, rows: Iterable[tuple[str, str | None, str | None]]
) -> int:
    """Append committed ``(key, version, report_id)`` rows; returns how many were written."""
    now = dt.datetime.now(dt.UTC)
    table = pa.Table.from_pylist(
        [{"key": k, "version": v, "report_id": r, "committed_at": now} for k, v, r in rows],
        schema=KEYS_SCHEMA,
    )
    if table.num_rows == 0:
        return 0
    name = f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
    write_parquet_atomic(lake, posixpath.join(_dir(lake, source), "keys", name), table)
    files = _key_files(lake, source)
    if len(files) > _COMPACT_AFTER:
        _compact(lake, source, files)
    return int(table.num_rows)


def _compact(lake: Location, source: str, files: list[str]) -> None:
    # Merge into a new file first, then delete the old ones: a crash in between only leaves
    # duplicate keys, which the state reads as one.
    merged = pa.concat_tables(pq.read_table(p, filesystem=lake.fs) for p in files)
    name = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-compacted.parquet"
    write_parquet_atomic(lake, posixpath.join(_dir(lake, source), "keys", name), merged)
    for path in files:
        lake.fs.delete_file(path)


def save_cursor(lake: Location, source: str, high_water: dt.date) -> None:
    """Move the listing high-water mark forward (never back)."""
    current = load_cursor(lake, source)
    if current is not None and current >= high_water:
        return
    body = json.dumps(
        {"high_water": high_water.isoformat(), "updated_at": dt.datetime.now(dt.UTC).isoformat()}
    )
    write_bytes_atomic(lake, posixpath.join(_dir(lake, source), "cursor.json"), body.encode())


def load_cursor(lake: Location, source: str) -> dt.date | None:
    path = posixpath.join(_dir(lake, source), "cursor.json")
    if not exists(lake, path):
        return None
    value = json.loads(read_bytes(lake, path)).get("high_water")
    return dt.date.fromisoformat(value) if value else None
