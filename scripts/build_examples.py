"""Build ``examples/inbox/`` and ``tests/fixtures/pdf/two_column.pdf`` from the seed reports.

Run as ``.venv/bin/python scripts/build_examples.py``. The output is deterministic: fixed PDF
metadata, no random document ids, so rebuilding leaves the committed files byte-identical.
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pymupdf

ROOT = Path(__file__).resolve().parent.parent
REPORTS_DIR = ROOT / "tests" / "fixtures" / "reports"
INBOX_DIR = ROOT / "examples" / "inbox"
TWO_COLUMN_PDF = ROOT / "tests" / "fixtures" / "pdf" / "two_column.pdf"

PAGE_RECT = pymupdf.paper_rect("a4")
MARGIN_X = 56.0
MARGIN_TOP = 64.0
MARGIN_BOTTOM = 64.0
BODY_SIZE = 10.5
SIDEBAR_SIZE = 9.0
LINE_HEIGHT = 1.5
# A fixed date keeps the bytes stable from one build to the next.
FIXED_PDF_DATE = "D:20250101000000Z"
SIDEBAR_END_MARKER = "主要观点"

# 004 goes out as GBK. GBK has no U+2713 CHECK MARK, so it becomes U+221A SQUARE ROOT, the tick
# that GBK-era Chinese documents use; the tests apply the same map to the fixture text.
GBK_REPLACEMENTS = {"\u2713": "\u221a"}

CJK_FONT = pymupdf.Font("cjk")
SIDEBAR_FILL = (0.93, 0.95, 0.98)


@dataclass(frozen=True)
class ReportSource:
    """One seed report: its file stem and text."""

    stem: str
    text: str


def load_reports() -> list[ReportSource]:
    """Read the seed reports in name order."""
    return [
        ReportSource(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(REPORTS_DIR.glob("*.txt"))
    ]


def body_rect() -> pymupdf.Rect:
    """The single-column text area of an A4 page."""
    return pymupdf.Rect(
        MARGIN_X, MARGIN_TOP, PAGE_RECT.width - MARGIN_X, PAGE_RECT.height - MARGIN_BOTTOM
    )


def new_pdf() -> pymupdf.Document:
    """An empty PDF with fixed metadata."""
    doc = pymupdf.open()
    doc.set_metadata(
        {
            "producer": "reportlake scripts/build_examples.py",
            "creator": "reportlake",
            "creationDate": FIXED_PDF_DATE,
            "modDate": FIXED_PDF_DATE,
        }
    )
    return doc


def save_pdf(doc: pymupdf.Document, path: Path) -> None:
    """Subset the fonts and save compactly and reproducibly."""
    doc.subset_fonts()
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path, garbage=3, deflate=True, no_new_id=True, reproducible=True)
    doc.close()


def fill_box(
    page: pymupdf.Page, rect: pymupdf.Rect, text: str, *, fontsize: float = BODY_SIZE
) -> str:
    """Write ``text`` into ``rect``; return the text that did not fit ("" when all of it did)."""
    writer = pymupdf.TextWriter(page.rect)
    overflow = writer.fill_textbox(
        rect, text, font=CJK_FONT, fontsize=fontsize, lineheight=LINE_HEIGHT
    )
    writer.write_text(page)
    rest = [line for line, _width in overflow]
    # A blank line at the top of the next page would only waste space.
    while rest and not rest[0].strip():
        rest.pop(0)
    return "\n".join(rest)


def flow_pages(doc: pymupdf.Document, text: str) -> None:
    """Add single-column pages until every character of ``text`` is placed."""
    while text:
        page = doc.new_page(width=PAGE_RECT.width, height=PAGE_RECT.height)
        rest = fill_box(page, body_rect(), text)
        if len(rest) >= len(text):
            raise RuntimeError("text does not fit on an empty page: a line is too long")
        text = rest


def render_report_pdf(report: ReportSource) -> pymupdf.Document:
    """Render a report single-column, page by page, with nothing truncated."""
    doc = new_pdf()
    flow_pages(doc, report.text.strip("\n"))
    return doc


def render_two_column_report_pdf(report: ReportSource) -> pymupdf.Document:
    """Render a report whose header block sits in a right-hand sidebar on page one."""
    lines = report.text.strip("\n").split("\n")
    split_at = next(i for i, line in enumerate(lines) if line.strip() == SIDEBAR_END_MARKER)
    sidebar_text = "\n".join(lines[:split_at]).strip("\n")
    main_text = "\n".join(lines[split_at:])

    doc = new_pdf()
    page = doc.new_page(width=PAGE_RECT.width, height=PAGE_RECT.height)
    area = body_rect()
    sidebar = pymupdf.Rect(area.x1 - 140, area.y0, area.x1, area.y1)
    main = pymupdf.Rect(area.x0, area.y0, sidebar.x0 - 20, area.y1)
    page.draw_rect(sidebar + (-6, -6, 6, 6), color=None, fill=SIDEBAR_FILL)  # noqa: RUF005 - Rect arithmetic, not a tuple
    if fill_box(page, sidebar, sidebar_text, fontsize=SIDEBAR_SIZE):
        raise RuntimeError(f"{report.stem}: the sidebar does not fit on page one")
    flow_pages(doc, fill_box(page, main, main_text))
    return doc


def wrap_text(text: str, width: float, fontsize: float) -> list[str]:
    """Greedy character wrap (CJK text has no spaces to break at)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for char in paragraph:
            if line and CJK_FONT.text_length(line + char, fontsize=fontsize) > width:
                lines.append(line)
                line = ""
            line += char
        lines.append(line)
    return lines


