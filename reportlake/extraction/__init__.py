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
# Things that arrive posing as reports, recognised by their first bytes.
_IMPOSTORS = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\xd0\xcf\x11\xe0", "a legacy Office document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)


def _looks_like_html(head: bytes) -> bool:
    sample = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return sample.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<meta"))


def detect_format(data: bytes, filename: str, content_type: str | None = None) -> DocumentFormat:
    """Magic bytes first, then the content type, then the file suffix."""
    if not data:
        raise ExtractionError("file is empty (0 bytes): nothing to ingest")
    suffix = PurePosixPath(filename).suffix.lower()
    head = data[:1024]
    claimed = _SUFFIXES.get(suffix) or _CONTENT_TYPES.get(
        (content_type or "").split(";")[0].strip().lower()
    )
    if b"%PDF-" in head:
        return "pdf"
    for magic, what in _IMPOSTORS:
        if data.startswith(magic):
            raise ExtractionError(f"{filename!r} is really {what}, not a PDF, HTML or text report")
    if _looks_like_html(head):
        if claimed == "pdf":
            raise ExtractionError(
                f"{filename!r} is named as a PDF but is an HTML page (a login or error page?): "
                "download the real PDF"
            )
        return "html"
    if claimed == "pdf":
        raise ExtractionError(f"{filename!r} is named as a PDF but has no PDF header: not a PDF")
    if claimed is None:
        raise ExtractionError(
            f"unsupported file type {suffix or '(no suffix)'!r}: send PDF, HTML or text"
        )
    return claimed


def extract(data: bytes, *, filename: str, content_type: str | None = None) -> Document:
    """Extract the text of one original; raise ExtractionError with what to do otherwise."""
    return EXTRACTORS[detect_format(data, filename, content_type)](data)


__all__ = ["EXTRACTORS", "detect_format", "extract"]
