"""Turn an original's bytes into text: one extractor per format behind one ``extract`` entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from reportlake.errors import ExtractionError
from reportlake.extraction.html import extract_html
from reportlake.extraction.pdf import extract_pdf
from reportlake.extraction.text import extract_text
from reportlake.models import Document, DocumentFormat

EXTRACTORS: dict[DocumentFormat, Callable[[bytes], Document]] = {
    "pdf": extract_pdf,
    "html": extract_html,
    "txt": extract_text,
}
_SUFFIXES: dict[str, DocumentFormat] = {
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".txt": "txt",
}
_CONTENT_TYPES: dict[str, DocumentFormat] = {
    "application/pdf": "pdf",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "txt",
}
# Things that arrive posing as reports, recognised by their first bytes: what they are, and
# what to do about it.
_PICTURE = (
    "the source sent a picture instead of the report; fetch the report itself (a scanned page "
    "needs OCR before it can be ingested)"
)
_ARCHIVE = "unpack it and put the reports it holds in the inbox"
_OFFICE = "export it as PDF and send that instead"
_IMPOSTORS = (
    (b"\xff\xd8\xff", "a JPEG image", _PICTURE),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", _PICTURE),
    (b"GIF8", "a GIF image", _PICTURE),
    (b"PK\x03\x04", "a ZIP archive", _ARCHIVE),
    (b"\xd0\xcf\x11\xe0", "a legacy Office document (.doc/.xls/.ppt)", _OFFICE),
    (b"\x1f\x8b", "a gzip archive", _ARCHIVE),
    (b"Rar!", "a RAR archive", _ARCHIVE),
    (b"7z\xbc\xaf", "a 7-Zip archive", _ARCHIVE),
)
# Office Open XML documents are ZIP archives holding one of these parts.
_OOXML = (
    (b"word/document.xml", "a Word document (.docx)"),
    (b"xl/workbook.xml", "an Excel workbook (.xlsx)"),
    (b"ppt/presentation.xml", "a PowerPoint deck (.pptx)"),
)


def _looks_like_html(head: bytes) -> bool:
    sample = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return sample.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<meta"))


def _refuse_impostor(data: bytes, filename: str) -> None:
    """Images, archives and Office files sent as reports: say what they really are."""
    for magic, what, advice in _IMPOSTORS:
        if not data.startswith(magic):
            continue
        if magic.startswith(b"PK"):
            what, advice = next(
                ((kind, _OFFICE) for part, kind in _OOXML if part in data), (what, advice)
            )
        raise ExtractionError(
            f"{filename!r} is really {what}, not a PDF, HTML or text report: {advice}"
        )


def _describe_start(data: bytes) -> str:
    """What the first bytes look like: plain text (quoted), or raw bytes."""
    for cut in range(48, 44, -1):  # the 48th byte may split a multi-byte character
        try:
            head = data[:cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if head.strip() and all(ch.isprintable() or ch.isspace() for ch in head):
            return f"it is plain text starting {head.strip().splitlines()[0][:24]!r}"
        break
    return f"it starts with {data[:16]!r}"


def detect_format(data: bytes, filename: str, content_type: str | None = None) -> DocumentFormat:
    """Magic bytes first, then the content type, then the file suffix."""
    if not data:
        raise ExtractionError(
            "file is empty (0 bytes): the download or upload failed; fetch it again"
        )
    suffix = PurePosixPath(filename).suffix.lower()
    head = data[:1024]
    claimed = _SUFFIXES.get(suffix) or _CONTENT_TYPES.get(
        (content_type or "").split(";")[0].strip().lower()
    )
    # Before the PDF marker: an archive of PDFs shows "%PDF-" in its first bytes too.
    _refuse_impostor(data, filename)
    if b"%PDF-" in head:
        return "pdf"
    if _looks_like_html(head):
        if claimed == "pdf":
            raise ExtractionError(
                f"{filename!r} is named as a PDF but is really an HTML page (a login or error "
                "page, or a web repost): if it is the report itself, rename it to .html; "
                "otherwise download the real PDF from the source"
            )
        return "html"
    if claimed == "pdf":
        raise ExtractionError(
            f"{filename!r} is named as a PDF but has no PDF header ({_describe_start(data)}): "
            "check what the source sent, or fix the file extension"
        )
    if claimed is None:
        raise ExtractionError(
            f"unsupported file type {suffix or '(no suffix)'!r}: send PDF, HTML or text, or fix "
            "the file extension"
        )
    return claimed


def extract(data: bytes, *, filename: str, content_type: str | None = None) -> Document:
    """Extract the text of one original; raise ExtractionError with what to do otherwise."""
    return EXTRACTORS[detect_format(data, filename, content_type)](data)


__all__ = ["EXTRACTORS", "detect_format", "extract"]
