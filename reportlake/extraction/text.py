"""Decode text files: BOMs, UTF-8, UTF-16 without BOM, GB18030/GBK, Big5 -- or refuse."""

from __future__ import annotations

import codecs
import re
import unicodedata
from functools import cache

import charset_normalizer
import numpy as np
from numpy.typing import NDArray

from reportlake.errors import ExtractionError
from reportlake.models import Document

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
# Legacy Chinese encodings tried when UTF-8 fails; GB18030 is a superset of GBK and GB2312.
_LEGACY = ("gb18030", "big5")
_MIN_PLAUSIBLE = 0.97  # share of characters that real report text is made of
# Chinese prose is almost all common hanzi; bytes decoded with the wrong CJK codec (Big5 read
# as GBK, Shift-JIS read as UTF-16 ...) still give hanzi, but scattered over rare ones.
_MIN_COMMON_HANZI = 0.85
_MIN_HANZI_TO_JUDGE = 20
_HANZI_SAMPLE_CHARS = 8000  # of text judged for common hanzi
_SLICE = 1 << 20  # characters looked up at a time (4 MB of code points)
_CHAOS_TIE = 0.01  # charset-normalizer guesses this close are a tie
_JUNK = frozenset({"Cc", "Cn", "Co", "Cs"})  # controls, unassigned, private use, surrogates
# Regexes and numpy table lookups do the per-character work in C: a 10 MB page must not take
# seconds to judge.
_HANZI_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF))  # CJK extension A, CJK unified ideographs
_HANZI = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _HANZI_RANGES) + "]")
# Every character regex ``\s`` matches (str.isspace), for counting.
_SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Non-space characters outside the ranges common in reports.
_IMPLAUSIBLE = re.compile(
    "[^\\s"
    "\x20-\x7e"  # ASCII
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\u3000-\u303f"  # CJK punctuation
    "\uff00-\uffef"  # full-width forms
    "\u2000-\u27bf"  # general punctuation, arrows, symbols, dingbats
    "\u00a0-\u024f"  # Latin-1 and Latin extended
    "\u0370-\u03ff"  # Greek (alpha, beta in finance)
    "\u25a0-\u25ff]"  # geometric shapes used as bullets
)
_ASCII_JUNK = re.compile("[\x00-\x08\x0e-\x1b\x7f]")  # ASCII controls that are not whitespace
_ASCII_OR_SPACE = re.compile(r"[\x00-\x7f\s]+")
_REPLACEMENT = "\ufffd"


def plausible_share(text: str, visible: int | None = None) -> float:
    """Share of non-space characters that are common in reports (CJK, ASCII, punctuation).

    Rare but legitimate characters (CJK extension A ...) count half; controls, unassigned and
    private-use code points and U+FFFD count nothing. ``visible``: the number of non-space
    characters, if the caller has counted them already.
    """
    if visible is None:
        visible = visible_count(text)
    if not visible:
        return 0.0
    rest = _IMPLAUSIBLE.findall(text)  # usually a handful: judged one by one
    rare = sum(1 for ch in rest if ch != _REPLACEMENT and unicodedata.category(ch) not in _JUNK)
    return (visible - len(rest) + rare / 2) / visible


def visible_count(text: str) -> int:
    """The number of non-space characters."""
    # In slices: a 10 MB page would otherwise take 40 MB of code points at once.
    spaces = sum(
        int(np.count_nonzero(_is_space().take(_code_points(text[at : at + _SLICE]), mode="clip")))
        for at in range(0, len(text), _SLICE)
    )
    return len(text) - spaces


def _code_points(text: str) -> NDArray[np.uint32]:
    """The code points of ``text``, for per-character table lookups done by numpy.

    A lookup ``table.take(codes, mode="clip")`` gives characters beyond the BMP the table's last
    entry, U+FFFF, which is a noncharacter: neither a space nor a hanzi.
    """
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@cache
def _is_space() -> NDArray[np.bool_]:
    """Per code point of the BMP: whether it is whitespace (``str.isspace``)."""
    table = np.zeros(0x10000, dtype=np.bool_)
    table[[ord(ch) for ch in _SPACES]] = True
    return table


