"""Turn extracted report text into one canonical form before any field is read.

Steps: fold compatibility characters (NFKC, but CJK punctuation kept for display), convert
traditional to simplified script, drop template markers, page footers, page numbers and repeated
running headers, put line breaks back into text whose whitespace was stripped, and cut the
disclaimer tail.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import opencc

from reportlake.models import Script
from reportlake.vocab import brokers, rating_words, words

# Full-width CJK punctuation stays as printed (titles and risks read better); everything else
# NFKC folds, e.g. full-width ＠ and digits, ideographic spaces, circled numbers.
_KEEP_PUNCTUATION = "，：；（）！？"

# OpenCC converters are expensive to build and thread-safe to use: one per process.
_T2S = opencc.OpenCC("t2s")

CJK = r"\u4e00-\u9fff"
COLON = "[:：]"

_MARKER = re.compile(r"\[(?:[A-Za-z]+_[A-Za-z0-9_]+|Table_[A-Za-z0-9]*)\]")
_PAGE_NUMBER_LINE = re.compile(
    r"^\s*(?:第\s*\d+\s*页(?:\s*[/，,共]\s*\d+\s*页?)?|\d{1,3}(?:\s*/\s*\d{1,3})?|-\s*\d{1,3}\s*-)\s*$",
    re.M,
)
_FOOTER = re.compile(
    "(?:"
    + "|".join(map(re.escape, words("footer_phrases")))
    + r")[^\n。]{0,40}?(?:(?:声明|条款|申明|说明|信息披露|部分|内容|风险)+|(?=\n)|$)",
    re.M,
)
_DISCLAIMER = re.compile("|".join(map(re.escape, words("disclaimer_markers"))))
_EMAIL_END = re.compile(
    r"(@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com\.cn|net\.cn|com\.hk|com|cn|net|org|hk))"
)
_SENTENCE_END = re.compile(r"(。)(?!\n)")
_CJK_RUN = re.compile(f"[{CJK}]+")
_BLANK_LINES = re.compile(r"\n{2,}")


@dataclass(frozen=True)
class Prepared:
    """A report's text in canonical form, and the parts fields are read from."""

    text: str  # folded, simplified, cleaned; line breaks restored when they had been stripped
    body: str  # ``text`` without the disclaimer / rating-definitions tail
    script: Script  # script of the original text
    stripped: bool  # the original had its whitespace removed

    def head(self, size: int = 2000) -> str:
        """The first characters of the report, where its header fields are."""
        return self.text[:size]


@cache
def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for cp in (*range(0xA0, 0x3400), *range(0xF900, 0x10000)):
        ch = chr(cp)
        if ch in _KEEP_PUNCTUATION or 0xD800 <= cp <= 0xDFFF:
            continue
        folded = unicodedata.normalize("NFKC", ch)
        if folded != ch:
            table[cp] = folded
    return table


@cache
def _traditional_chars() -> re.Pattern[str]:
    # Characters t2s changes on their own are traditional-only; counted to tell the script.
    block = "\n".join(chr(c) for c in range(0x4E00, 0xA000))
    changed = [
        a for a, b in zip(block.split("\n"), _T2S.convert(block).split("\n"), strict=True) if a != b
    ]
    return re.compile("[" + "".join(changed) + "]")


@cache
def _foldable() -> re.Pattern[str]:
    return re.compile("[" + "".join(re.escape(chr(cp)) for cp in _fold_table()) + "]")


def fold_width(text: str) -> str:
    """NFKC-fold compatibility characters except the CJK punctuation kept for display."""
    table = _fold_table()
    return _foldable().sub(lambda m: table[ord(m.group(0))], text)


def to_simplified(text: str) -> str:
    """Traditional to simplified Chinese (OpenCC t2s); simplified text passes unchanged."""
    return str(_T2S.convert(text))


def detect_script(text: str, *, sample: int = 6000) -> Script:
    """zh-Hant when traditional-only characters make up a visible share of the CJK text."""
    text = text[:sample]
    trad = len(_traditional_chars().findall(text))
    if trad < 2:
        return "zh-Hans"  # counting the CJK characters is the costly part: only when it matters
    cjk = sum(map(len, _CJK_RUN.findall(text)))  # traditional-only characters are CJK: cjk > 0
    return "zh-Hant" if trad / cjk > 0.03 else "zh-Hans"


def canonical(text: str) -> str:
    """The comparison form of a value: NFKC, simplified, no whitespace, lower case."""
    return re.sub(r"\s+", "", to_simplified(unicodedata.normalize("NFKC", text))).lower()


def iter_lines(text: str) -> Iterator[str]:
    """The lines of ``text``, as ``text.split("\\n")`` gives them, one at a time: for readers that
    only look at the first few."""
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end]
        start = end + 1
    yield text[start:]


