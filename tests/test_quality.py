"""Validation of lake tables against the GX suites in ``expectations/``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from reportlake.errors import ConfigurationError, QualityRunError
from reportlake.models import Analyst, RelatedReport, Report, TickerMention
from reportlake.quality import ValidationResult, Validator, split_quarantine
from reportlake.tables import reports_to_tables
from tests.conftest import REPO

SUITES = Path(__file__).resolve().parents[1] / "expectations"
TODAY = dt.date(2025, 1, 6)  # fixed so "publish_date within a week of today" is reproducible
TEXT = "上海证券研究所通信行业点评。" * 40


def report_id(key: str) -> str:
    """A sha256 hex id, as the pipeline derives from the original bytes."""
    return hashlib.sha256(key.encode()).hexdigest()


def make_report(key: str, **overrides: Any) -> Report:
    """A realistic report (after 000 in tests/fixtures/labels); overrides replace fields."""
    fields: dict[str, Any] = {
        "report_id": report_id(key),
        "source_uri": f"file:///inbox/{key}.pdf",
        "format": "pdf",
        "page_count": 6,
        "char_count": len(TEXT),
        "text": TEXT,
        "title": "豆包题材持续发酵，重视字节产业链投资机会",
        "broker": "上海证券",
        "publish_date": dt.date(2024, 12, 30),
        "publish_date_source": "header",
        "industry": "通信",
        "report_type": "点评",
        "rating": "增持",
        "rating_level": 4,
        "rating_action": "维持",
        "script": "zh-Hans",
        "analysts": [
            Analyst(
                name="刘京昭", role="分析师", sac_id="S0870523040005", email="liujingzhao@shzq.com"
            ),
            Analyst(name="杨昕东", role="联系人", sac_id="S0870123090008"),
        ],
        "related_reports": [
            RelatedReport(
                title="字节多款模型产品亮相，数据互联重要性抬升", date=dt.date(2024, 12, 26)
            ),
            RelatedReport(title="ASIC 需求指引强劲，光模块有望筑底"),
        ],
        "tickers": [
            TickerMention(ticker="688256.SH", name="寒武纪"),
            TickerMention(ticker="0020.HK", name="商汤"),
            TickerMention(ticker="NVDA.O", name="英伟达"),
            TickerMention(ticker="2382.TW"),
            TickerMention(ticker="000660.KS"),
        ],
        "recommended": ["润泽科技", "寒武纪"],
        "risks": ["AI 发展不及预期"],
    }
    fields.update(overrides)
    return Report(**fields)


def with_analyst(**changes: Any) -> list[Analyst]:
    """The default analysts with the first one changed."""
    first, second = make_report("x").analysts
    return [first.model_copy(update=changes), second]


# Each bad report differs from a good one in one field; the reason must name table.column and
# the failed expectation.
BAD_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "bad_sac_id": (
        {"analysts": with_analyst(sac_id="S087052304")},
        "analysts.sac_id: expect_column_values_to_match_regex ^S\\d{13}$ (got 'S087052304')",
    ),
    "bad_email": (
        {"analysts": with_analyst(email="liujingzhao.shzq.com")},
        "analysts.email: expect_column_values_to_match_regex",
    ),
    "unknown_broker": (
        {"broker": "不存在证券"},
        "reports.broker: expect_column_values_to_be_in_set in broker_names (got '不存在证券')",
    ),
    "missing_publish_date": (
        {"publish_date": None},
        "reports.publish_date: expect_column_values_to_not_be_null",
    ),
    "date_in_2099": (
        {"publish_date": dt.date(2099, 1, 1)},
        "reports.publish_date: expect_column_values_to_be_between [1990-01-01, 2025-01-13] "
        "(got 2099-01-01)",
    ),
    "bad_ticker": (
        {"tickers": [TickerMention(ticker="68825.SH", name="寒武纪")]},
        "stock_mentions.ticker: expect_column_values_to_match_regex",
    ),
    "short_title": (
        {"title": "点评"},
        "reports.title: expect_column_value_lengths_to_be_between [4, 200] (got '点评')",
    ),
    "unknown_rating": (
        {"rating": "闭眼买入"},
        "reports.rating: expect_column_values_to_be_in_set in rating_words (got '闭眼买入')",
    ),
}


@pytest.fixture(scope="module")
def validator() -> Validator:
    started = time.perf_counter()
    built = Validator(SUITES, today=TODAY)
    # Includes the first GX import when this module runs first.
    print(f"\n[timing] Validator build: {time.perf_counter() - started:.2f} s")
    return built


@pytest.fixture(scope="module")
def good_reports() -> list[Report]:
    return [
        make_report("good-1"),
        # Nulls where the record allows them: no rating, no SAC id or e-mail, no tickers.
        make_report(
            "good-2",
            rating=None,
            rating_level=None,
            rating_action=None,
            report_type="周报",
            script="zh-Hant",
            broker="山西证券",
            analysts=[
                Analyst(name="高宇洋", role="分析师", sac_id="S0760523050002"),
                Analyst(name="Alice Wong", role="研究助理"),
            ],
            tickers=[],
            related_reports=[],
        ),
    ]


@pytest.fixture(scope="module")
def batch(
    validator: Validator, good_reports: list[Report]
) -> tuple[list[Report], ValidationResult]:
    """One batch with the good reports, one report per bad case and a duplicated id."""
    bad = [make_report(f"bad-{name}", **fields) for name, (fields, _) in BAD_CASES.items()]
    duplicates = [make_report("dup"), make_report("dup", source_uri="file:///inbox/dup-copy.pdf")]
    reports = [*good_reports, *bad, *duplicates]
    return reports, validator.validate(reports_to_tables(reports))


def test_good_reports_pass(good_reports: list[Report], validator: Validator) -> None:
    result = validator.validate(reports_to_tables(good_reports))
    assert result.failures == {}
    assert result.counts["reports"].rows == 2
    assert result.counts["analysts"].rows == 4
    assert result.counts["stock_mentions"].rows_failed == 0
    assert result.counts["reports"].expectations > 10


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_report_fails_with_named_check(
    case: str, batch: tuple[list[Report], ValidationResult]
) -> None:
    _, result = batch
    _, expected = BAD_CASES[case]
    reasons = result.failures.get(report_id(f"bad-{case}"), [])
    assert any(expected in reason for reason in reasons), reasons


def test_only_bad_reports_are_quarantined(
    batch: tuple[list[Report], ValidationResult], good_reports: list[Report]
) -> None:
    reports, result = batch
    passed, quarantined = split_quarantine([r.report_id for r in reports], result)
    expected_bad = {report_id(f"bad-{case}") for case in BAD_CASES} | {report_id("dup")}
    assert set(quarantined) == expected_bad
    assert passed == {r.report_id for r in good_reports}
    for reasons in quarantined.values():
        assert reasons
        assert all(isinstance(r, str) and r for r in reasons)


def test_duplicate_report_id_quarantines_every_copy(
    batch: tuple[list[Report], ValidationResult],
) -> None:
    _, result = batch
    reasons = result.failures[report_id("dup")]
    assert any("reports.report_id: expect_column_values_to_be_unique" in r for r in reasons)
    # Both copies' analysts repeat the same SAC ids under one report_id, which is flagged too.
    assert any(
        "analysts.(report_id, sac_id): expect_compound_columns_to_be_unique "
        "(got sac_id='S0870523040005')" in r
        for r in reasons
    )


def test_every_failing_row_is_attributed_beyond_gx_partial_lists(validator: Validator) -> None:
    # GX's BASIC format lists 20 failing rows at most; each of the 30 must be quarantined.
    bad = [make_report(f"many-bad-{i}", rating="闭眼买入") for i in range(30)]
    good = [make_report(f"many-good-{i}") for i in range(5)]
    result = validator.validate(reports_to_tables([*good, *bad]))
    assert set(result.failures) == {r.report_id for r in bad}
    assert result.counts["reports"].rows_failed == 30
    assert all(
        any("rating_words (got '闭眼买入')" in reason for reason in reasons)
        for reasons in result.failures.values()
    )


def test_reasons_say_how_to_fix(batch: tuple[list[Report], ValidationResult]) -> None:
    _, result = batch
    (reason,) = [
        r for r in result.failures[report_id("bad-missing_publish_date")] if "publish_date" in r
    ]
    assert ".meta.json" in reason


def test_empty_tables_are_skipped(validator: Validator) -> None:
    tables = reports_to_tables(
        [make_report("no-children", analysts=[], tickers=[], related_reports=[])]
    )
    result = validator.validate(tables)
    assert result.failures == {}
    assert result.counts["analysts"].rows == 0
    assert result.counts["analysts"].expectations == 0


def test_table_without_suite_is_an_error(validator: Validator) -> None:
    with pytest.raises(QualityRunError, match="no expectation suite for table 'mystery'"):
        validator.validate({"mystery": pa.table({"report_id": ["x"]})})


def test_validator_keeps_gx_output_quiet(
    suites_copy: Path,
    good_reports: list[Report],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        Validator(suites_copy, today=TODAY).validate(reports_to_tables(good_reports))
    out, err = capfd.readouterr()
    assert "Calculating Metrics" not in out + err  # GX progress bars
    assert [r.name for r in caplog.records if r.name.startswith("great_expectations")] == []


def test_thousand_report_batch(validator: Validator) -> None:
    brokers = ["上海证券", "山西证券", "华福证券", "国金证券", "东吴证券"]
    reports = [
        make_report(
            f"bulk-{i}",
            broker=brokers[i % len(brokers)],
            publish_date=dt.date(2024, 1, 1) + dt.timedelta(days=i % 365),
            rating=None if i % 3 == 0 else "买入",
            rating_level=None if i % 3 == 0 else 5,
        )
        for i in range(1000)
    ]
    tables = reports_to_tables(reports)
    started = time.perf_counter()
    result = validator.validate(tables)
    elapsed = time.perf_counter() - started
    print(
        f"\n[timing] validate 1,000 reports ({sum(t.num_rows for t in tables.values())} rows "
        f"in 4 tables): {elapsed:.2f} s"
    )
    assert result.failures == {}
    assert result.counts["analysts"].rows == 2000


def test_gx_is_not_imported_with_reportlake() -> None:
    code = "import sys, reportlake.quality; sys.exit('great_expectations' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- broken suites ------------------------------------------------------------------------


@pytest.fixture
def suites_copy(tmp_path: Path) -> Path:
    target = tmp_path / "expectations"
    shutil.copytree(SUITES, target)
    return target


def edit_suite(suites_dir: Path, table: str, change: Callable[[dict[str, Any]], None]) -> Path:
    """Apply ``change`` to one suite file in a copy of the suites."""
    path = suites_dir / f"{table}.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    change(suite)
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    return path


def add_expectation(suites_dir: Path, table: str, expectation: dict[str, Any]) -> Path:
    return edit_suite(suites_dir, table, lambda s: s["expectations"].append(expectation))


def test_expectation_on_missing_column_fails_the_run(
    suites_copy: Path, good_reports: list[Report]
) -> None:
    add_expectation(
        suites_copy,
        "reports",
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "no_such_column"},
        },
    )
    validator = Validator(suites_copy, today=TODAY)
    with pytest.raises(QualityRunError, match=r"reports\.no_such_column.*not_be_null.*raised"):
        validator.validate(reports_to_tables(good_reports))


def test_corrupted_kwarg_fails_the_run(suites_copy: Path, good_reports: list[Report]) -> None:
    def corrupt(suite: dict[str, Any]) -> None:
        for exp in suite["expectations"]:
            if exp["kwargs"].get("column") == "sac_id":
                exp["kwargs"]["regex"] = "^S(\\d{13}$"  # unbalanced parenthesis

    edit_suite(suites_copy, "analysts", corrupt)
    validator = Validator(suites_copy, today=TODAY)
    with pytest.raises(QualityRunError, match=r"analysts\.sac_id: expect_column_values_to_match"):
        validator.validate(reports_to_tables(good_reports))


def test_unattributable_table_failure_fails_the_run(
    suites_copy: Path, good_reports: list[Report]
) -> None:
    add_expectation(
        suites_copy,
        "reports",
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"max_value": 1},
        },
    )
    validator = Validator(suites_copy, today=TODAY)
    with pytest.raises(QualityRunError, match="cannot be traced to rows"):
        validator.validate(reports_to_tables(good_reports))


def test_malformed_suite_file_names_its_path(suites_copy: Path) -> None:
    path = suites_copy / "analysts.json"
    path.write_text('{"name": "analysts", "expectations": [', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=str(path)):
        Validator(suites_copy, today=TODAY)


def test_unknown_expectation_type_names_its_path(suites_copy: Path) -> None:
    path = add_expectation(
        suites_copy,
        "stock_mentions",
        {
            "type": "expect_column_values_to_be_in_sett",
            "kwargs": {"column": "ticker"},
        },
    )
    with pytest.raises(ConfigurationError, match=rf"{path}.*expect_column_values_to_be_in_sett"):
        Validator(suites_copy, today=TODAY)


def test_missing_suite_file_names_its_path(suites_copy: Path) -> None:
    path = suites_copy / "related_reports.json"
    path.unlink()
    with pytest.raises(ConfigurationError, match=str(path)):
        Validator(suites_copy, today=TODAY)


def test_unknown_suite_parameter_is_rejected(suites_copy: Path) -> None:
    path = add_expectation(
        suites_copy,
        "reports",
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "industry", "value_set": {"$PARAMETER": "industry_names"}},
        },
    )
    with pytest.raises(ConfigurationError, match=rf"{path}.*industry_names"):
        Validator(suites_copy, today=TODAY)


def test_scipy_stats_and_altair_load_only_when_an_expectation_needs_them() -> None:
    """GX imports scipy.stats for its distribution expectations and altair for their charts,
    which our suites do not use: building the validator, validating and rendering Data Docs
    leave both unloaded; GX's own distribution expectation still finds them when called."""
    script = textwrap.dedent(
        """
        import sys
        from reportlake.quality import Validator
        from reportlake.tables import reports_to_tables
        from tests.test_quality import SUITES, make_report

        validator = Validator(SUITES)
        result = validator.validate(reports_to_tables([make_report("a")]))
        assert not result.failures, result.failures
        assert validator.render_data_docs("run") is not None
        assert "scipy.stats._stats_py" not in sys.modules, "scipy.stats was loaded"
        assert "altair.vegalite" not in sys.modules, "altair was loaded"

        from great_expectations.expectations.core import (
            expect_column_kl_divergence_to_be_less_than as kl,
        )
        assert round(kl.stats.entropy([0.5, 0.5], [0.25, 0.75]), 4) == 0.1438
        assert "scipy.stats._stats_py" in sys.modules
        assert kl.alt.Chart.__module__.startswith("altair.vegalite")
        assert "altair.vegalite" in sys.modules and sys.modules["altair"].Chart is kl.alt.Chart
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
