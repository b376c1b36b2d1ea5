"""Per-source ingest state under ``<lake>/_state/<source>/``, written after the data it covers.

- ``keys/<utc-time>-<run>.parquet``: the source keys (inbox path, object key, infoCode) a batch
  has committed, with their version (ETag, listing time), report_id and source URI. Append-only:
  a batch adds one file, so a crash can lose at most the record of work that the lake itself
  already shows (the next run redoes those reports, and merging by report_id keeps them single).
  The keys of every source together are the lake's index of what it holds (:func:`load_known`),
  so a run never scans the lake's tables to find duplicates.
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
        pa.field("source_uri", pa.string()),
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


def _key_files(lake: Location, source: str | None) -> list[str]:
    """The key files of one source, or of every source (``None``)."""
    if source is None:
        selector = pafs.FileSelector(lake.join("_state"), recursive=True, allow_not_found=True)
    else:
        keys = posixpath.join(_dir(lake, source), "keys")
        selector = pafs.FileSelector(keys, allow_not_found=True)
    return sorted(
        info.path
        for info in lake.fs.get_file_info(selector)
        if info.type == pafs.FileType.File
        and posixpath.basename(posixpath.dirname(info.path)) == "keys"
        and info.base_name.endswith(".parquet")
        and not info.base_name.startswith(".")
    )


def _read_keys(lake: Location, path: str, columns: list[str]) -> pa.Table:
    """A key file's columns; files from before ``source_uri`` was recorded read it as null."""
    with lake.fs.open_input_file(path) as f:  # not pq.read_table: it loads pandas, a second
        table = pq.ParquetFile(f).read()
    for name in columns:
        if name not in table.column_names:
            table = table.append_column(
                name, pa.nulls(table.num_rows, KEYS_SCHEMA.field(name).type)
            )
    return table.select(columns)


def load_state(lake: Location, source: str) -> SourceState:
    """The committed keys and cursor of ``source`` (empty on a new lake)."""
    state = SourceState(source, high_water=load_cursor(lake, source))
    for path in _key_files(lake, source):
        table = _read_keys(lake, path, ["key", "version"])
        state.keys.update(
            zip(table.column("key").to_pylist(), table.column("version").to_pylist(), strict=True)
        )
    return state


def load_known(lake: Location) -> dict[str, list[str]] | None:
    """report_id -> the source URIs every source has committed it from.

    None when some key file predates recorded URIs: the caller must then ask the lake itself.
    """
    known: dict[str, list[str]] = {}
    for path in _key_files(lake, None):
        table = _read_keys(lake, path, ["report_id", "source_uri"])
        if table.column("source_uri").null_count:
            return None
        for rid, uri in zip(
            table.column("report_id").to_pylist(),
            table.column("source_uri").to_pylist(),
            strict=True,
        ):
            uris = known.setdefault(rid, [])
            if uri not in uris:
                uris.append(uri)
    return known


def record_keys(
    lake: Location, source: str, rows: Iterable[tuple[str, str | None, str, str]]
) -> int:
    """Append committed ``(key, version, report_id, source_uri)`` rows; returns how many."""
    now = dt.datetime.now(dt.UTC)
    table = pa.Table.from_pylist(
        [
            {"key": k, "version": v, "report_id": r, "source_uri": u, "committed_at": now}
            for k, v, r, u in rows
        ],
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
    merged = pa.concat_tables(_read_keys(lake, p, KEYS_SCHEMA.names) for p in files)
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
