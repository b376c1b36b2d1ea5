"""Field readers on the robustness fixtures: analysts, broker, rating, tickers, title, type."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reportlake.models import ParsedReport
from reportlake.parsing import parse_text
from reportlake.parsing.analysts import extract_analysts
from reportlake.parsing.rating import extract_rating
from reportlake.parsing.tickers import extract_tickers

ROBUSTNESS = Path(__file__).parent / "fixtures" / "robustness"


def parse_fixture(name: str) -> ParsedReport:
    return parse_text((ROBUSTNESS / name).read_text("utf-8"))


# --- analysts -------------------------------------------------------------------------------


def test_sac_numbers_under_every_label() -> None:
    report = parse_fixture("sac_label_variants.txt")
    got = {a.name: (a.role, a.sac_id) for a in report.analysts}
    assert got == {
        "陈海进": ("分析师", "S0210524060003"),
        "徐巡": ("分析师", "S0210524060004"),
        "王一鸣": ("分析师", "S0210524060005"),
        "李雅文": ("研究助理", "S0210124040076"),
        "赵天宇": ("联系人", "S0210124040077"),
        "周远航": ("分析师", "S0210524060006"),
        "孙启明": ("分析师", "S0210524060007"),
    }
    assert report.analysts[0].email == "chj30590@hfzq.com.cn"


def test_sac_numbers_glued_to_phone_and_page_numbers_and_fullwidth_at() -> None:
    report = parse_fixture("glued_numbers.txt")
    assert [(a.name, a.role, a.sac_id, a.email) for a in report.analysts] == [
        ("刘京昭", "分析师", "S0870523040005", "liujingzhao@shzq.com"),
        ("杨昕东", "联系人", "S0870123090008", None),
    ]
    # page number 1 glued before the date line
    assert report.publish_date == dt.date(2024, 12, 16)


def test_glued_email_after_stripping_whitespace() -> None:
    analysts = extract_analysts(
        "分析师：刘京昭Tel:E-mail:liujingzhao@shzq.comSAC编号:S0870523040005"
    )
    assert analysts[0].email == "liujingzhao@shzq.com"
    assert analysts[0].sac_id == "S0870523040005"


def test_names_followed_by_labels_without_spaces() -> None:
    analysts = extract_analysts(
        "证券分析师：张良卫执业证书：S0600516070001联系邮箱：zhanglw@dwzq.com.cn"
    )
    assert [(a.name, a.sac_id, a.email) for a in analysts] == [
        ("张良卫", "S0600516070001", "zhanglw@dwzq.com.cn")
    ]


def test_traditional_names_come_out_simplified() -> None:
    report = parse_fixture("traditional_header.txt")
    assert report.script == "zh-Hant"
    assert [(a.name, a.sac_id) for a in report.analysts] == [("高宇洋", "S0760523050002")]
    assert report.recommended == ["中兴通讯", "光迅科技", "新易盛"]


def test_prose_mentioning_analysts_is_not_an_analyst() -> None:
    assert (
        extract_analysts("分析师认为行业景气回升，本人已在中国证券业协会登记为证券分析师。") == []
    )


def test_contact_email_of_the_research_institute_is_not_an_analyst_email() -> None:
    text = "分析师：陈海进(S0210524060003)\n" + "正文。" * 200 + "\n邮箱：hfjys@hfzq.com.cn"
    assert extract_analysts(text)[0].email is None


# --- broker ---------------------------------------------------------------------------------


def test_broker_from_sac_code_and_email_without_header_ignoring_chart_sources() -> None:
    report = parse_fixture("glued_numbers.txt")  # "资料来源：中信证券研究部" is a chart source
    assert report.broker == "上海证券"
    assert report.warnings == []


def test_broker_disagreement_is_recorded() -> None:
    report = parse_fixture("broker_disagreement.txt")
    assert report.broker == "东吴证券"  # the analysts' SAC firm code outranks the header
    assert len(report.warnings) == 1
    assert "国金证券" in report.warnings[0] and "东吴证券" in report.warnings[0]


def test_broker_from_header_alone() -> None:
    report = parse_text("国金证券研究所\n电子行业点评：需求回暖，景气上行\n")
    assert report.broker == "国金证券"


def test_broker_from_email_domain_alone() -> None:
    report = parse_text("电子行业点评：需求回暖\n分析师：王明 wangming@gjzq.com.cn\n")
    assert report.broker == "国金证券"


# --- rating ---------------------------------------------------------------------------------


def test_rating_definitions_are_not_a_rating() -> None:
    assert parse_fixture("rating_definitions_only.txt").rating is None


def test_shareholders_buying_shares_is_not_a_rating() -> None:
    report = parse_fixture("shareholder_buying.txt")
    assert report.rating is None and report.rating_action is None


def test_grade_suffix_and_brackets() -> None:
    report = parse_fixture("grade_suffix_rating.txt")
    assert (report.rating, report.rating_level, report.rating_action) == ("买入", 5, "首次")


@pytest.mark.parametrize(
    ("text", "word", "action"),
    [
        ("增持（维持）", "增持", "维持"),
        ("强于大市（维持评级）", "强于大市", "维持"),
        ("买入(维持评级)", "买入", "维持"),
        ("投资评级：增持（首次）", "增持", "首次"),
        ("我们维持公司“买入”评级。", "买入", "维持"),
        ("首次覆盖，给予“推荐”评级。", "推荐", None),
        ("评级上调至买入。", "买入", "上调"),
        ("我们将评级由增持调低为中性。", "中性", "下调"),
        ("[买入-A]（首次）", "买入", "首次"),
        ("审慎增持（首次覆盖）", "审慎增持", "首次"),
        ("公司评级\t买入\t未来 6 个月内，个股相对市场基准指数涨幅在 20%以上", None, None),
        ("买入：预期未来6个月个股涨跌幅相对基准在15%以上", None, None),
    ],
)
def test_rating_wordings(text: str, word: str | None, action: str | None) -> None:
    rating = extract_rating(text)
    assert (rating.word if rating else None) == word
    if word:
        assert rating is not None and rating.action == action


def test_header_line_rating() -> None:
    rating = extract_rating("某公司深度报告\n买入-A\n维持\n正文")
    assert rating is not None and (rating.word, rating.action) == ("买入", "维持")


# --- tickers --------------------------------------------------------------------------------


def test_tickers_are_normalised_with_names() -> None:
    text = (
        "CPU/GPU\tNVDA.O\t英伟达\n存储\t000660.KS\t海力士\n\t0020.HK\t商汤科技\n"
        "\t2382.TW\t广达\n\t600519.SS\t贵州茅台\n腾讯控股(00700.HK)\n宁德时代（300750）\n"
    )
    got = [(t.ticker, t.name) for t in extract_tickers(text)]
    assert got == [
        ("NVDA.O", "英伟达"),
        ("000660.KS", "海力士"),
        ("0020.HK", "商汤科技"),
        ("2382.TW", "广达"),
        ("600519.SH", "贵州茅台"),
        ("0700.HK", "腾讯控股"),
        ("300750.SZ", "宁德时代"),
    ]


def test_tickers_glued_after_whitespace_stripping() -> None:
    got = extract_tickers("-17.64%AMD.OAMD1,970亿美元601138.SH工业富联4,254", stripped=True)
    assert [(t.ticker, t.name) for t in got] == [("AMD.O", "AMD"), ("601138.SH", "工业富联")]


def test_a_us_symbol_glued_to_a_word_is_read_when_a_master_knows_it() -> None:
    text = "板块代码公司CPU/GPUNVDA.O英伟达31,570亿美元"
    assert extract_tickers(text, stripped=True) == []  # GPUNVDA? PUNVDA? NVDA? can't tell
    got = extract_tickers(text, {"NVDA.O": "英伟达"}, stripped=True)
    assert [(t.ticker, t.name) for t in got] == [("NVDA.O", "英伟达")]


def test_bundled_master_names_bare_tickers_unless_disabled() -> None:
    text = "电子行业周报：景气回升\n标的：688256.SH、600519.SH\n"
    names = {t.ticker: t.name for t in parse_text(text).tickers}
    assert names == {"688256.SH": "寒武纪", "600519.SH": "贵州茅台"}
    alone = parse_text(text, bundled_master=False, security_master={"600519.SH": "茅台"})
    assert {t.ticker: t.name for t in alone.tickers} == {"688256.SH": None, "600519.SH": "茅台"}


def test_not_tickers() -> None:
    assert extract_tickers("Character.AI 与 S0870523040005 以及 3.5 亿元、10.HK") == []


def test_security_master_names_a_bare_ticker() -> None:
    got = extract_tickers("标的：688256.SH", {"688256.SH": "寒武纪"})
    assert [(t.ticker, t.name) for t in got] == [("688256.SH", "寒武纪")]


# --- title, industry, type -----------------------------------------------------------------


def test_header_fields_of_a_company_report() -> None:
    report = parse_fixture("grade_suffix_rating.txt")
    assert report.title == "中际旭创(300308.SZ)：1.6T光模块放量在即，业绩弹性可期"
    assert report.report_type == "公司"
    assert [(t.ticker, t.name) for t in report.tickers] == [("300308.SZ", "中际旭创")]


def test_title_tag_is_dropped_and_industry_read_from_it() -> None:
    report = parse_fixture("traditional_header.txt")
    assert report.title == "周跟踪：字节跳动大幅催化算力产业链"
    assert report.industry == "通信"
    assert report.report_type == "周报"


@pytest.mark.parametrize("bundled", [True, False])
def test_lines_wrapped_by_a_pdf_layout_are_joined(bundled: bool) -> None:
    text = (ROBUSTNESS / "pdf_wrapped_lines.txt").read_text("utf-8")
    report = parse_text(text, bundled_master=bundled)
    assert report.title == "豆包题材持续发酵，重视字节产业链投资机会"
    assert [r.title for r in report.related_reports] == [
        "字节多款模型产品亮相，数据互联重要性抬升",
        "ASIC 需求指引强劲，光模块有望筑底",
    ]
    assert report.recommended == [
        *("润泽科技", "云赛智联", "奥飞数据", "数据港", "寒武纪", "海光信息", "中芯国际"),
        *("工业富联", "浪潮信息", "中科曙光", "兆易创新", "东芯股份", "广和通", "乐鑫科技"),
        *("移远通信", "中际旭创", "剑桥科技", "源杰科技", "仕佳光子", "沃尔核材", "神宇股份"),
    ]


def test_a_web_reposts_page_title_loses_the_portal_name() -> None:
    text = "【山證通信】周跟蹤--字節跳動大幅催化算力產業鏈,O3推理表現震撼|新浪財經_新浪網\n正文"
    assert parse_text(text).title == "周跟踪--字节跳动大幅催化算力产业链,O3推理表现震撼"