def common_hanzi_share(text: str) -> float | None:
    """Share of hanzi that are common ones; None when there are too few hanzi to judge."""
    # A garbled font garbles every page: the first few thousand hanzi tell as well as all.
    # Each character's code point looks up its kind in a table: no Python object per hanzi.
    kinds = _hanzi_kinds().take(_code_points(text[:_HANZI_SAMPLE_CHARS]), mode="clip")
    _, rare, common = np.bincount(kinds, minlength=3)
    hanzi = int(rare + common)
    return None if hanzi < _MIN_HANZI_TO_JUDGE else int(common) / hanzi


def looks_like_text(text: str) -> bool:
    """For a guessed codec: plausible characters throughout and, if any, mostly common hanzi."""
    return plausible_share(text) >= _MIN_PLAUSIBLE and hanzi_are_common(text)


def _junk_count(text: str) -> tuple[int, int]:
    """``(junk, visible)``: junk characters (controls, unassigned, private use, U+FFFD) among
    the non-space ones."""
    visible = visible_count(text)
    junk = len(_ASCII_JUNK.findall(text))
    rest = _ASCII_OR_SPACE.sub("", text)  # the non-ASCII, non-space characters
    junk += sum(ch == _REPLACEMENT or unicodedata.category(ch) in _JUNK for ch in rest)
    return junk, visible


def _is_clean(text: str) -> bool:
    """For a codec the bytes vouch for (UTF-8, a declaration): no run of junk characters."""
    junk, visible = _junk_count(text)
    return junk <= visible * (1 - _MIN_PLAUSIBLE) and hanzi_are_common(text)


def hanzi_are_common(text: str) -> bool:
    """True unless there are enough hanzi to judge and too many of them are rare.

    Text decoded with the wrong codec, or a PDF font without a Unicode map, still yields hanzi,
    but scattered over rare ones.
    """
    share = common_hanzi_share(text)
    return share is None or share >= _MIN_COMMON_HANZI


@cache
def _hanzi_kinds() -> NDArray[np.uint8]:
    """Per code point of the BMP: 0 not a hanzi, 1 a rare hanzi, 2 a common one.

    Common: simplified GB2312 level 1 and traditional Big5 level 1, read from the codecs.
    """
    kinds = np.zeros(0x10000, dtype=np.uint8)
    for lo, hi in _HANZI_RANGES:
        kinds[lo : hi + 1] = 1
    chars: set[str] = set()
    for lead in range(0xB0, 0xD8):
        for trail in range(0xA1, 0xFF):
            chars.update(bytes((lead, trail)).decode("gb2312", errors="ignore"))
    for lead in range(0xA4, 0xC7):
        for trail in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            chars.update(bytes((lead, trail)).decode("big5", errors="ignore"))
    codes = np.array([ord(ch) for ch in chars])
    kinds[codes[kinds[codes] == 1]] = 2  # the codecs' level 1 also holds symbols: hanzi only
    return kinds


def _utf16_nul_side(data: bytes) -> str | None:
    """The UTF-16 codec whose ASCII characters put NUL bytes on one side only, if any."""
    even, odd = data[0::2], data[1::2]
    for nuls, others, codec in (
        (odd.count(0), even.count(0), "utf-16-le"),
        (even.count(0), odd.count(0), "utf-16-be"),
    ):
        # Digits, spaces and newlines put NULs on one side only; binary data scatters them.
        if nuls > len(data) // 40 and others <= nuls // 50:
            return codec
    return None


