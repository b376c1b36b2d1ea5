"""List sections: related reports, risks, recommended companies (incl. run-together names)."""

from __future__ import annotations

import datetime as dt

from reportlake.parsing import parse_text
from reportlake.parsing.names import NameIndex
from reportlake.parsing.recommended import extract_recommended
from reportlake.parsing.sections import extract_related, extract_risks


def test_related_reports_in_book_title_marks() -> None:
    text = (
        "相关报告：\n《字节多款模型产品亮相》\n——2024 年 12 月 26 日\n"
        "《光模块有望筑底》\n——2024 年 12 月 19 日\n主要观点"
    )
    got = [(r.title, r.date) for r in extract_related(text)]
    assert got == [
        ("字节多款模型产品亮相", dt.date(2024, 12, 26)),
        ("光模块有望筑底", dt.date(2024, 12, 19)),
    ]


def test_related_reports_as_dated_bullets_drop_a_leading_date_code() -> None:
    text = (
        "相关报告\n\n- 20241216 周报：AI 智能眼镜浪潮已致——2024.12.15\n"
        "- 豆包带动市场情绪高涨-半导体周跟踪——2024.12.15\n\n量突破 1.4 千万，实现新高。"
    )
    got = [(r.title, r.date) for r in extract_related(text)]
    assert got == [
        ("周报：AI 智能眼镜浪潮已致", dt.date(2024, 12, 15)),
        ("豆包带动市场情绪高涨-半导体周跟踪", dt.date(2024, 12, 15)),
    ]


def test_risks_inline_list() -> None:
    assert extract_risks(
        "风险提示：技术发展不及预期；下游需求不及预期；地缘政治风险。\n图表 1"
    ) == [
        "技术发展不及预期",
        "下游需求不及预期",
        "地缘政治风险",
    ]


def test_risks_headed_paragraphs_are_preferred_over_a_comma_list() -> None:
    body = (
        "风险提示\n\n国内外竞争压力、国际格局变动、贸易摩擦加剧风险。\n\n目录\n\n2 风险提示\t7\n\n"
        "2 风险提示\n\n国内外竞争压力：竞争对手较多。\n\n"
        "国际格局变动、贸易摩擦加剧风险：大国博弈加剧。\n"
    )
    assert extract_risks(body) == ["国内外竞争压力", "国际格局变动、贸易摩擦加剧风险"]


def test_risks_skip_table_of_contents_entries() -> None:
    body = (
        "目录\n4. 风险提示.....13\n正文。\n4. 风险提示\n\n"
        "- 算力不足的风险\n\n若芯片不足。\n\n- 监管风险\n\n监管趋严。"
    )
    assert extract_risks(body) == ["算力不足的风险", "监管风险"]


def test_recommended_lists_with_category_labels() -> None:
    body = "建议关注：IDC&算力集群：润泽科技、云赛智联；服务器：工业富联、浪潮信息等。"
    assert extract_recommended(body, NameIndex()) == [
        "润泽科技",
        "云赛智联",
        "工业富联",
        "浪潮信息",
    ]


def test_run_together_names_are_split_with_known_names() -> None:
    body = (
        "建议关注:字节IDC基建:润泽科技光环新网英维克高澜股份;"
        "海外AEC:新易盛瑞可达中际旭创、神宇股份\n市场整体:本周上涨"
    )
    assert extract_recommended(body, NameIndex()) == [
        "润泽科技",
        "光环新网",
        "英维克",
        "高澜股份",
        "新易盛",
        "瑞可达",
        "中际旭创",
        "神宇股份",
    ]


def test_security_master_and_learned_names_split_unknown_names() -> None:
    body = "建议关注：甲乙科技丙丁智造。"
    assert extract_recommended(body, NameIndex({"999999.SZ": "丙丁智造"})) == [
        "甲乙科技",
        "丙丁智造",
    ]
    index = NameIndex()
    index.learn(["丙丁智造"])
    assert extract_recommended(body, index) == ["甲乙科技", "丙丁智造"]


def test_product_lists_and_prose_are_not_recommendations() -> None:
    body = (
        "建议关注由AI行业发展带来的服务器、交换机、光模块、芯片、液冷、连接器等细分赛道的发展机遇。"
        "建议关注以盛科通信为代表的国产高端交换芯片放量情况。我们建议关注以下几个方面。"
        "从个股情况看，博创科技、光迅科技涨幅领先。"
    )
    assert extract_recommended(body, NameIndex()) == []


def test_bracketed_names_and_asides() -> None:
    body = "投资建议：推荐领军者【中际旭创】及【天孚通信】，建议关注视觉中国（关注）、美图等。"
    assert extract_recommended(body, NameIndex()) == ["中际旭创", "天孚通信", "视觉中国", "美图"]


