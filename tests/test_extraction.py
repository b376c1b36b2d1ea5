"""Extraction: PDFs in reading order, HTML without chrome, text in its encoding, or a reason."""

from __future__ import annotations

import codecs
import re
import sys
from pathlib import Path

import pymupdf
import pytest

from reportlake.errors import ExtractionError
from reportlake.extraction import extract
from reportlake.extraction.text import _SPACES, common_hanzi_share, visible_count
from tests.conftest import EXAMPLES_INBOX, FIXTURES

REPORTS = FIXTURES / "reports"
CJK = pymupdf.Font("cjk")
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
    # PDF lines wrap, so compare without whitespace: every source line is there, whole.
    missing = [line for line in source.splitlines() if squash(line) not in body]
    assert not missing, missing[:3]


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


TWO_COLUMN_SIDEBAR = [
    "买入（维持）",
    "证券分析师：张良卫",
    "执业证书：S0600516070001",
    "zhanglw@dwzq.com.cn",
    "证券分析师：周良玖",
    "执业证书：S0600517110002",
    "zhoulj@dwzq.com.cn",
    "市场数据",
]


def test_two_column_fixture_sidebar_is_not_interleaved() -> None:
    pdf = FIXTURES / "pdf" / "two_column.pdf"
    with pymupdf.open(pdf) as doc:
        naive = doc[0].get_text(sort=True)
    # The fixture is only a test if plain line sorting mixes the columns.
    assert "证券分析师：张良卫" not in naive.splitlines()

    doc = extract(pdf.read_bytes(), filename="two_column.pdf")
    lines = [line.strip() for line in doc.text.splitlines() if line.strip()]
    start = lines.index(TWO_COLUMN_SIDEBAR[0])
    assert lines[start : start + len(TWO_COLUMN_SIDEBAR)] == TWO_COLUMN_SIDEBAR
    # The full-width title stays first; the main column follows the sidebar in one piece.
    assert lines[0].startswith("中际旭创（300308）")
    main = squash(doc.text[doc.text.index("投资要点") :])
    assert "同比增长157.8%；实现归母净利润36.9亿元" in main
    assert "S0600516070001" not in main
    assert doc.page_count == 2


def test_a_sidebar_after_a_cover_page_is_kept_together() -> None:
    cover_lines = ["东吴证券研究所", "公司深度研究", "中际旭创（300308）", "2024年10月30日"]
    cover = pymupdf.open()
    page = cover.new_page()
    for i, line in enumerate(cover_lines):
        page.insert_text((72, 200 + 40 * i), line, fontname="china-s", fontsize=16)
    with pymupdf.open(FIXTURES / "pdf" / "two_column.pdf") as report:
        cover.insert_pdf(report)
    doc = extract(cover.tobytes(), filename="covered.pdf")
    lines = [line.strip() for line in doc.text.splitlines() if line.strip()]
    assert lines[:4] == cover_lines
    start = lines.index(TWO_COLUMN_SIDEBAR[0])
    assert lines[start : start + len(TWO_COLUMN_SIDEBAR)] == TWO_COLUMN_SIDEBAR


def test_html_repost_yields_the_article_without_site_chrome() -> None:
    doc = extract((EXAMPLES_INBOX / "001_d1516b028d16e038.html").read_bytes(), filename="a.html")
    assert doc.format == "html" and doc.encoding == "utf-8"
    assert "字節跳動已躍升為世界頂級CSP" in doc.text
    assert "風險提示" in doc.text
    assert "2024年12月26日 08:18" in doc.text
    assert "執業登記編碼:S0760524060001" in doc.text
    chrome = [
        "登錄新浪財經APP",  # app promo above the article
        "財經首頁",  # <nav> menu
        "市場投研資訊</",  # breadcrumb markup never leaks
        "VIP課程推薦",  # <aside>
        "熱門推薦",
        "惠通科技 301601",  # live ticker list
        "返回頂部",  # footer links
        "Copyright",
        "正在加載評論",  # <script>
        "addEventListener",
        "display: flex",  # <style>
        "搜索股票代碼",  # <form>
        "海量資訊",  # share bar
    ]
    assert [c for c in chrome if c in doc.text] == []


def test_html_declared_gb2312_is_decoded_as_gb18030() -> None:
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        "</head><body><nav>首页 | 研报</nav><article><p>维持“增持”评级。</p>"
        "<p>风险提示：需求不及预期。</p></article></body></html>"
    )
    # 镕 is GBK-only: a strict GB2312 decoder would fail on it.
    doc = extract(page.replace("维持", "镕维持").encode("gbk"), filename="r.htm")
    assert doc.encoding == "gb18030"
    assert doc.text.splitlines() == ["镕维持“增持”评级。", "风险提示：需求不及预期。"]


def test_gbk_text_is_detected() -> None:
    doc = extract((EXAMPLES_INBOX / "004_0b306bed774ee041.txt").read_bytes(), filename="a.txt")
    assert doc.encoding == "gbk"
    source = (REPORTS / "004_0b306bed774ee041.txt").read_text(encoding="utf-8")
    # build_examples.py maps the one character GBK lacks (U+2713) to U+221A.
    assert doc.text == source.replace("\u2713", "\u221a")


