"""The lake: hive-partitioned Parquet tables by publish date, plus archived originals under raw/.

Layout (the contract in docs/schema.md)::

    <lake>/<table>/dt=YYYY-MM-DD/part-0.parquet     table in reports, analysts, stock_mentions,
                                                     related_reports, quarantine
    <lake>/quarantine/dt=__HIVE_DEFAULT_PARTITION__/part-0.parquet   quarantined, date unknown
    <lake>/raw/dt=YYYY-MM-DD/<report_id><suffix>     the original bytes

Each partition is one file, replaced whole: new rows are merged with the partition's current
rows (keyed by report_id) and the file is swapped atomically, so a reader sees the partition
before or after a run, never half of it, and a rerun adds no duplicates.
"""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from reportlake.storage import Location, exists, write_parquet_atomic
from reportlake.tables import SCHEMAS

log = logging.getLogger(__name__)

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # pyarrow's and DuckDB's null partition value
PART_FILE = "part-0.parquet"
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")  # file name extensions kept on raw/ originals
# Columns that identify one row of each table; rows of a report are replaced as a whole.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "reports": ("report_id",),
    "analysts": ("report_id",),
    "stock_mentions": ("report_id",),
    "related_reports": ("report_id",),
    "quarantine": ("report_id", "source_uri"),
}


def partition_value(publish_date: dt.date | None) -> str:
    """The ``dt=`` value of a publish date (the null partition when unknown)."""
    return publish_date.isoformat() if publish_date else NULL_PARTITION


def partition_path(lake: Location, table: str, publish_date: dt.date | None) -> str:
    """Path of the single Parquet file holding ``table`` for one publish date."""
    return lake.join(table, f"dt={partition_value(publish_date)}", PART_FILE)


def raw_path(lake: Location, report_id: str, publish_date: dt.date | None, suffix: str) -> str:
    """Path of an archived original; content-addressed, so writing it twice is harmless.

    ``suffix`` comes from a file name the source chose: anything but a short alphanumeric
    extension (a name without one, a hostile one) is stored as ``.bin``.
    """
    suffix = suffix.lower() if _SUFFIX.fullmatch(suffix) else ".bin"
    return lake.join("raw", f"dt={partition_value(publish_date)}", f"{report_id}{suffix}")


def write_tables(lake: Location, tables: Mapping[str, pa.Table]) -> dict[str, int]:
    """Merge each table's rows into their partitions; return rows written per table.

    Tables are written in the order given (a report's row appears after its child rows), one
    partition at a time, in this thread: buffers that Arrow frees in other threads stay in
    those threads' arenas (merging 4 partitions at a time in threads grew the flow's process
    by ~0.4-0.5 GB at 10,000 reports). Only the key columns are sorted, by partition and then
    as the files are; each partition then takes its rows, so the batch's text is copied one
    partition at a time, not as a whole sorted copy of the table (~22 MB a 500-report batch).
    """
    written: dict[str, int] = {}
    for name, table in tables.items():
        if table.num_rows == 0:
            continue
        order = _file_order(name)
        table = table.cast(SCHEMAS[name])
        keys = table.select(["publish_date", *(column for column, _ in order)])
        indices = pc.sort_indices(keys, sort_keys=[("publish_date", "ascending"), *order])
        days = keys.column("publish_date").take(indices).to_pylist()
        start = 0
        for end in range(1, len(days) + 1):
            if end == len(days) or days[end] != days[start]:
                rows = table.take(indices.slice(start, end - start))
                _merge_partition(lake, name, partition_value(days[start]), rows, order)
                start = end
        written[name] = table.num_rows
    return written


def _file_order(name: str) -> list[tuple[str, str]]:
    """How the rows of a partition's file are sorted: by their key (analysts: and position)."""
    order = [(k, "ascending") for k in ROW_KEYS[name]]
    if name == "analysts":
        order.append(("position", "ascending"))
    return order