@dataclass(frozen=True)
class PlacedLine:
    """A line of text at a baseline position."""

    x: float
    y: float
    text: str
    fontsize: float


def place_column(
    text: str, rect: pymupdf.Rect, fontsize: float, line_gap: float
) -> list[PlacedLine]:
    """Lay out a column line by line; fail if it runs past the bottom of ``rect``."""
    placed: list[PlacedLine] = []
    y = rect.y0 + fontsize
    for line in wrap_text(text, rect.width, fontsize):
        if y > rect.y1:
            raise RuntimeError(f"column text does not fit in {rect}")
        if line:
            placed.append(PlacedLine(rect.x0, y, line, fontsize))
        y += fontsize * line_gap
    return placed


TWO_COLUMN_TITLE = "中际旭创（300308）：800G光模块放量，盈利能力持续提升"
TWO_COLUMN_SUBTITLE = "2024年三季报点评                                      2024年10月30日"
TWO_COLUMN_SIDEBAR = """买入（维持）

证券分析师：张良卫
执业证书：S0600516070001
zhanglw@dwzq.com.cn
证券分析师：周良玖
执业证书：S0600517110002
zhoulj@dwzq.com.cn

市场数据
收盘价(元)：142.35
一年最低/最高价：83.50/185.20
总市值(百万元)：159,472

相关研究
《中际旭创（300308）：高速光模块需求旺盛，业绩持续高增长》2024-08-19
《中际旭创（300308）：一季度业绩超预期，1.6T产品蓄势待发》2024-04-21"""
TWO_COLUMN_MAIN = """投资要点
事件：公司发布2024年三季报，前三季度实现营业收入170.7亿元，同比增长157.8%；实现归母净利润36.9亿元，同比增长249.4%。单三季度实现营收64.6亿元，同比增长103.5%，环比增长10.2%。
800G光模块持续放量，高端产品占比提升。受益于海外云厂商算力基础设施建设加速，公司800G产品出货量环比继续增长，1.6T产品已开始小批量出货，产品结构优化推动毛利率提升至34.7%。
费用管控良好，经营效率持续改善。前三季度期间费用率同比下降3.1个百分点，规模效应逐步显现，硅光和光芯片自研进展顺利，有望进一步提升盈利水平。
盈利预测与投资评级：我们上调公司2024-2026年归母净利润预测至51.2/82.6/103.4亿元，对应PE为31/19/15倍，维持“买入”评级。
风险提示：下游需求不及预期；行业竞争加剧；海外贸易政策变化。"""
TWO_COLUMN_PAGE_TWO = """一、三季度业绩保持高增长
公司第三季度营业收入和净利润均创历史新高，800G产品需求强劲，海外头部客户订单饱满。公司在泰国的产能建设稳步推进，可有效应对贸易环境变化。
二、技术领先优势稳固
公司在高速率光模块领域持续保持行业领先，1.6T光模块和硅光方案已获得客户认可，LPO和CPO等新方案同步布局，长期竞争力突出。
三、盈利预测与投资评级
我们看好公司作为全球光模块龙头的长期成长性，维持“买入”评级。
风险提示：下游需求不及预期；行业竞争加剧；海外贸易政策变化；汇率波动风险。"""


