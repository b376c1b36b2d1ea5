"""Query the lake with DuckDB: one view per table, hive partitions as the ``dt`` column."""

from __future__ import annotations

import duckdb

from reportlake import lake as lake_io
from reportlake.runs import open_lake
from reportlake.settings import Settings
from reportlake.tables import SCHEMAS

EXAMPLE_SQL = """\
SELECT r.dt, r.broker, r.rating, r.rating_action, r.format, left(r.title, 20) AS title,
       list(a.name ORDER BY a.position) AS analysts
FROM reports r LEFT JOIN analysts a USING (report_id)
GROUP BY r.report_id, r.dt, r.broker, r.rating, r.rating_action, r.format, r.title
ORDER BY r.dt DESC, r.broker, r.format"""


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view (or, for object stores, an Arrow table) per lake table."""
    lake = open_lake(settings)
    con = duckdb.connect()
    for name in SCHEMAS:
        if lake.is_local:
            if not lake_io.partition_dirs(lake, name):
                con.register(name, SCHEMAS[name].empty_table())
                continue
            glob = lake.join(name, "*", "*.parquet").replace("'", "''")
            con.execute(
                f"CREATE VIEW {name} AS SELECT * FROM "
                f"read_parquet('{glob}', hive_partitioning = true, union_by_name = true)"
            )
        else:
            # No httpfs extension needed: pyarrow reads the object store, DuckDB the Arrow data.
            con.register(name, lake_io.read_table(lake, name))
    return con


def run_query(settings: Settings, sql: str) -> str:
    """Run SQL over the lake and render the result as a table."""
    return str(connect(settings).sql(sql))


def example_query(settings: Settings) -> tuple[str, str]:
    """The example query shown after an ingest, and its rendered result."""
    return EXAMPLE_SQL, run_query(settings, EXAMPLE_SQL)
