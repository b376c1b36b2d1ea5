"""Dates in every printed format, and the report's own publish date."""

from __future__ import annotations

import datetime as dt

import pytest

from reportlake.parsing import parse_text
from reportlake.parsing.dates import find_dates, parse_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024.12.15", dt.date(2024, 12, 15)),
        ("20241216", dt.date(2024, 12, 16)),
        ("2024/9/26", dt.date(2024, 9, 26)),
        ("2024-12-30", dt.date(2024, 12, 30)),
        ("2024 年 12 月 30 日", dt.date(2024, 12, 30)),
        ("2024年12月30日", dt.date(2024, 12, 30)),
        # page number 1 glued in front of the date
        ("12021年3月27日", dt.date(2021, 3, 27)),
    ],
)
def test_date_formats(text: str, expected: dt.date) -> None:
    assert parse_date(text) == expected


def test_not_dates() -> None:
    assert parse_date("2024-11：25 年多领域成长") is None
    assert parse_date("2024年13月40日") is None
    assert parse_date("v1.2024.1.1") is None


def test_range_end_takes_the_year_of_its_start() -> None:
    found = [d.date for d in find_dates("2024年9月11日至10月11日，计算机行业指数上涨")]
    assert found == [dt.date(2024, 9, 11), dt.date(2024, 10, 11)]


def test_labelled_date_wins_over_a_repost_timestamp() -> None:
    text = "标题：某行业周报\n2024年12月26日 08:18 市场资讯\n正文……\n报告发布日期：2024年12月25日\n"
    report = parse_text(text)
    assert report.publish_date == dt.date(2024, 12, 25)
    assert report.publish_date_source == "header"


@pytest.mark.parametrize(
    "label", ["日期：", "发布日期：", "报告日期 ", "報告發布日期:", "行业：通信日期："]
)
def test_date_label_variants(label: str) -> None:
    report = parse_text(f"某公司深度报告：业绩拐点已至\n{label}2024.12.15\n")
    assert report.publish_date == dt.date(2024, 12, 15)
    assert report.publish_date_source == "header"


def test_data_dates_are_not_the_publish_date() -> None:
    text = "光模块行业跟踪：需求强劲\n公告日期\t2024/9/26\n注：股价截至2024年10月11日\n"
    report = parse_text(text)
    assert report.publish_date == dt.date(2024, 10, 11)
    assert report.publish_date_source == "inferred"


def test_forecast_dates_are_not_inferred() -> None:
    report = parse_text("电子行业点评：扩产\n截至2024年5月27日，公司预计2026年12月31日前投产。")
    assert report.publish_date == dt.date(2024, 5, 27)


def test_no_date_at_all() -> None:
    report = parse_text("电子行业点评：扩产加速，需求旺盛\n没有日期的正文。")
    assert report.publish_date is None and report.publish_date_source is None
