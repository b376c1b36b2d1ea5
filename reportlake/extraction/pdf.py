"""PDF text with PyMuPDF, in reading order, with multi-column pages kept column by column."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pymupdf
from numpy.typing import NDArray
from pymupdf import mupdf

from reportlake.errors import ExtractionError
from reportlake.extraction.text import (
    common_hanzi_share,
    hanzi_are_common,
    plausible_share,
    visible_count,
)
from reportlake.models import Document

# MuPDF prints repair warnings to stderr; our errors carry what a user needs instead.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

MAX_PAGES = 2000
# A first page with fewer lines of text is a cover (title, broker, date): the report's header,
# with its sidebar, is on the next page, which then gets the layout pass instead.
COVER_LINES = 15
_TEXT_FLAGS = pymupdf.TEXTFLAGS_TEXT
_OPTIONS = mupdf.FzStextOptions(_TEXT_FLAGS)
_MIN_CHARS_PER_PAGE = 20  # below this on average the PDF is a scan without a text layer
_MIN_PLAUSIBLE = 0.9  # garbled text layers (fonts without ToUnicode) fall far below this
_OBJECT = re.compile(rb"\d+\s+\d+\s+obj\b")
_ROW_TOLERANCE = 1.0  # points: lines this close in y on both sides of a gap are table rows


Reduce = Callable[..., NDArray[np.float64]]


class Line(NamedTuple):
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


def find_gutter(lines: list[Line], width: float, height: float) -> float | None:
    """x of the gap between a sidebar and the main text, if the page has one.

    A gutter is crossed by (almost) no line, has many lines on each side over a tall stretch
    of the page, and is not a table: table cells line up row by row across the gap, while a
    sidebar and the main text have their own line pitches. Every candidate x is judged at
    once on arrays of the line boxes (rows: candidates, columns: lines).
    """
    if len(lines) < 8 or not _sides_possible(lines, width):
        return None
    x0, y0, x1, y1 = (
        np.array(v, dtype=float)
        for v in zip(*((ln.x0, ln.y0, ln.x1, ln.y1) for ln in lines), strict=True)
    )
    xs = np.arange(int(width * 0.15), int(width * 0.85), 2, dtype=float)[:, None]  # candidates
    left, right = x1 <= xs, x0 >= xs
    # Only where both sides have text: full-width text above or below may cross freely.
    top = np.maximum(_masked(y0, left, np.min), _masked(y0, right, np.min))
    bottom = np.minimum(_masked(y1, left, np.max), _masked(y1, right, np.max))
    inside = (y0 >= top - 1) & (y1 <= bottom + 1)
    crossing = (inside & (x0 < xs) & (xs < x1)).sum(axis=1)
    beside = (y0 >= top - 1) & (y0 <= bottom)
    left, right = left & beside, right & beside
    n_left, n_right = left.sum(axis=1), right.sum(axis=1)
    ok = (
        (bottom - top >= 0.2 * height)[:, 0]
        & (crossing <= np.maximum(1, inside.sum(axis=1) // 20))
        & (n_left >= 4)
        & (n_right >= 4)
    )
    rows = np.round(y0 / _ROW_TOLERANCE).astype(int)
    best: tuple[int, int, float] | None = None  # (crossing, -lines beside it, x)
    for i in np.flatnonzero(ok):
        right_rows = set(rows[right[i]].tolist())
        aligned = sum(any(r + d in right_rows for d in (-1, 0, 1)) for r in rows[left[i]].tolist())
        if aligned > 0.6 * min(n_left[i], n_right[i]):
            continue  # a table: read it row by row
        # Fewest lines crossing, then the most lines on either side: the middle of the gap.
        candidate = (int(crossing[i]), -int(n_left[i] + n_right[i]), float(xs[i, 0]))
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else None


def _sides_possible(lines: list[Line], width: float) -> bool:
    """Whether some candidate x has 4 lines wholly left of it and 4 wholly right of it.

    A cheap necessary condition for a gutter: most one-column pages fail it (their lines start
    at the left margin), and skip the array work.
    """
    right_edges = sorted(ln.x1 for ln in lines)
    left_edges = sorted((ln.x0 for ln in lines), reverse=True)
    lowest = max(right_edges[3], int(width * 0.15))  # from here 4 lines end to the left
    highest = min(left_edges[3], int(width * 0.85))  # up to here 4 lines start to the right
    return lowest <= highest


def _masked(
    values: NDArray[np.float64], mask: NDArray[np.bool_], reduce: Reduce
) -> NDArray[np.float64]:
    """``reduce`` of ``values`` per row of ``mask``; NaN for rows that select nothing."""
    fill = np.inf if reduce is np.min else -np.inf
    out = reduce(np.where(mask, values, fill), axis=1, keepdims=True)
    return np.where(np.isinf(out), np.nan, out)


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


def _plain_text(page: mupdf.FzPage) -> str:
    """A page in MuPDF's own order (the content stream's: reading order for one column).

    Straight on MuPDF's C API: PyMuPDF's ``Page`` and ``TextPage`` wrappers cost ~35 µs a page
    (0.5 ms a report), and ``page.get_text()`` re-checks every character against the media box
    (the text page's flags already clip to it) and decodes escapes, a fifth of the extraction's
    time. The blank lines MuPDF puts between blocks go.
    """
    buffer = mupdf.fz_new_buffer(4096)
    output = mupdf.FzOutput(buffer)
    mupdf.fz_print_stext_page_as_text(output, mupdf.FzStextPage(page, _OPTIONS))
    output.fz_close_output()
    text = mupdf.fz_buffer_extract_copy(buffer).decode("utf-8", "replace")
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def _page_text(page: pymupdf.Page) -> str:
    """A page in reading order, a sidebar kept whole ahead of the main text beside it."""
    lines: list[Line] = []
    for block in page.get_text("dict", flags=_TEXT_FLAGS)["blocks"]:
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
            pages = _pages_text(doc)
        except (RuntimeError, ValueError) as exc:
            raise ExtractionError(f"PDF content is damaged ({exc}): fetch it again") from exc
        page_count, repaired = doc.page_count, doc.is_repaired
    text = "\n".join(pages)
    _check_text_layer(text, page_count, repaired=repaired)
    return Document(text=text, format="pdf", page_count=page_count, char_count=len(text))


def _pages_text(doc: pymupdf.Document) -> list[str]:
    """Every page's text: the header page in reading order, the body in stream order.

    The header sidebar (rating, analysts, related reports) is a layout of the first page, or of
    the second after a cover; the layout pass costs twice a plain extraction (~0.7 ms a page),
    so the body pages are read in stream order, at the cost of plain extraction.
    """
    pages: list[str] = []
    layout = 1  # pages read with the layout pass
    for number in range(doc.page_count):
        if number >= layout:
            pages.append(_plain_text(mupdf.fz_load_page(doc.this, number)))
            continue
        text = _page_text(doc.load_page(number))
        if number == 0 and text.count("\n") + 1 < COVER_LINES:
            layout = 2
        pages.append(text)
    return pages


def _check_text_layer(text: str, page_count: int, *, repaired: bool) -> None:
    """Refuse text that is missing (a scan, or lost to damage) or unreadable (garbled fonts)."""
    visible = visible_count(text)
    if visible < _MIN_CHARS_PER_PAGE * page_count:
        if repaired:  # MuPDF rebuilt a broken cross-reference table and found no text
            raise ExtractionError(
                f"PDF is damaged: its cross-reference table is broken and only {visible} "
                f"characters on {page_count} pages could be recovered; fetch the file again"
            )
        raise ExtractionError(
            f"PDF has no text layer ({visible} characters on {page_count} pages; a scanned "
            "image): it needs OCR before it can be ingested"
        )
    share = plausible_share(text, visible)
    if share < _MIN_PLAUSIBLE:
        symptom = f"{1 - share:.0%} of its characters are not text"
    elif not hanzi_are_common(text):
        symptom = f"{1 - (common_hanzi_share(text) or 0.0):.0%} of its hanzi are rare ones"
    else:
        return
    raise ExtractionError(
        f"PDF text layer is unreadable, garbled ({symptom}): its fonts have no usable Unicode "
        "map; it needs OCR, or ask the sender for a PDF exported with Unicode text"
    )