def build_two_column_fixture(path: Path) -> None:
    """A two-page report with a LEFT sidebar on page one, written line by line.

    The lines of both columns are written in baseline order, the way some report generators
    emit them, so the content stream itself interleaves sidebar and main text and only block
    geometry can separate them.
    """
    doc = new_pdf()
    page = doc.new_page(width=PAGE_RECT.width, height=PAGE_RECT.height)
    area = pymupdf.Rect(40, 56, PAGE_RECT.width - 40, PAGE_RECT.height - 56)
    sidebar = pymupdf.Rect(area.x0, area.y0 + 60, area.x0 + 150, area.y1)
    main = pymupdf.Rect(sidebar.x1 + 20, area.y0 + 60, area.x1, area.y1)
    page.draw_rect(sidebar + (-4, -4, 4, 4), color=None, fill=SIDEBAR_FILL)  # noqa: RUF005 - Rect arithmetic, not a tuple
    placed = [
        PlacedLine(area.x0, area.y0 + 18, TWO_COLUMN_TITLE, 16),
        PlacedLine(area.x0, area.y0 + 40, TWO_COLUMN_SUBTITLE, 10),
        *place_column(TWO_COLUMN_SIDEBAR, sidebar, 8.5, 1.45),
        *place_column(TWO_COLUMN_MAIN, main, 10.5, 1.7),
    ]
    write_lines(page, sorted(placed, key=lambda line: (line.y, line.x)))

    page = doc.new_page(width=PAGE_RECT.width, height=PAGE_RECT.height)
    write_lines(page, place_column(TWO_COLUMN_PAGE_TWO, area, 10.5, 1.7))
    save_pdf(doc, path)


def write_lines(page: pymupdf.Page, lines: Sequence[PlacedLine]) -> None:
    """Write each line separately, in the order given."""
    writer = pymupdf.TextWriter(page.rect)
    for line in lines:
        writer.append((line.x, line.y), line.text, font=CJK_FONT, fontsize=line.fontsize)
    writer.write_text(page)


def build_scanned_pdf(report: ReportSource) -> pymupdf.Document:
    """A one-page PDF holding only a raster image of text: no text layer at all."""
    source = new_pdf()
    page = source.new_page(width=PAGE_RECT.width, height=PAGE_RECT.height)
    fill_box(page, body_rect(), report.text.strip("\n")[:1200])
    pixmap = page.get_pixmap(dpi=72, colorspace=pymupdf.csGRAY)
    source.close()

    doc = new_pdf()
    page = doc.new_page(width=PAGE_RECT.width, height=PAGE_RECT.height)
    page.insert_image(page.rect, stream=pixmap.tobytes("png"))
    return doc


# --- the 001 web repost as a portal page -------------------------------------------------------

ARTICLE_HEAD_LINES = 4  # title, blank, title again, date/source line
ARTICLE_END_MARKER = "海量資訊、精準解讀,盡在新浪財經APP"
APP_PROMO_LINE = "登錄新浪財經APP 搜索【信披】查看更多考評等級"
NAV_ITEMS = ["財經首頁", "股票", "基金", "期貨", "外匯", "港股", "美股", "黃金", "理財", "研報中心"]
TOP_BAR_ITEMS = ["新浪首頁", "新聞", "體育", "娛樂", "科技", "博客", "登錄", "註冊"]
FOOTER_TEXT = "Copyright © 1996-2024 SINA Corporation, All Rights Reserved 新浪公司 版權所有"
PAGE_STYLE = """body { font-family: "PingFang TC", "Microsoft JhengHei", sans-serif; margin: 0; }
.top-bar, .main-nav { background: #1f4e8c; color: #fff; }
.main-nav a { color: #fff; margin: 0 8px; }
.layout { display: flex; max-width: 1100px; margin: 0 auto; }
article { flex: 3; } aside.sidebar { flex: 1; font-size: 13px; }"""
PAGE_SCRIPT = """var ARTICLE_CONFIG = {channel: "stock", docid: "mznfyaw3318461", tip: "正在加載評論"};
document.addEventListener("DOMContentLoaded", function () {
  var el = document.querySelector(".hot-list");
  if (el) { el.setAttribute("data-loaded", "1"); }
});"""


