"""Whole-report parses of the five seed reports: fields the scorer does not compare."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from reportlake.evaluation import LIST_FIELDS, SCALAR_FIELDS, evaluate, format_evaluation
from reportlake.models import ParsedReport
from reportlake.parsing import parse_text

REPORTS = Path(__file__).parent / "fixtures" / "reports"


def report_text(prefix: str) -> str:
    return next(REPORTS.glob(f"{prefix}_*.txt")).read_text("utf-8")


@pytest.mark.parametrize("strip", [False, True])
def test_levels_sources_and_no_warnings(strip: bool) -> None:
    expected = {
        "000": (4, "header", dt.date(2024, 12, 30)),
        "001": (None, "header", dt.date(2024, 12, 25)),
        "002": (4, "inferred", dt.date(2024, 12, 18)),
        "003": (5, "inferred", dt.date(2024, 10, 11)),
        "004": (None, "inferred", dt.date(2024, 5, 27)),
    }
    for prefix, (level, source, date) in expected.items():
        text = report_text(prefix)
        report = parse_text(re.sub(r"\s+", "", text) if strip else text)
        assert (report.rating_level, report.publish_date_source, report.publish_date) == (
            level,
            source,
            date,
        ), prefix
        assert report.warnings == [], prefix


def test_web_repost_navigation_is_not_read() -> None:
    report = parse_text(report_text("001"))
    # the portal's IPO sidebar lists "惠通科技 301601": neither a ticker nor a recommendation
    assert report.tickers == []
    assert "惠通科技" not in report.recommended


def test_security_master_is_optional_and_only_adds_names() -> None:
    text = report_text("002")
    plain = parse_text(text)
    with_master = parse_text(text, security_master={"688256.SH": "寒武纪"})
    assert with_master.recommended == plain.recommended
    assert [t.ticker for t in with_master.tickers] == [t.ticker for t in plain.tickers]


INBOX = Path(__file__).parent.parent / "examples" / "inbox"
LABELS = Path(__file__).parent / "fixtures" / "labels"


@pytest.mark.parametrize("bundled", [True, False], ids=["bundled-master", "report-only"])
def test_pdf_html_and_gbk_renderings_meet_the_bar(bundled: bool) -> None:
    from reportlake.extraction import extract  # imported here: the other tests need no extractor

    def parse_file(path: Path) -> ParsedReport:
        text = extract(path.read_bytes(), filename=path.name).text
        return parse_text(text, bundled_master=bundled)

    ev = evaluate(LABELS, INBOX, parse_file)
    renderings = {p.suffix for p in (f.path for f in ev.files)}
    assert {".pdf", ".html", ".txt"} <= renderings and len(ev.files) >= 7, format_evaluation(ev)
    for f in ev.files:
        for name in SCALAR_FIELDS:
            assert f.results[name].score == 1.0, format_evaluation(ev)
        for name in LIST_FIELDS:
            assert f.results[name].score >= 0.95, format_evaluation(ev)