def _refuse_cut_utf16(data: bytes) -> None:
    """An odd number of bytes that reads as UTF-16 without its last byte: a cut-off file."""
    whole = data[:-1]
    codec = _utf16_nul_side(whole)
    text = _strict(whole, codec) if codec else None
    if codec and text is not None and looks_like_text(text):
        raise ExtractionError(
            f"file is {codec.upper()} text without a byte-order mark but has an odd number of "
            "bytes, so its end is cut off: fetch it again, or save it as UTF-8"
        )


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text without a BOM shows NUL bytes at every other offset for ASCII-heavy text."""
    if len(data) < 4:
        return None
    if len(data) % 2:
        _refuse_cut_utf16(data)
        return None
    codec = _utf16_nul_side(data)
    if codec is not None:
        text = _strict(data, codec)
        return (text, codec) if text is not None and looks_like_text(text) else None
    # CJK-only UTF-16 has no NULs: accept it only if it reads as common hanzi throughout.
    for codec in ("utf-16-le", "utf-16-be"):
        text = _strict(data, codec)
        if (
            text is not None
            and looks_like_text(text)
            and common_hanzi_share(text) is not None
            and len(_HANZI.findall(text)) > len(text) // 2
        ):
            return text, codec
    return None


def _strict(data: bytes, codec: str) -> str | None:
    """``data`` decoded strictly, or None."""
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _legacy_chinese(data: bytes) -> tuple[str, str] | None:
    """GB18030 (recorded as gbk when the bytes are plain GBK) or Big5, whichever reads as Chinese.

    Many byte strings decode under both codecs; the common-hanzi share tells the real one from
    the garbled one.
    """
    best: tuple[float, float, str, str] | None = None
    for codec in _LEGACY:
        text = _strict(data, codec)
        if text is None or not looks_like_text(text):
            continue
        candidate = (common_hanzi_share(text) or 0.0, plausible_share(text), text, codec)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        return None
    _, _, text, codec = best
    if codec == "gb18030" and _strict(data, "gbk") == text:
        codec = "gbk"
    return text, codec


def _charset_normalizer_guess(data: bytes) -> tuple[str, str]:
    """charset-normalizer's guess, only when no equally likely guess reads differently."""
    matches = list(charset_normalizer.from_bytes(data))
    plausible = [m for m in matches if looks_like_text(str(m))]
    if not plausible:
        raise ExtractionError(
            "could not tell the text encoding (not UTF-8, UTF-16, GB18030/GBK or Big5 "
            "without garbling): save the file as UTF-8"
        )
    best = min(plausible, key=lambda m: m.chaos)
    rivals = {
        m.encoding for m in plausible if m.chaos <= best.chaos + _CHAOS_TIE and str(m) != str(best)
    }
    if rivals:
        raise ExtractionError(
            f"text encoding is ambiguous ({best.encoding} or {', '.join(sorted(rivals))} "
            "read it differently): save the file as UTF-8"
        )
    return str(best), best.encoding


def _decode_marked(body: bytes, codec: str) -> tuple[str, str]:
    """Text after a byte-order mark: the mark is a declaration, so bytes against it are refused."""
    text = _strict(body, codec)
    if text is not None:
        return text, codec
    actual = _legacy_chinese(body)
    reads_as = f" (the rest reads as {actual[1].upper()})" if actual else ""
    raise ExtractionError(
        f"file starts with a {codec.upper()} byte-order mark but is not valid {codec.upper()}"
        f"{reads_as}: it is damaged or mislabelled; save it again as UTF-8"
    )


def _refuse_lossy_conversion(text: str) -> None:
    """Valid UTF-8 full of U+FFFD: converted from another encoding with errors, text lost."""
    replaced = text.count(_REPLACEMENT)
    _, visible = _junk_count(text)
    if replaced > visible * (1 - _MIN_PLAUSIBLE):
        raise ExtractionError(
            f"text was converted from another encoding with errors: {replaced} characters are "
            "replacement marks (U+FFFD, shown as 锟斤拷 by GBK viewers) and the original "
            "characters are lost; get the original file and save the file as UTF-8 from it"
        )


def decode_text(data: bytes, *, declared: str | None = None) -> tuple[str, str]:
    """Return ``(text, encoding)``; raise ExtractionError rather than guess wrong.

    Order: byte-order mark, a declared charset (HTML), strict UTF-8, UTF-16 without BOM,
    GB18030/GBK or Big5, then charset-normalizer.
    """
    if not data.strip():
        raise ExtractionError("file is empty: nothing to ingest")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decode_marked(data[len(bom) :], codec)
    if declared:
        # Pages declaring GB2312/GBK use GB18030-only characters too; browsers read them so.
        codec = "gb18030" if declared.lower() in {"gb2312", "gbk", "x-gbk"} else declared
        text = _strict(data, codec)
        if text is not None and "\x00" not in text and _is_clean(text):
            return text, codecs.lookup(codec).name
    # NUL bytes are valid UTF-8, so UTF-8 only counts without them (else UTF-16 is likelier).
    text = _strict(data, "utf-8")
    if text is not None and "\x00" not in text:
        if _is_clean(text):
            return text, "utf-8"
        _refuse_lossy_conversion(text)
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return utf16
    if data.count(0) > len(data) // 100:
        raise ExtractionError(
            "file is binary (NUL bytes), not text: check what the source sent, or fix the "
            "file extension"
        )
    return _legacy_chinese(data) or _charset_normalizer_guess(data)


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
