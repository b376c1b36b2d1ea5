"""Extraction: PDFs in reading order, HTML without chrome, text in its encoding, or a reason."""

from __future__ import annotations

import re
from pathlib import Path

import pymupdf
import pytest

from reportlake.errors import ExtractionError
from reportlake.extraction import extract
from reportlake.extraction.text import decode_text
from tests.conftest import EXAMPLES_INBOX, FIXTURES

REPORTS = FIXTURES / "reports"
PDFS = sorted(p for p in EXAMPLES_INBOX.glob("*.pdf") if not p.name.startswith("zz_"))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("pdf", PDFS, ids=lambda p: p.name)
def test_sample_pdfs_keep_every_line_of_the_report(pdf: Path) -> None:
    doc = extract(pdf.read_bytes(), filename=pdf.name)
    source = (REPORTS / f"{pdf.stem}.txt").read_text(encoding="utf-8")
    assert doc.format == "pdf" and doc.page_count > 1
    assert doc.char_count == len(doc.text)
    body = squash(doc.text)
    missing = [line for line in source.splitlines() if squash(line) and squash(line) not in body]
    # PDF lines wrap: a source line may be split across two extracted lines, never lost.
    assert not [m for m in missing if squash(m)[:12] not in body], missing[:3]


def _line_index(lines: list[str], needle: str) -> int:
    return next(i for i, line in enumerate(lines) if needle in line)


def test_two_column_first_page_keeps_the_sidebar_together() -> None:
    text = extract(
        (EXAMPLES_INBOX / "000_c0ce63a5312a5a26.pdf").read_bytes(), filename="a.pdf"
    ).text
    source = (REPORTS / "000_c0ce63a5312a5a26.txt").read_text(encoding="utf-8")
    sidebar = {squash(line) for line in source.split("主要观点")[0].splitlines() if line.strip()}
    lines = [line for line in text.splitlines() if line.strip()]
    first = _line_index(lines, "分析师： 刘京昭")
    last = _line_index(lines, "SAC 编号: S0870123090008")
    assert first < last
    # Every line between the first and last analyst line is a sidebar line, none main text.
    between = [squash(line) for line in lines[first : last + 1]]
    assert all(line in sidebar for line in between), between


def test_two_column_fixture_sidebar_is_not_interleaved() -> None:
    text = extract((FIXTURES / "pdf" / "two_column.pdf").read_bytes(), filename="x.pdf").text
    lines = [line for line in text.splitlines() if line.strip()]
    sac_lines = [i for i, line in enumerate(lines) if re.search(r"S\d{13}", line)]
    assert len(sac_lines) >= 2
    between = lines[sac_lines[0] : sac_lines[-1] + 1]
    # Main-column paragraphs are long lines; the sidebar's are short.
    assert all(len(line) < 40 for line in between), between


def test_html_repost_yields_the_article_without_site_chrome() -> None:
    doc = extract((EXAMPLES_INBOX / "001_d1516b028d16e038.html").read_bytes(), filename="a.html")
    assert doc.format == "html" and doc.encoding == "utf-8"
    assert "字節跳動已躍升為世界頂級CSP" in doc.text
    assert "風險提示" in doc.text
    for chrome in ("VIP課程推薦", "熱門推薦", "新浪首頁", "addEventListener", "display: flex"):
        assert chrome not in doc.text, chrome


def test_gbk_text_is_detected() -> None:
    doc = extract((EXAMPLES_INBOX / "004_0b306bed774ee041.txt").read_bytes(), filename="a.txt")
    assert doc.encoding == "gb18030"
    assert "传媒互联网中期策略" in doc.text


SAMPLE = (
    "上海证券研究所：维持“增持”评级。风险提示：行业竞争加剧。Analyst: Liu, S0870523040005\n" * 5
)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (SAMPLE.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + SAMPLE.encode("utf-8"), "utf-8"),
        (SAMPLE.encode("gbk"), "gb18030"),
        (SAMPLE.encode("gb18030"), "gb18030"),
        (SAMPLE.encode("utf-16"), "utf-16"),  # with BOM
        (SAMPLE.encode("utf-16-le"), "utf-16"),
        (SAMPLE.encode("utf-16-be"), "utf-16"),
        ("國金證券研究所維持買入評級風險提示".encode("big5") * 5, "big5"),
    ],
    ids=["utf8", "utf8-bom", "gbk", "gb18030", "utf16-bom", "utf16le", "utf16be", "big5"],
)
def test_text_encodings_decode_exactly(data: bytes, encoding: str) -> None:
    text, found = decode_text(data)
    assert found == encoding
    assert "维持" in text or "維持" in text


def test_random_binary_is_not_text() -> None:
    data = bytes(range(256)) * 40
    with pytest.raises(ExtractionError, match=r"binary|encoding"):
        extract(data, filename="a.txt")


def _pdf_bytes(text: str = "测试报告正文" * 50, **save: object) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(50, 50, 545, 792), text, fontname="china-s", fontsize=11)
    data: bytes = doc.tobytes(**save)
    return data


def test_encrypted_pdf_is_refused_with_what_to_do() -> None:
    data = _pdf_bytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="o")
    with pytest.raises(ExtractionError, match=r"encrypted.*unprotected copy"):
        extract(data, filename="locked.pdf")


def test_image_only_pdf_needs_ocr() -> None:
    with pytest.raises(ExtractionError, match=r"no text layer.*OCR"):
        extract((EXAMPLES_INBOX / "zz_scanned.pdf").read_bytes(), filename="scan.pdf")


def test_truncated_pdf_is_refused() -> None:
    with pytest.raises(ExtractionError, match="truncated"):
        extract((EXAMPLES_INBOX / "zz_truncated.pdf").read_bytes(), filename="cut.pdf")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "JPEG"),
        (b"PK\x03\x04" + b"\x00" * 100, "ZIP"),
        (b"<!DOCTYPE html><html><body>login</body></html>", "HTML page"),
        (b"just some words", "no PDF header"),
    ],
    ids=["empty", "jpeg", "zip", "html", "plain"],
)
def test_impostors_named_pdf_say_what_they_are(data: bytes, words: str) -> None:
    with pytest.raises(ExtractionError, match=words):
        extract(data, filename="report.pdf")


def test_unsupported_type_is_refused() -> None:
    with pytest.raises(ExtractionError, match=r"unsupported file type '\.docx'"):
        extract(b"some bytes", filename="report.docx")


def test_page_limit() -> None:
    from reportlake.extraction.pdf import extract_pdf

    doc = pymupdf.open()
    for _ in range(5):
        doc.new_page().insert_text((50, 50), "正文" * 20, fontname="china-s")
    with pytest.raises(ExtractionError, match="5 pages, over the 3-page limit"):
        extract_pdf(doc.tobytes(), max_pages=3)
