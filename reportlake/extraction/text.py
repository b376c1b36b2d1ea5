"""Decode text files: BOMs, UTF-8, UTF-16 without BOM, GB18030/GBK, Big5 -- or refuse."""

from __future__ import annotations

import codecs
import unicodedata

import charset_normalizer

from reportlake.errors import ExtractionError
from reportlake.models import Document

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Legacy Chinese encodings tried when UTF-8 fails; GB18030 is a superset of GBK and GB2312.
_LEGACY = ("gb18030", "big5")
_MIN_PLAUSIBLE = 0.97  # share of characters that real report text is made of


def plausible_share(text: str) -> float:
    """Share of non-space characters that are common in reports (CJK, ASCII, punctuation)."""
    total, good = 0, 0.0
    for ch in text:
        if ch.isspace():
            continue
        total += 1
        code = ord(ch)
        if (
            0x20 <= code < 0x7F
            or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
            or 0x3000 <= code <= 0x303F  # CJK punctuation
            or 0xFF00 <= code <= 0xFFEF  # full-width forms
            or 0x2000 <= code <= 0x27BF  # general punctuation, arrows, symbols, dingbats
            or 0x00A0 <= code <= 0x024F  # Latin-1 and Latin extended
            or 0x0370 <= code <= 0x03FF  # Greek (alpha, beta in finance)
            or 0x25A0 <= code <= 0x25FF  # geometric shapes used as bullets
        ):
            good += 1
        elif unicodedata.category(ch) in {"Co", "Cc", "Cn", "Cs"} or ch == "\ufffd":
            continue
        else:
            good += 0.5  # rare but legitimate (e.g. CJK extension A): counts half
    return good / total if total else 0.0


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a BOM shows NUL bytes at every other offset for ASCII-heavy text."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    for nuls, codec in ((odd.count(0), "utf-16-le"), (even.count(0), "utf-16-be")):
        if nuls > len(data) // 8:
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                return None
    # CJK-only UTF-16 has few NULs: accept it only if it decodes to plausible text.
    for codec in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if (
            plausible_share(text) >= 0.995
            and sum(0x4E00 <= ord(c) <= 0x9FFF for c in text) > len(text) // 2
        ):
            return text
    return None


def decode_text(data: bytes, *, declared: str | None = None) -> tuple[str, str]:
    """Return ``(text, encoding)``; raise ExtractionError rather than guess wrong."""
    if not data.strip():
        raise ExtractionError("file is empty: nothing to ingest")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), codec.replace("-sig", "")
            except UnicodeDecodeError as exc:
                raise ExtractionError(
                    f"file starts with a {codec} byte-order mark but is not valid {codec} ({exc})"
                ) from exc
    candidates: list[str] = []
    if declared:
        candidates.append(declared)
    candidates.append("utf-8")
    for codec in candidates:
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        if "\x00" not in text:
            return text, codecs.lookup(codec).name
    text16 = _utf16_without_bom(data)
    if text16 is not None:
        return text16, "utf-16"
    if data.count(0) > len(data) // 100:
        raise ExtractionError("file is binary (NUL bytes), not text: check its type")
    best: tuple[float, str, str] | None = None
    for codec in _LEGACY:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        share = plausible_share(text)
        if best is None or share > best[0]:
            best = (share, text, codec)
    if best is None or best[0] < _MIN_PLAUSIBLE:
        guess = charset_normalizer.from_bytes(data).best()
        if guess is not None and plausible_share(str(guess)) >= _MIN_PLAUSIBLE:
            return str(guess), guess.encoding
        raise ExtractionError(
            "could not tell the text encoding (not UTF-8, UTF-16, GB18030/GBK or Big5 "
            "without garbling): save the file as UTF-8"
        )
    return best[1], best[2]


def extract_text(data: bytes) -> Document:
    """A plain-text report; form feeds separate pages."""
    text, encoding = decode_text(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return Document(
        text=text,
        format="txt",
        page_count=text.count("\f") + 1,
        char_count=len(text),
        encoding=encoding,
    )
