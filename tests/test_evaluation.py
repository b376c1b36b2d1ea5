"""The scorer (``reportlake eval``) and the acceptance bar on the five labelled reports."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from reportlake.evaluation import (
    LIST_FIELDS,
    SCALAR_FIELDS,
    Evaluation,
    evaluate,
    format_evaluation,
    label_id_of,
    score_report,
    text_file_parser,
)
from reportlake.models import Analyst, ParsedReport, RelatedReport, TickerMention
from reportlake.parsing import parse_text

FIXTURES = Path(__file__).parent / "fixtures"
LABELS = FIXTURES / "labels"
REPORTS = FIXTURES / "reports"


def parse_txt(path: Path) -> ParsedReport:
    return parse_text(path.read_text("utf-8"))


def test_every_report_meets_the_bar_on_the_txt_fixtures() -> None:
    ev = evaluate(LABELS, REPORTS, parse_txt)
    assert len(ev.files) == 5, format_evaluation(ev)
    for f in ev.files:
        for name in SCALAR_FIELDS:
            assert f.results[name].score == 1.0, format_evaluation(ev)
        for name in LIST_FIELDS:
            assert f.results[name].score >= 0.95, format_evaluation(ev)


def test_every_report_meets_the_bar_with_all_whitespace_stripped(tmp_path: Path) -> None:
    for path in REPORTS.glob("*.txt"):
        (tmp_path / path.name).write_text(re.sub(r"\s+", "", path.read_text("utf-8")), "utf-8")
    ev = evaluate(LABELS, tmp_path, parse_txt)
    assert len(ev.files) == 5
    for f in ev.files:
        for name in SCALAR_FIELDS:
            assert f.results[name].score == 1.0, format_evaluation(ev)
        for name in LIST_FIELDS:
            assert f.results[name].score >= 0.95, format_evaluation(ev)


def _assert_bar(ev: Evaluation, list_bar: float = 0.95) -> None:
    assert len(ev.files) == 5, format_evaluation(ev)
    for f in ev.files:
        for name in SCALAR_FIELDS:
            assert f.results[name].score == 1.0, format_evaluation(ev)
        for name in LIST_FIELDS:
            assert f.results[name].score >= list_bar, format_evaluation(ev)


def test_the_bar_holds_without_the_bundled_company_dictionary() -> None:
    # Names come only from each report's own text: lists, tables, 个股 sentences, suffixes. The
    # run-together 001 list (润泽科技光环新网英维克…) must still be split. Measured: every
    # recommended F1 is 1.00 (000, 001, 002, 003, 004).
    ev = evaluate(LABELS, REPORTS, text_file_parser(bundled_master=False))
    _assert_bar(ev)
    assert all(f.results["recommended"].score == 1.0 for f in ev.files), format_evaluation(ev)


def test_the_bar_holds_without_the_dictionary_and_without_whitespace(tmp_path: Path) -> None:
    for path in REPORTS.glob("*.txt"):
        (tmp_path / path.name).write_text(re.sub(r"\s+", "", path.read_text("utf-8")), "utf-8")
    # Measured: recommended 1.00 everywhere; tickers 0.98 on 002 (GPUNVDA.O: without a master
    # the symbol glued to "GPU" cannot be told apart).
    _assert_bar(evaluate(LABELS, tmp_path, text_file_parser(bundled_master=False)))


def test_files_map_to_labels_by_stem_and_others_are_skipped(tmp_path: Path) -> None:
    text = (REPORTS / "000_c0ce63a5312a5a26.txt").read_text("utf-8")
    for name in ("000_c0ce63a5312a5a26.txt", "000_c0ce63a5312a5a26.gbk.txt", "999_nolabel.txt"):
        (tmp_path / name).write_text(text, "utf-8")
    (tmp_path / "000_c0ce63a5312a5a26.txt.meta.json").write_text("{}", "utf-8")
    ev = evaluate(LABELS, tmp_path, parse_txt)
    assert [f.path.name for f in ev.files] == [
        "000_c0ce63a5312a5a26.gbk.txt",
        "000_c0ce63a5312a5a26.txt",
    ]
    assert {f.label_id for f in ev.files} == {"000_c0ce63a5312a5a26"}
    assert label_id_of(Path("001_d1516b028d16e038.html")) == "001_d1516b028d16e038"


def test_a_file_that_fails_to_parse_scores_zero(tmp_path: Path) -> None:
    (tmp_path / "000_c0ce63a5312a5a26.txt").write_text("x", "utf-8")

    def broken(path: Path) -> ParsedReport:
        raise ValueError("unreadable")

    ev = evaluate(LABELS, tmp_path, broken)
    assert ev.overall == 0.0
    assert "ValueError: unreadable" in format_evaluation(ev)


LABEL = {
    "title": "豆包题材持续发酵，重视字节产业链投资机会",
    "broker": "上海证券",
    "publish_date": None,
    "industry": ["传媒", "传媒互联网"],
    "report_type": "点评",
    "rating": None,
    "rating_action": None,
    "script": "zh-Hant",
    "analysts": [
        {"name": "刘京昭", "role": "分析师", "sac_id": "S0870523040005", "email": "l@shzq.com"},
        {"name": "杨昕东", "role": "联系人", "sac_id": None, "email": None},
    ],
    "related_reports": [{"title": "ASIC 需求指引强劲，光模块有望筑底", "date": "2024-12-19"}],
    "tickers": [{"ticker": "NVDA.O", "name": "英伟达"}, {"ticker": "0020.HK", "name": "商汤"}],
    "recommended": ["润泽科技", "云赛智联"],
    "risks": ["国内外行业竞争压力", "国际格局变动、贸易摩擦加剧风险"],
}


def _parsed(**changes: object) -> ParsedReport:
    base = ParsedReport(
        title="【上证通信】豆包題材持續發酵， 重视字节产业链投资机会",
        broker="上海证券",
        publish_date=dt.date(2024, 12, 18),
        publish_date_source="inferred",
        industry="传媒互联网",
        report_type="点评",
        script="zh-Hant",
        analysts=[
            Analyst(name="劉京昭", role="分析师", sac_id="S0870523040005", email="L@shzq.com"),
            Analyst(name="杨昕东", role="联系人"),
        ],
        related_reports=[RelatedReport(title="ASIC需求指引强劲,光模块有望筑底")],
        tickers=[TickerMention(ticker="NVDA.O"), TickerMention(ticker="0020.HK")],
        recommended=["润泽科技", "雲賽智聯"],
        risks=["国内外行业竞争压力", "国际格局变动", "贸易摩擦加剧风险"],
    )
    return base.model_copy(update=changes)


def test_scoring_rules_normalise_both_sides() -> None:
    results = score_report(_parsed(), LABEL)
    assert {k: r.score for k, r in results.items()} == {k: 1.0 for k in results}, results


@pytest.mark.parametrize(
    ("change", "field", "score"),
    [
        ({"publish_date_source": "header"}, "publish_date", 0.0),
        ({"publish_date": None, "publish_date_source": None}, "publish_date", 1.0),
        ({"industry": "通信"}, "industry", 0.0),
        ({"rating": "增持"}, "rating", 0.0),
        ({"tickers": [TickerMention(ticker="NVDA.O")]}, "tickers", 2 / 3),
        ({"recommended": ["润泽科技", "云赛智联", "奥飞数据", "数据港"]}, "recommended", 2 / 3),
        ({"risks": []}, "risks", 0.0),
    ],
)
def test_scoring_rules_penalise_mismatches(
    change: dict[str, object], field: str, score: float
) -> None:
    assert score_report(_parsed(**change), LABEL)[field].score == pytest.approx(score)


def test_analysts_must_agree_on_role_and_email() -> None:
    wrong_role = [
        Analyst(name="刘京昭", role="联系人", sac_id="S0870523040005", email="l@shzq.com")
    ]
    result = score_report(_parsed(analysts=wrong_role), LABEL)["analysts"]
    assert result.score == 0.0 and "刘京昭" in result.detail


def test_format_evaluation_is_a_table_with_details() -> None:
    ev = evaluate(LABELS, REPORTS, parse_txt)
    table = format_evaluation(ev)
    assert table.splitlines()[1].split()[:2] == ["field", "score"]
    for name in (*SCALAR_FIELDS, *LIST_FIELDS, "overall"):
        assert re.search(rf"^{name}\s+1\.000", table, re.M), table


def test_labels_are_the_repo_copies() -> None:
    labels = sorted(p.stem for p in LABELS.glob("*.json"))
    reports = sorted(p.stem for p in REPORTS.glob("*.txt"))
    assert labels == reports
    assert json.loads((LABELS / f"{labels[0]}.json").read_text("utf-8"))["broker"] == "上海证券"