def _merge_partition(
    lake: Location, name: str, value: str, rows: pa.Table, order: list[tuple[str, str]]
) -> None:
    """Write ``rows`` (sorted) into their partition's file, replacing rows with the same key."""
    path = lake.join(name, f"dt={value}", PART_FILE)
    try:  # one request, not a HEAD and then a GET, on object storage
        current = pq.read_table(path, filesystem=lake.fs, schema=SCHEMAS[name])
    except FileNotFoundError:
        pass  # a new partition
    else:
        replaced = _key_mask(current, rows, ROW_KEYS[name])
        if pc.any(replaced).as_py():  # a filter copies the partition even when it keeps it all
            current = current.filter(pc.invert(replaced))
        rows = pa.concat_tables([current, rows]).sort_by(order)
    write_parquet_atomic(lake, path, rows)
    log.debug("wrote %d rows to %s", rows.num_rows, path)


def _key_mask(current: pa.Table, new: pa.Table, keys: tuple[str, ...]) -> pa.ChunkedArray:
    """True for rows of ``current`` whose key also occurs in ``new`` (they are replaced)."""
    if len(keys) == 1:
        return pc.is_in(current.column(keys[0]), value_set=new.column(keys[0]).combine_chunks())
    joined = [
        pc.binary_join_element_wise(*(t.column(k) for k in keys), "\x1f") for t in (current, new)
    ]
    return pc.is_in(joined[0], value_set=pa.chunked_array(joined[1]).combine_chunks())


def delete_rows(
    lake: Location, table: str, partition: str, keys: Collection[tuple[str, ...]]
) -> int:
    """Remove the rows whose key (``ROW_KEYS[table]``) is in ``keys`` from one partition.

    The partition's file is rewritten atomically, or deleted when no row is left. Returns how
    many rows were removed.
    """
    path = lake.join(table, f"dt={partition}", PART_FILE)
    if not keys or not exists(lake, path):
        return 0
    current = pq.read_table(path, filesystem=lake.fs, schema=SCHEMAS[table])
    columns = [current.column(name).to_pylist() for name in ROW_KEYS[table]]
    drop = pa.array([key in keys for key in zip(*columns, strict=True)], pa.bool_())
    kept = current.filter(pc.invert(drop))
    if kept.num_rows:
        write_parquet_atomic(lake, path, kept)
    else:
        lake.fs.delete_file(path)
    return int(current.num_rows - kept.num_rows)


def read_table(lake: Location, name: str, columns: Iterable[str] | None = None) -> pa.Table:
    """Read a whole lake table (all partitions), with ``dt`` as a column; empty if absent."""
    base = lake.join(name)
    selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
    files = sorted(
        info.path
        for info in lake.fs.get_file_info(selector)
        if info.type == pafs.FileType.File
        and info.base_name.endswith(".parquet")
        and not info.base_name.startswith((".", "_"))
    )
    import pyarrow.dataset as ds  # imports pandas: a second per process that only writes

    schema = SCHEMAS[name].append(pa.field("dt", pa.string()))
    if not files:
        empty = schema.empty_table()
        return empty.select(list(columns)) if columns is not None else empty
    dataset = ds.dataset(
        files,
        filesystem=lake.fs,
        format="parquet",
        schema=schema,
        partitioning=ds.partitioning(pa.schema([("dt", pa.string())]), flavor="hive"),
        partition_base_dir=base,
    )
    return dataset.to_table(columns=list(columns) if columns is not None else None)


def known_sources(lake: Location) -> dict[str, list[str]]:
    """report_id -> the source URIs it was ingested or quarantined from (reports first)."""
    known: dict[str, list[str]] = defaultdict(list)
    for name in ("reports", "quarantine"):
        table = read_table(lake, name, columns=["report_id", "source_uri"])
        ids, uris = table.column("report_id").to_pylist(), table.column("source_uri").to_pylist()
        for rid, uri in zip(ids, uris, strict=True):
            if uri not in known[rid]:
                known[rid].append(uri)
    return dict(known)


def partition_dirs(lake: Location, name: str) -> list[str]:
    """The ``dt=`` directories of a table, sorted."""
    selector = pafs.FileSelector(lake.join(name), allow_not_found=True)
    return sorted(
        posixpath.basename(info.path)
        for info in lake.fs.get_file_info(selector)
        if info.type == pafs.FileType.Directory
    )