def is_stripped(text: str) -> bool:
    """True for text whose line breaks were removed (plain-text dumps of whole reports)."""
    return len(text) > 400 and text.count("\n") < len(text) / 400


def remove_template_markers(text: str) -> str:
    """Drop layout markers left by report templates, e.g. ``[Table_Main]``, ``[table_research]``."""
    return _MARKER.sub("", text)


def remove_page_furniture(text: str) -> str:
    """Drop page footers ("请务必阅读…免责声明"), page numbers and repeated running headers."""
    return "\n".join(_content_lines(text))


def _content_lines(text: str) -> list[str]:
    """The lines of ``text`` without page footers, page numbers and repeated running headers."""
    text = _FOOTER.sub("", text)
    text = _PAGE_NUMBER_LINE.sub("", text)
    lines = text.split("\n")
    keys = [ln.strip() for ln in lines]
    repeated = {key for key, n in Counter(keys).items() if n >= 3 and 4 <= len(key) <= 60}
    if not repeated:
        return lines
    seen: set[str] = set()
    kept: list[str] = []
    for ln, key in zip(lines, keys, strict=True):
        if key in repeated:
            if key in seen:
                continue
            seen.add(key)
        kept.append(ln)
    return kept


@cache
def _break_before() -> re.Pattern[str]:
    anchors = [
        *words("head_labels"),
        *words("related_headings"),
        *words("risk_headings"),
        *words("report_header_words"),
        "【",
        "■",
        "➤",
        "➢",
        "●",
        "◆",
        "图表",
        "资料来源",
        "数据来源",
        "目录",
    ]
    # Longest first and consumed: "分析师：" inside "证券分析师：" is no second anchor.
    roles = "|".join(map(re.escape, words("analyst_roles")))
    ratings = "|".join(map(re.escape, sorted(rating_words(), key=len, reverse=True)))
    actions = "|".join(map(re.escape, words("rating_actions")))
    # A first-character class in front lets the engine skip most positions: a long alternation
    # tried at every character of a 40 000-character dump costs milliseconds.
    words_ = [*words("analyst_roles"), *rating_words(), *anchors]
    first = "".join(sorted({re.escape(w[0]) for w in words_}))
    return re.compile(
        f"(?=[{first}])(?:"
        f"(?:{roles}){COLON}"
        + f"|(?:{ratings})(?:-[A-E])?[（(](?:{actions})[^)）\n]{{0,6}}[)）]"
        + "|"
        + "|".join(map(re.escape, sorted(set(anchors), key=len, reverse=True)))
        + ")"
    )


@cache
def _leading_broker() -> re.Pattern[str]:
    names = "|".join(sorted((b.name for b in brokers()), key=len, reverse=True))
    return re.compile(rf"^\s*({names})(?:[A-Z]{{2,}})?")


def _break_around(m: re.Match[str]) -> str:
    # A rating with its action ("买入（维持评级）") is a header line of its own.
    return f"\n{m.group(0)}\n" if m.group(0).endswith((")", "）")) else f"\n{m.group(0)}"


def restore_breaks(text: str) -> str:
    """Put line breaks back before field labels, headings, bullets and after sentences and e-mails.

    Used on text whose whitespace was stripped: the header fields then sit on lines of their own
    again, which is what the line-based readers expect.
    """
    text = _break_before().sub(_break_around, text)
    text = _EMAIL_END.sub(r"\1\n", text)
    text = _SENTENCE_END.sub("。\n", text)
    # A leading broker name ("上海证券SHANGHAISECURITIES豆包…") is a header line of its own.
    text = _leading_broker().sub(r"\1\n", text, count=1)
    return _BLANK_LINES.sub("\n", text)


def cut_disclaimer(text: str, *, min_share: float = 0.3) -> str:
    """Text before the legal tail (analyst statement, disclaimers, rating definitions).

    Only a marker in the latter part of the text counts: the first pages may quote a disclaimer
    heading in a footer, and short reports still have their body first.
    """
    start = int(len(text) * min_share)
    m = _DISCLAIMER.search(text, start)
    return text[: m.start()] if m else text


def prepare(raw: str) -> Prepared:
    """Canonical text of a report and its body, ready for the field readers."""
    script = detect_script(raw)
    stripped = is_stripped(raw)
    text = to_simplified(fold_width(raw)).replace("\r\n", "\n").replace("\r", "\n")
    text = remove_template_markers(text)
    if stripped:
        text = restore_breaks(text)
    # Page furniture goes, and so do spaces, tabs and no-break spaces before each line break.
    *lines, last = _content_lines(text)
    text = "\n".join([*(ln.rstrip(" \t\u00a0") for ln in lines), last])
    return Prepared(text=text, body=cut_disclaimer(text), script=script, stripped=stripped)


# Built at import, not on the first report: parse time stays flat from the first call on.
_foldable()
_traditional_chars()