SAMPLE = (
    "上海证券研究所：维持“增持”评级。风险提示：行业竞争加剧。Analyst: Liu, S0870523040005\n" * 5
)
TRADITIONAL = "國金證券研究所維持買入評級。風險提示：需求不及預期，競爭加劇。\n" * 5
GB18030_ONLY = "𠮷"  # outside GBK: GB18030 four-byte sequence


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (SAMPLE.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + SAMPLE.encode("utf-8"), "utf-8"),
        (SAMPLE.encode("gbk"), "gbk"),
        ((SAMPLE + GB18030_ONLY).encode("gb18030"), "gb18030"),
        (codecs.BOM_UTF16_LE + SAMPLE.encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + SAMPLE.encode("utf-16-be"), "utf-16-be"),
        (SAMPLE.encode("utf-16-le"), "utf-16-le"),
        (SAMPLE.encode("utf-16-be"), "utf-16-be"),
        (TRADITIONAL.encode("big5"), "big5"),
        (TRADITIONAL.encode("gbk"), "gbk"),
    ],
    ids=[
        "utf8",
        "utf8-bom",
        "gbk",
        "gb18030",
        "utf16le-bom",
        "utf16be-bom",
        "utf16le",
        "utf16be",
        "big5",
        "traditional-in-gbk",
    ],
)
def test_text_encodings_decode_exactly(data: bytes, encoding: str) -> None:
    doc = extract(data, filename="report.txt")
    assert doc.encoding == encoding
    expected = TRADITIONAL if "國金" in doc.text else SAMPLE
    assert doc.text.removesuffix(GB18030_ONLY) == expected


def test_the_real_reports_survive_every_encoding() -> None:
    for path in sorted(REPORTS.glob("*.txt")):
        source = path.read_text(encoding="utf-8").replace("\u2713", "\u221a")
        for codec in ("gb18030", "utf-16-le", "utf-16-be"):
            doc = extract(source.encode(codec), filename=path.name)
            assert doc.text == source, (path.name, codec)
            # GB18030 bytes of GBK characters are GBK: the narrower name is the truer one.
            assert doc.encoding in {codec, "gbk"}, (path.name, codec)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("日本語のテキストです。株式会社".encode("shift_jis") * 5, "Shift-JIS read as UTF-16"),
        ("Résumé café à la carte. ".encode("cp1252") * 3, "cp1252 or cp1250"),
        (("\ufffd" * 60 + "ok").encode("utf-8"), "replacement characters"),
        (bytes(range(1, 32)) * 50, "control characters"),
    ],
    ids=["shift-jis", "western-legacy", "replacement", "controls"],
)
def test_uncertain_decodings_are_refused_not_guessed(data: bytes, why: str) -> None:
    with pytest.raises(ExtractionError, match=r"encoding.*save the file as UTF-8"):
        extract(data, filename="report.txt")


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


GARBLING_TO_UNICODE = b"""/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CMapName /Garbled def /CMapType 2 def
1 begincodespacerange <0000> <FFFF> endcodespacerange
1 beginbfrange <0000> <18FF> <E000> endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end"""


def test_pdf_with_garbled_text_layer_is_refused() -> None:
    # What a CJK font without a usable ToUnicode map yields: private-use code points.
    doc = pymupdf.open()
    page = doc.new_page()
    writer = pymupdf.TextWriter(page.rect)
    writer.fill_textbox(pymupdf.Rect(50, 50, 545, 792), "豆包题材持续发酵。" * 60, font=CJK)
    writer.write_text(page)
    for xref in range(1, doc.xref_length()):
        kind, value = doc.xref_get_key(xref, "ToUnicode")
        if kind == "xref":
            doc.update_stream(int(value.split()[0]), GARBLING_TO_UNICODE)
    with pytest.raises(ExtractionError, match=r"garbled.*Unicode map"):
        extract(doc.tobytes(), filename="garbled.pdf")


def test_pdf_without_pages_is_refused() -> None:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(body)
    body += b"xref\n0 3\n0000000000 65535 f \n"
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    with pytest.raises(ExtractionError, match="no pages"):
        extract(body, filename="blank.pdf")


def test_pdf_with_junk_after_the_end_marker_still_extracts() -> None:
    # Some mail gateways append signatures; a complete PDF is still complete.
    data = _pdf_bytes() + b"\n-- \nsent by gateway\n" * 400
    assert "测试报告正文" in extract(data, filename="report.pdf").text


def test_mupdf_stays_quiet_on_damaged_files(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ExtractionError):
        extract((EXAMPLES_INBOX / "zz_truncated.pdf").read_bytes(), filename="cut.pdf")
    assert capfd.readouterr().err == ""


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


def test_visible_count_skips_exactly_what_a_regex_space_is() -> None:
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    spaces = re.findall(r"\s", everything)
    assert sorted(_SPACES) == spaces  # the counted kinds are all of them, each once
    text = "招商银行\u3000(600036)\t评级：买入\n\xa0 目标价 45.2 元\u2028"
    assert visible_count(text) == len(re.sub(r"\s", "", text)) == 25
    # Beyond the BMP, and a lone surrogate (text decoded with surrogateescape), are characters.
    assert visible_count("\U00020000 \udc80\U0001f600\n") == 3
    long = "招商 银行\t" * 400_000  # 2.4 million characters: counted in slices
    assert visible_count(long) == 1_600_000


def test_common_hanzi_share_counts_each_hanzi_of_the_sample() -> None:
    common, rare = "的是在有银行证券", "乂乜乭乹亍亖亗亜"  # GB2312/Big5 level 1, and not
    assert all(common_hanzi_share(ch * 20) == 1.0 for ch in common)
    assert all(common_hanzi_share(ch * 20) == 0.0 for ch in rare)
    # Not hanzi: ASCII, punctuation, a kana, extension B beyond the BMP, a lone surrogate.
    noise = "abc 123，。カ\U00020000\udc80\n"
    assert common_hanzi_share(noise * 5 + common * 3 + rare) == 24 / 32
    assert common_hanzi_share(noise * 20 + common * 2 + rare[:3]) is None  # 19 hanzi: too few
    # Only the first 8,000 characters are judged.
    assert common_hanzi_share(common * 1000 + rare * 1000) == 1.0
