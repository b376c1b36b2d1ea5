"""The lake writer: partition layout, merge-by-report_id, atomic files, readable by every reader."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest

from reportlake import lake as lake_io
from reportlake.models import Analyst, Report, TickerMention
from reportlake.storage import resolve_location
from reportlake.tables import reports_to_tables


def make_report(n: int, day: dt.date, **overrides: object) -> Report:
    fields: dict[str, object] = {
        "report_id": f"{n:064x}",
        "source_uri": f"file:///inbox/{n}.pdf",
        "title": f"测试报告第{n}号：行业景气度持续回升",
        "broker": "上海证券",
        "publish_date": day,
        "publish_date_source": "header",
        "format": "pdf",
        "page_count": 10,
        "char_count": 5000,
        "text": "正文" * 100,
        "analysts": [Analyst(name="刘京昭", role="分析师", sac_id="S0870523040005")],
        "tickers": [TickerMention(ticker="688256.SH", name="寒武纪")],
    }
    fields.update(overrides)
    return Report.model_validate(fields)


def test_partition_paths_are_hive_by_publish_date(tmp_path: Path) -> None:
    loc = resolve_location(str(tmp_path))
    path = lake_io.partition_path(loc, "reports", dt.date(2024, 12, 30))
    assert path == f"{tmp_path}/reports/dt=2024-12-30/part-0.parquet"
    assert lake_io.partition_path(loc, "quarantine", None).endswith(
        "quarantine/dt=__HIVE_DEFAULT_PARTITION__/part-0.parquet"
    )


def test_merge_replaces_rows_of_the_same_report_and_keeps_others(tmp_path: Path) -> None:
    loc = resolve_location(str(tmp_path))
    day = dt.date(2024, 12, 30)
    lake_io.write_tables(loc, reports_to_tables([make_report(1, day), make_report(2, day)]))
    # Same day, one report again (re-ingested) and one new: the partition holds three reports.
    lake_io.write_tables(
        loc,
        reports_to_tables([make_report(2, day, title="新标题：重写后的报告"), make_report(3, day)]),
    )
    reports = lake_io.read_table(loc, "reports").to_pandas().set_index("report_id")
    assert len(reports) == 3
    assert reports.loc[f"{2:064x}", "title"] == "新标题：重写后的报告"
    analysts = lake_io.read_table(loc, "analysts")
    assert analysts.num_rows == 3
    files = sorted(p.name for p in (tmp_path / "reports" / "dt=2024-12-30").iterdir())
    assert files == ["part-0.parquet"], "one file per partition, no temporary leftovers"


def test_lake_reads_with_pyarrow_pandas_and_duckdb(tmp_path: Path) -> None:
    loc = resolve_location(str(tmp_path))
    lake_io.write_tables(
        loc,
        reports_to_tables(
            [make_report(1, dt.date(2024, 12, 30)), make_report(2, dt.date(2024, 12, 25))]
        ),
    )
    by_arrow = ds.dataset(tmp_path / "reports", format="parquet", partitioning="hive").to_table()
    assert sorted(by_arrow.column("dt").to_pylist()) == ["2024-12-25", "2024-12-30"]
    by_pandas = pd.read_parquet(tmp_path / "stock_mentions")
    assert set(by_pandas["ticker"]) == {"688256.SH"}
    glob = f"{tmp_path}/reports/*/*.parquet"
    rows = duckdb.sql(
        f"SELECT dt, count(*) FROM read_parquet('{glob}', hive_partitioning = true) "
        "GROUP BY dt ORDER BY dt"
    ).fetchall()
    assert rows == [(dt.date(2024, 12, 25), 1), (dt.date(2024, 12, 30), 1)]


def test_failed_write_leaves_the_previous_partition_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loc = resolve_location(str(tmp_path))
    day = dt.date(2024, 12, 30)
    lake_io.write_tables(loc, reports_to_tables([make_report(1, day)]))

    def die(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("pyarrow.parquet.write_table", die)
    with pytest.raises(OSError, match="disk full"):
        lake_io.write_tables(loc, reports_to_tables([make_report(2, day)]))
    monkeypatch.undo()
    assert lake_io.read_table(loc, "reports").column("report_id").to_pylist() == [f"{1:064x}"]
    assert [p.name for p in (tmp_path / "reports" / "dt=2024-12-30").iterdir()] == [
        "part-0.parquet"
    ]


@pytest.mark.parametrize("store", ["local", "s3"])
def test_a_failed_partition_stops_the_tables_after_it(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if store == "s3":  # object storage: a failed PUT leaves no partial object behind
        endpoint, bucket = (request.getfixturevalue(f) for f in ("s3_endpoint", "s3_bucket"))
        loc = resolve_location(f"s3://{bucket}/lake", s3_endpoint_url=endpoint)
    else:
        loc = resolve_location(str(tmp_path))
    days = [dt.date(2024, 12, d) for d in (23, 24, 25, 26, 27, 30)]
    tables = reports_to_tables([make_report(n, day) for n, day in enumerate(days)])
    ordered = {name: tables[name] for name in ("analysts", "stock_mentions", "reports")}
    merge = lake_io._merge_partition

    def fail_one_day(loc: object, name: str, value: str, *args: object) -> None:
        if name == "stock_mentions" and value == "2024-12-25":
            raise OSError("disk full")
        merge(loc, name, value, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(lake_io, "_merge_partition", fail_one_day)
    with pytest.raises(OSError, match="disk full"):
        lake_io.write_tables(loc, ordered)
    # The table before is whole; no report row without its child rows.
    assert lake_io.read_table(loc, "analysts").num_rows == len(days)
    assert lake_io.read_table(loc, "reports").num_rows == 0

    monkeypatch.undo()
    assert lake_io.write_tables(loc, ordered) == {name: len(days) for name in ordered}
    reports = lake_io.read_table(loc, "reports")
    assert sorted(reports.column("publish_date").to_pylist()) == days


def test_known_sources_lists_reports_and_quarantine(tmp_path: Path) -> None:
    loc = resolve_location(str(tmp_path))
    assert lake_io.known_sources(loc) == {}
    lake_io.write_tables(loc, reports_to_tables([make_report(7, dt.date(2024, 1, 2))]))
    assert lake_io.known_sources(loc) == {f"{7:064x}": ["file:///inbox/7.pdf"]}


@pytest.mark.parametrize(
    ("suffix", "stored"),
    [(".PDF", ".pdf"), (".html", ".html"), ("", ".bin"), (".研究报告", ".bin"), ("./../x", ".bin")],
)
def test_raw_originals_keep_only_plain_suffixes(suffix: str, stored: str, tmp_path: Path) -> None:
    loc = resolve_location(str(tmp_path))
    path = lake_io.raw_path(loc, "ab" * 32, None, suffix)
    assert path == loc.join("raw", f"dt={lake_io.NULL_PARTITION}", "ab" * 32 + stored)