def build_portal_html(report: ReportSource) -> str:
    """Wrap the 001 web repost in a realistic portal page (navigation, sidebar, footer, JS)."""
    lines = report.text.split("\n")
    title = lines[0].strip()
    date_source = lines[3].strip()
    end = next(i for i, line in enumerate(lines) if line.strip() == ARTICLE_END_MARKER)
    body = [line.strip() for line in lines[ARTICLE_HEAD_LINES:end]]
    paragraphs = [line for line in body if line and line != APP_PROMO_LINE]
    tail = [line.strip() for line in lines[end:] if line.strip()]
    # The tail of the repost is the portal's own furniture: keywords, promo boxes, live tickers.
    keywords = tail[1].split()
    bullets = [line.lstrip("• ").strip() for line in tail if line.startswith("•")]
    sidebar_items = [line for line in tail[2:] if not line.startswith("•")]
    tickers, footer_links = bullets[2:-1], bullets[-1].split()

    esc = html.escape
    article = "\n".join(f"      <p>{esc(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="zh-Hant">
<head>
  <meta charset="utf-8">
  <title>{esc(title)}|新浪財經_新浪網</title>
  <meta name="keywords" content="{esc(",".join(keywords))}">
  <style>
{PAGE_STYLE}
  </style>
  <script>
{PAGE_SCRIPT}
  </script>
</head>
<body>
  <header class="top-bar">
    {" ".join(f'<a href="#">{esc(item)}</a>' for item in TOP_BAR_ITEMS)}
    <form class="search" action="#"><input type="text" name="q" value="搜索股票代碼"></form>
  </header>
  <nav class="main-nav">
    <ul>{"".join(f'<li><a href="#">{esc(item)}</a></li>' for item in NAV_ITEMS)}</ul>
  </nav>
  <div class="breadcrumb"><a href="#">新浪財經</a> &gt; <a href="#">股票</a> &gt; 市場投研資訊</div>
  <div class="layout">
    <main>
      <div class="app-promo">{esc(APP_PROMO_LINE)}</div>
      <article class="article">
        <h1 class="main-title">{esc(lines[2].strip())}</h1>
        <div class="date-source">{esc(date_source)}</div>
{article}
      </article>
      <div class="share-bar">{esc(tail[0])}</div>
      <div class="keywords">{" ".join(f'<a href="#">{esc(k)}</a>' for k in keywords)}</div>
      <div class="comment-box">評論加載中...</div>
    </main>
    <aside class="sidebar">
      {"".join(f'<div class="box">{esc(item)}</div>' for item in sidebar_items)}
      <ul class="live">{"".join(f"<li>{esc(b)}</li>" for b in bullets[:2])}</ul>
      <ul class="hot-list">{"".join(f"<li>{esc(t)}</li>" for t in tickers)}</ul>
    </aside>
  </div>
  <footer class="site-footer">
    <p>{" ".join(f'<a href="#">{esc(link)}</a>' for link in footer_links)}</p>
    <p>{esc(FOOTER_TEXT)}</p>
  </footer>
  <script>window.SINA_STATS && window.SINA_STATS.track("article_view");</script>
</body>
</html>
"""


def encode_gbk(text: str) -> bytes:
    """Encode as GBK after mapping the few characters GBK lacks."""
    for char, replacement in GBK_REPLACEMENTS.items():
        text = text.replace(char, replacement)
    return text.encode("gbk")


def write_bytes(path: Path, data: bytes) -> None:
    """Write a file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build_inbox(reports: Sequence[ReportSource], inbox: Path) -> None:
    """Write every example input into a fresh ``inbox``."""
    if inbox.exists():
        shutil.rmtree(inbox)
    inbox.mkdir(parents=True)
    by_prefix = {report.stem[:3]: report for report in reports}
    renderers: dict[str, Callable[[ReportSource], pymupdf.Document]] = {
        "000": render_two_column_report_pdf
    }
    for report in reports:
        render = renderers.get(report.stem[:3], render_report_pdf)
        save_pdf(render(report), inbox / f"{report.stem}.pdf")

    repost = by_prefix["001"]
    write_bytes(inbox / f"{repost.stem}.html", build_portal_html(repost).encode("utf-8"))
    gbk_report = by_prefix["004"]
    write_bytes(inbox / f"{gbk_report.stem}.txt", encode_gbk(gbk_report.text))
    meta = {
        "title": "豆包题材持续发酵，重视字节产业链投资机会",
        "broker": "上海证券",
        "publish_date": "2024-12-30",
    }
    write_bytes(
        inbox / f"{by_prefix['000'].stem}.pdf.meta.json",
        (json.dumps(meta, ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
    )

    whole = (inbox / f"{by_prefix['002'].stem}.pdf").read_bytes()
    write_bytes(inbox / "zz_truncated.pdf", whole[: len(whole) // 2])
    save_pdf(build_scanned_pdf(by_prefix["003"]), inbox / "zz_scanned.pdf")


def main() -> None:
    """Build everything and list what was written."""
    pymupdf.TOOLS.mupdf_display_errors(False)
    build_inbox(load_reports(), INBOX_DIR)
    build_two_column_fixture(TWO_COLUMN_PDF)
    for path in [*sorted(INBOX_DIR.iterdir()), TWO_COLUMN_PDF]:
        print(f"{path.stat().st_size:>9,d}  {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
