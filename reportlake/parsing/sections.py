"""Sections read as lists: related reports (相关报告) and risks (风险提示)."""

from __future__ import annotations

import re

from reportlake.models import RelatedReport
from reportlake.parsing.dates import DATE, parse_date
from reportlake.parsing.normalize import COLON
from reportlake.vocab import words

_RELATED = re.compile(
    "(?:" + "|".join(map(re.escape, words("related_headings"))) + rf")\s*{COLON}?"
)
# A PDF layout may wrap a title inside its book-title marks: up to two line breaks.
_BOOK_TITLE = re.compile(r"《((?:[^》\n]{1,100}\n){0,2}[^》\n]{1,100})》")
_WRAP = re.compile(r"(?<=(.))\n(?=(.))")
_BULLET = r"(?:[-•·▪●◆■➤➢*]|\d{1,2}[.、)）]|[（(]\d{1,2}[)）]|[①-⑳])"
_DATED_ITEM = re.compile(
    rf"\s*{_BULLET}?\s*(?P<title>[^\n]{{4,120}}?)(?:\s*(?:——|—|--|-)\s*|\s+)(?P<date>{DATE.pattern})"
)
_LEADING_DATE = re.compile(r"^(?:19|20)\d{6}\s*")
_LEADING_BULLET = re.compile(rf"^\s*{_BULLET}\s*")
# What may stand between two items of a related-reports list: dates, dashes, brackets.
_ITEM_GAP = re.compile(rf"{DATE.pattern}|[\s—\-–()（）:：,，]")
_RELATED_REACH = 900

_RISK = re.compile("(?:" + "|".join(map(re.escape, words("risk_headings"))) + ")")
_RISK_WORDS = words("risk_words")
_ITEM_SPLIT = re.compile(r"[；;，,、。]")
_LIST_END = ("；", ";", "，", ",", "、", "：", ":")
_HEADED = re.compile(rf"^\s*{_BULLET}?\s*\**(?P<item>[^：:。\n]{{2,30}}?)\**\s*{COLON}\s*\S")
_BULLETED = re.compile(rf"^\s*{_BULLET}\s*\**(?P<item>[^。：:\n]{{2,30}}?)\**\s*[；;。]?\s*$")
_TRAILING_ETC = re.compile(r"等$")
_PAGE_REFERENCE = re.compile(r"[\d\s.…]+")
_NUMBERED_HEADING = re.compile(r"^\s*\d+(?:\.\d+)*\s*[.、]?\s*[\u4e00-\u9fff]{2,}[^。]{0,30}$")


def _unwrap_title(title: str) -> str:
    """Undo line wraps: CJK joins directly; next to a Latin word or number a space stays."""
    return _WRAP.sub(lambda m: " " if m.group(1).isascii() or m.group(2).isascii() else "", title)


def _clean_title(title: str) -> str:
    title = _unwrap_title(title)
    title = _LEADING_BULLET.sub("", title.strip())
    lead = _LEADING_DATE.match(title)
    if lead and parse_date(lead.group(0)):
        title = title[lead.end() :]
    return title.strip(" -—–*")


def extract_related(text: str) -> list[RelatedReport]:
    """Related reports listed under 相关报告/相关研究, with their dates when printed."""
    for heading in _RELATED.finditer(text):
        region = text[heading.end() : heading.end() + _RELATED_REACH]
        items = _book_title_items(region) or _dated_items(region)
        if items:
            return items
    return []


def _book_title_items(region: str) -> list[RelatedReport]:
    out: list[RelatedReport] = []
    pos = 0
    for m in _BOOK_TITLE.finditer(region):
        if len(m.group(1)) < 4:
            continue
        gap = region[pos : m.start()]
        if out and len(_ITEM_GAP.sub("", gap)) > 12:
            break  # the list ended; later 《》 are quotations in running text
        nxt = region.find("《", m.end())
        tail = region[m.end() : nxt if nxt >= 0 else m.end() + 40][:40]
        out.append(RelatedReport(title=_clean_title(m.group(1)), date=parse_date(tail)))
        pos = m.end() + len(tail) if nxt < 0 else m.end()
    return out


def _dated_items(region: str) -> list[RelatedReport]:
    out: list[RelatedReport] = []
    pos = 0
    while True:
        m = _DATED_ITEM.match(region, pos)
        if not m:
            break
        title = _clean_title(m.group("title"))
        if title:
            out.append(RelatedReport(title=title, date=parse_date(m.group("date"))))
        pos = m.end()
    return out


def _risk_quality(items: list[str]) -> float:
    return sum(any(w in i for w in _RISK_WORDS) for i in items) / len(items) if items else 0.0


def _clean_item(item: str) -> str:
    item = _LEADING_BULLET.sub("", item.strip()).strip(" *")
    return _TRAILING_ETC.sub("", item).strip()


def _inline_risks(after: str) -> list[str]:
    """A risk list written as one sentence: 风险提示：A；B；C。"""
    collected = ""
    for line in after.split("\n"):
        s = line.strip().strip("*").strip()
        if not s:
            continue
        if s.startswith(".") or _PAGE_REFERENCE.fullmatch(s):
            return []  # a table-of-contents entry
        if "。" in s:
            collected += s[: s.index("。")]
            break
        collected += s
        if not s.endswith(_LIST_END):
            break
    collected = collected.lstrip(":：* ")
    items = [_clean_item(i) for i in _ITEM_SPLIT.split(collected)]
    return [i for i in items if 2 <= len(i) <= 40]


def _headed_risks(after: str) -> list[str]:
    """Risks as headed paragraphs ("A：explanation") or bullets followed by explanations."""
    items: list[str] = []
    paragraphs = [ln for ln in after.split("\n") if ln.strip()][:24]
    for i, para in enumerate(paragraphs):
        if i == 0 and not para.strip(" :：*"):
            continue
        m = _HEADED.match(para) or _BULLETED.match(para)
        if m:
            items.append(_clean_item(m.group("item")))
        elif not items and i > 0:
            return []
        elif _NUMBERED_HEADING.match(para) or _RISK.search(para):
            break
    return [i for i in items if len(i) >= 2]


def extract_risks(body: str, *, structured: bool = True) -> list[str]:
    """Risk items of the best 风险提示 section: the one whose items read most like risks."""
    candidates: list[tuple[float, int, int, list[str]]] = []
    for m in _RISK.finditer(body):
        after = body[m.end() : m.end() + 3000]
        options = [(0, _inline_risks(after))]
        if structured:
            options.append((1, _headed_risks(after)))
        for kind, items in options:
            quality = _risk_quality(items)
            if quality >= 0.5:
                candidates.append((quality, kind, -m.start(), items))
    if not candidates:
        return []
    return list(dict.fromkeys(max(candidates)[3]))
