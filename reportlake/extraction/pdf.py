"""PDF text with PyMuPDF, in reading order, with multi-column pages kept column by column."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymupdf

from reportlake.errors import ExtractionError
from reportlake.extraction.text import plausible_share
from reportlake.models import Document

# MuPDF prints repair warnings to stderr; our errors carry what a user needs instead.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

MAX_PAGES = 2000
_MIN_CHARS_PER_PAGE = 20  # below this on average the PDF is a scan without a text layer
_MIN_PLAUSIBLE = 0.9  # garbled text layers (fonts without ToUnicode) fall far below this
_OBJECT = re.compile(rb"\d+\s+\d+\s+obj\b")
_ROW_TOLERANCE = 1.0  # points: lines this close in y on both sides of a gap are table rows


@dataclass(frozen=True)
class Line:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


def find_gutter(lines: list[Line], width: float, height: float) -> float | None:
    """x of the gap between a sidebar and the main text, if the page has one.

    A gutter is crossed by (almost) no line, has many lines on each side over a tall stretch
    of the page, and is not a table: table cells line up row by row across the gap, while a
    sidebar and the main text have their own line pitches.
    """
    if len(lines) < 8:
        return None
    best: tuple[int, int, float] | None = None  # (crossing, -lines beside it, x)
    for step in range(int(width * 0.15), int(width * 0.85), 2):
        x = float(step)
        left = [ln for ln in lines if ln.x1 <= x]
        right = [ln for ln in lines if ln.x0 >= x]
        if len(left) < 4 or len(right) < 4:
            continue
        # Only where both sides have text: full-width text above or below may cross freely.
        top = max(min(ln.y0 for ln in left), min(ln.y0 for ln in right))
        bottom = min(max(ln.y1 for ln in left), max(ln.y1 for ln in right))
        if bottom - top < 0.2 * height:
            continue
        inside = [ln for ln in lines if ln.y0 >= top - 1 and ln.y1 <= bottom + 1]
        crossing = sum(1 for ln in inside if ln.x0 < x < ln.x1)
        if crossing > max(1, len(inside) // 20):
            continue
        left = [ln for ln in left if top - 1 <= ln.y0 <= bottom]
        right = [ln for ln in right if top - 1 <= ln.y0 <= bottom]
        if len(left) < 4 or len(right) < 4:
            continue
        rows = {round(ln.y0 / _ROW_TOLERANCE) for ln in right}
        aligned = sum(
            any(round(ln.y0 / _ROW_TOLERANCE) + d in rows for d in (-1, 0, 1)) for ln in left
        )
        if aligned > 0.6 * min(len(left), len(right)):
            continue  # a table: read it row by row
        # Fewest lines crossing, then the most lines on either side: the middle of the gap.
        candidate = (crossing, -(len(left) + len(right)), x)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else None


def order_lines(lines: list[Line], gutter: float) -> list[Line]:
    """Bands between lines that cross the gutter; in a band, the narrow side, then the wide.

    The narrow side is the sidebar (rating, analysts, related reports): the report's header
    information, kept whole ahead of the main text it stands beside.
    """
    left = [ln for ln in lines if ln.x1 <= gutter]
    right = [ln for ln in lines if ln.x0 >= gutter]
    left_width = max(ln.x1 for ln in left) - min(ln.x0 for ln in left)
    right_width = max(ln.x1 for ln in right) - min(ln.x0 for ln in right)
    sides = ("left", "right") if left_width <= right_width else ("right", "left")
    ordered: list[Line] = []
    band: dict[str, list[Line]] = {"left": [], "right": []}

    def flush() -> None:
        for side in sides:
            ordered.extend(sorted(band[side], key=lambda ln: (ln.y0, ln.x0)))
            band[side].clear()

    for line in sorted(lines, key=lambda ln: (ln.y0, ln.x0)):
        if line.x1 <= gutter:
            band["left"].append(line)
        elif line.x0 >= gutter:
            band["right"].append(line)
        else:
            flush()
            ordered.append(line)
    flush()
    return ordered


def _page_text(page: pymupdf.Page) -> str:
    lines: list[Line] = []
    for block in page.get_text("dict")["blocks"]:
        if block["type"] != 0:  # image blocks
            continue
        for line in block["lines"]:
            text = "".join(span["text"] for span in line["spans"]).rstrip()
            if text.strip():
                x0, y0, x1, y1 = line["bbox"]
                lines.append(Line(x0, y0, x1, y1, text))
    gutter = find_gutter(lines, page.rect.width, page.rect.height)
    if gutter is None:
        # One column: MuPDF's own order follows the content stream, which is reading order.
        return "\n".join(ln.text for ln in lines)
    return "\n".join(ln.text for ln in order_lines(lines, gutter))


def _looks_cut_short(data: bytes) -> bool:
    """No end-of-file marker, or PDF objects after the last one (an update cut off)."""
    end = data.rfind(b"%%EOF")
    # Bytes after the marker are harmless unless they hold objects (mail gateways append text).
    return end < 0 or _OBJECT.search(data, end) is not None


def extract_pdf(data: bytes, *, max_pages: int = MAX_PAGES) -> Document:
    """Text of every page in reading order; refuses PDFs whose text cannot be trusted."""
    # A file cut short loses its end-of-file marker; MuPDF then "repairs" it into pages with
    # missing content, which must not pass as a short report.
    cut_short = _looks_cut_short(data)
    truncated = ExtractionError(
        "PDF is truncated (no end-of-file marker): the download or upload was cut off; "
        "fetch the file again"
    )
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
        if cut_short:
            raise truncated from exc
        raise ExtractionError(
            f"PDF is damaged and cannot be opened ({exc}): fetch it again"
        ) from exc
    if cut_short and doc.is_repaired:
        doc.close()
        raise truncated
    with doc:
        if doc.needs_pass:
            raise ExtractionError(
                "PDF is encrypted (needs a password): ask the sender for an unprotected copy"
            )
        if doc.page_count == 0:
            raise ExtractionError("PDF has no pages: the file is empty or damaged; fetch it again")
        if doc.page_count > max_pages:
            raise ExtractionError(
                f"PDF has {doc.page_count} pages, over the {max_pages}-page limit for one report: "
                "check it is a single report, not a merged archive"
            )
        try:
            pages = [_page_text(page) for page in doc]
        except (RuntimeError, ValueError) as exc:
            raise ExtractionError(f"PDF content is damaged ({exc}): fetch it again") from exc
        page_count = doc.page_count
    text = "\n".join(pages)
    visible = sum(not ch.isspace() for ch in text)
    if visible < _MIN_CHARS_PER_PAGE * page_count:
        raise ExtractionError(
            f"PDF has no text layer ({visible} characters on {page_count} pages; a scanned "
            "image): it needs OCR before it can be ingested"
        )
    share = plausible_share(text)
    if share < _MIN_PLAUSIBLE:
        raise ExtractionError(
            f"PDF text is garbled ({1 - share:.0%} unreadable characters; its fonts lack a "
            "Unicode map): ask for a PDF exported with embedded Unicode text, or OCR it"
        )
    return Document(text=text, format="pdf", page_count=page_count, char_count=len(text))
