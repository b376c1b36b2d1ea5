"""Canonical text: width folding, script, template markers, page furniture, stripped text."""

from __future__ import annotations

import re
from pathlib import Path

from reportlake.parsing.normalize import (
    canonical,
    cut_disclaimer,
    detect_script,
    fold_width,
    is_stripped,
    prepare,
    remove_page_furniture,
    remove_template_markers,
)

REPORTS = Path(__file__).parent / "fixtures" / "reports"


def test_fold_width_keeps_cjk_punctuation_but_folds_the_rest() -> None:
    assert fold_width("ｌｉｕ＠ｓｈｚｑ．ｃｏｍ　２０２４") == "liu@shzq.com 2024"
    assert (
        fold_width("豆包题材持续发酵，重视字节（维持）：") == "豆包题材持续发酵，重视字节（维持）："
    )


def test_script_is_read_from_the_original_text() -> None:
    assert detect_script((REPORTS / "001_d1516b028d16e038.txt").read_text("utf-8")) == "zh-Hant"
    assert detect_script((REPORTS / "000_c0ce63a5312a5a26.txt").read_text("utf-8")) == "zh-Hans"
    assert detect_script("NVDA.O 31,570") == "zh-Hans"


def test_prepare_gives_simplified_text_and_records_the_script() -> None:
    prep = prepare("【山證通信】周跟蹤：字節跳動大幅催化算力產業鏈\n分析師：高宇洋")
    assert prep.script == "zh-Hant"
    assert "山证通信" in prep.text and "字节跳动" in prep.text and "分析师" in prep.text


def test_template_markers_are_removed() -> None:
    assert remove_template_markers("[Table_Main]标题[table_research]正文[Table_]") == "标题正文"


def test_page_footers_numbers_and_running_headers_are_removed() -> None:
    page = "通信行业周报\n正文第{n}段\n请务必阅读正文之后的免责声明部分\n{n}\n"
    text = "".join(page.format(n=n) for n in range(1, 5))
    cleaned = remove_page_furniture(text)
    assert "请务必阅读" not in cleaned
    assert cleaned.count("通信行业周报") == 1
    assert not re.search(r"^\d$", cleaned, re.M)
    assert all(f"正文第{n}段" in cleaned for n in range(1, 5))


def test_disclaimer_tail_is_cut_from_the_body() -> None:
    text = "正文" * 200 + "\n分析师声明\n本人具有中国证券业协会授予的证券投资咨询执业资格"
    assert cut_disclaimer(text).endswith("正文\n")
    # a disclaimer heading quoted near the top is not the tail
    assert cut_disclaimer("免责声明见文末\n" + "正文" * 200) == "免责声明见文末\n" + "正文" * 200


def test_stripped_text_gets_its_header_lines_back() -> None:
    raw = (REPORTS / "000_c0ce63a5312a5a26.txt").read_text("utf-8")
    stripped = re.sub(r"\s+", "", raw)
    assert is_stripped(stripped) and not is_stripped(raw)
    lines = prepare(stripped).text.split("\n")
    assert "增持（维持）" in lines
    assert any(ln.startswith("分析师：刘京昭") for ln in lines)
    assert any(ln.startswith("联系人：杨昕东") for ln in lines)


def test_canonical_form_for_comparisons() -> None:
    assert canonical("周跟蹤 (2024) ＡＩ") == "周跟踪(2024)ai"