def test_recommended_in_bullet_list_under_a_heading() -> None:
    body = (
        "➤ 建议关注\n\n- 端侧 SoC：恒玄科技、乐鑫科技等。\n\n"
        "- 国产算力链：寒武纪、海光信息等。\n\n➤ 风险提示"
    )
    assert extract_recommended(body, NameIndex()) == ["恒玄科技", "乐鑫科技", "寒武纪", "海光信息"]


def test_parse_text_learns_names_from_the_reports_own_table() -> None:
    text = "电子行业周报：景气回升\n代码\t公司\n688999.SH\t甲乙微\n建议关注：甲乙微丙丁科技。"
    assert parse_text(text).recommended == ["甲乙微", "丙丁科技"]


def own_names(*learned: str) -> NameIndex:
    """An index without the bundled dictionary: only what the report itself teaches."""
    return NameIndex(learned=learned, bundled=False)


def test_run_together_names_split_without_any_dictionary() -> None:
    body = (
        "建议关注:字节IDC基建:润泽科技光环新网英维克高澜股份;"
        "字节算力:寒武纪浪潮信息华勤技术、金信诺沃尔核材;"
        "海外AEC:新易盛瑞可达中际旭创、神宇股份\n市场整体:本周上涨"
    )
    # 瑞可达 is known from the report's own 个股 sentence; the other names by their suffixes.
    assert extract_recommended(body, own_names("瑞可达")) == [
        *("润泽科技", "光环新网", "英维克", "高澜股份", "寒武纪", "浪潮信息", "华勤技术"),
        *("金信诺", "沃尔核材", "新易盛", "瑞可达", "中际旭创", "神宇股份"),
    ]


def test_run_together_names_that_cannot_be_cut_surely_yield_nothing_wrong() -> None:
    # Two unknown names in a row (英维克新易盛) could be cut anywhere; 瑞可达 unknown and only
    # weakly shaped leaves 新易盛…中际旭创 unanchored. Sure names around them still come out.
    body = "建议关注：润泽科技英维克新易盛高澜股份；海外：新易盛瑞可达中际旭创、神宇股份。"
    assert extract_recommended(body, own_names()) == ["润泽科技", "高澜股份", "神宇股份"]


def test_a_name_shaped_item_is_not_split_into_shorter_names() -> None:
    body = "建议关注：舜宇光学科技、中国海洋石油、腾讯哔哩哔哩。"
    assert extract_recommended(body, own_names("腾讯")) == [
        "舜宇光学科技",
        "中国海洋石油",
        "腾讯",
        "哔哩哔哩",
    ]


def test_unknown_short_names_need_a_list_of_names_or_a_securities_cue() -> None:
    assert extract_recommended("建议关注：服务器、交换机、光模块。", own_names()) == []
    assert extract_recommended(
        "3.6 重点标的推荐：腾讯、哔哩哔哩、美团\n- 腾讯：1) 视频号", own_names()
    ) == [
        "腾讯",
        "哔哩哔哩",
        "美团",
    ]
    body = "ASIC芯片&制造：寒武纪、海光信息、中芯国际；服务器：工业富联、浪潮信息"
    assert extract_recommended("建议关注：" + body, own_names()) == [
        *("寒武纪", "海光信息", "中芯国际", "工业富联", "浪潮信息"),
    ]


def test_prose_after_a_cue_is_not_cut_into_names() -> None:
    body = (
        "一是IDC基建受益标的，主要受益于字节数据中心的全球扩张。"
        "交换机：壁垒较光模块高。资料来源：Wind，山西证券研究所"
    )
    assert extract_recommended(body, own_names()) == []


def test_the_report_teaches_names_from_its_own_sentences() -> None:
    index = own_names()
    index.learn_from_text(
        "从个股情况看，博创科技、光迅科技、中兴通讯、瑞可达、广和通涨幅领先。\n"
        "AI落地领先：昆仑万维（公司AI应用稳步上台阶），产业链相关或垂直领域推荐焦点科技。\n"
        "建议关注以下几个方面：服务器、交换机、光模块等环节。"
    )
    assert {"瑞可达", "广和通", "昆仑万维"} <= index.names
    assert not {"服务器", "交换机", "光模块"} & index.names


def test_a_market_recap_teaches_names_but_recommends_nothing() -> None:
    text = (
        "食品饮料行业周报\n建议关注：贵州茅台、五粮液、泸州老窖、山西汾酒。\n"
        "个股表现：本周贵州茅台、五粮液、泸州老窖涨幅居前。\n"
    )
    # no suffix anywhere: the 涨幅居前 sentence says these are stocks
    assert parse_text(text, bundled_master=False).recommended == [
        *("贵州茅台", "五粮液", "泸州老窖", "山西汾酒"),
    ]
    recap = "行业周报\n投资建议：个股表现：本周贵州茅台、五粮液、泸州老窖涨幅居前。\n"
    assert parse_text(recap, bundled_master=False).recommended == []
