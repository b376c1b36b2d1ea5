"""Title, industry and report type, read from the report header."""

from __future__ import annotations

import re
from functools import cache
from itertools import islice

from reportlake.models import ReportType
from reportlake.parsing.normalize import CJK, COLON, Prepared, iter_lines
from reportlake.vocab import brokers, industries, lexicon, rating_words, words

_TAG = re.compile(r"^\s*【[^】]{1,20}】\s*")
_SAC_NUMBER = re.compile(r"S\d{13}")
_TITLE_REJECTS = words("title_rejects")
_RATING_LINE = re.compile(
    "^[【\\[]?(?:"
    + "|".join(sorted(rating_words(), key=len, reverse=True))
    + r")(?:-[A-E])?[】\]]?[（(]"
)
_LATIN_HEADER = re.compile(r"^[A-Z][A-Z .&]{3,}(?=[^A-Za-z]|$)")
_INDUSTRY_FOLLOWERS = words("industry_title_followers")
_REPORT_TYPE_WORDS: dict[str, list[str]] = lexicon()["report_types"]
_REPORT_TYPE_ORDER: list[str] = lexicon()["report_type_order"]
_COMPANY_CODE = re.compile(r"[（(]\s*\d{6}(?:\.[A-Z]{2})?\s*[)）]|[（(]\s*\d{4,5}\.HK\s*[)）]")
_HEAD_LINES = 40
_HEAD_LABELS = words("head_labels")
_TITLE_END = "。！？!?）)》」”\"'…"
_WRAP_MIN = 14  # a title cut by the layout filled its line
_WRAP_REST = 12
_SITE_SUFFIX = re.compile(r"\s*[|｜]\s*([^|｜]{2,30})$")
_SITE_WORDS = words("web_site_words")


_INDUSTRIES = "|".join(map(re.escape, sorted(industries(), key=len, reverse=True)))
_INDUSTRY = re.compile(_INDUSTRIES)
_INDUSTRY_ONLY = re.compile(rf"(?:{_INDUSTRIES})(?:产业|行业|板块)*")
_INDUSTRY_LABEL = re.compile(
    rf"(?:所属行业|行业名称|行业类别|(?<![{CJK}])行业)\s*{COLON}\s*({_INDUSTRIES})"
)
_INDUSTRY_LINE = re.compile(rf"^(?:{_INDUSTRIES})(?=(?:行业|产业)?$)")
_INDUSTRY_REPORT_LINE = re.compile(
    rf"^({_INDUSTRIES})(?:产业)?行业(?:研究|周报|月报|点评|深度|报告|专题|跟踪|动态|简评)"
)
_INDUSTRY_TAG = re.compile(r"^\s*【([^】]{2,20})】")
_CJK_CHAR = re.compile(f"[{CJK}]")
_LIST_ITEM = re.compile(r"^\s*(?:[-•·▪●◆■]|\d+[.、)）]\s*\D)")
_WORD_START = re.compile(rf"[{CJK}A-Za-z0-9]")
_COLON_OR_YEAR = re.compile(rf"{COLON}|\d{{4}}")
_SPACES = re.compile(r"\s+")


@cache
def _broker_prefix() -> re.Pattern[str]:
    names = sorted(
        {s for b in brokers() for s in b.spellings if len(s) >= 3}, key=len, reverse=True
    )
    return re.compile(r"^(?:" + "|".join(map(re.escape, names)) + r")\s*")


def _head_lines(prep: Prepared) -> list[str]:
    """The first non-blank lines of the report, stripped (only those are looked at)."""
    lines = (ln.strip() for ln in iter_lines(prep.text))
    return list(islice(filter(None, lines), _HEAD_LINES))


def _strip_header_prefix(line: str, prep: Prepared) -> str:
    """Drop a broker name / English header glued before the title."""
    m = _broker_prefix().match(line)
    if m and (prep.stripped or _LATIN_HEADER.match(line[m.end() :])):
        line = line[m.end() :]
    latin = _LATIN_HEADER.match(line)
    if latin and _CJK_CHAR.match(line, latin.end()):
        line = line[latin.end() :]
    if prep.stripped:
        ind = _INDUSTRY.match(line)
        if ind and not line[ind.end() :].startswith(_INDUSTRY_FOLLOWERS):
            line = line[ind.end() :]
    return line.strip()


def _is_title(line: str) -> bool:
    cjk = len(_CJK_CHAR.findall(line))
    if cjk < 6 or len(line) > 120 or "@" in line:
        return False
    if any(w in line for w in _TITLE_REJECTS) or _RATING_LINE.match(line):
        return False
    if _SAC_NUMBER.search(line):  # an analyst line: 欧阳思亮(S0160518050017)
        return False
    if _INDUSTRY_ONLY.fullmatch(line):
        return False
    if "。" in line.rstrip("。") or line.endswith((":", "：")):
        return False
    return not _LIST_ITEM.match(line)


def _wrapped_rest(title: str, nxt: str) -> bool:
    """Whether ``nxt`` is the end of a title a PDF layout wrapped (…重视字节产业 / 链投资机会)."""
    if len(title) < _WRAP_MIN or title[-1] in _TITLE_END or not 3 <= len(nxt) <= _WRAP_REST:
        return False
    if not _WORD_START.match(nxt) or _COLON_OR_YEAR.search(nxt):
        return False
    rejects = (*_TITLE_REJECTS, *_HEAD_LABELS)
    return not (any(w in nxt for w in rejects) or _RATING_LINE.match(nxt) or _TAG.match(nxt))


def _strip_site_name(title: str) -> str:
    """A web repost's page title ends in the portal's name: "…|新浪财经_新浪网"."""
    m = _SITE_SUFFIX.search(title)
    if m and any(w in m.group(1) for w in _SITE_WORDS):
        return title[: m.start()].strip()
    return title


def extract_title(prep: Prepared) -> str | None:
    """The first header line that reads like a title, without a leading 【tag】."""
    lines = _head_lines(prep)
    for i, line in enumerate(lines):
        cand = _strip_header_prefix(_TAG.sub("", line) if _TAG.match(line) else line, prep)
        cand = _TAG.sub("", cand)
        page_title = _strip_site_name(cand)
        if _is_title(page_title):
            if page_title != cand:
                return _SPACES.sub(" ", page_title).strip()
            if not prep.stripped and i + 1 < len(lines) and _wrapped_rest(cand, lines[i + 1]):
                cand += lines[i + 1]
            return _SPACES.sub(" ", cand).strip()
    return None


def extract_industry(prep: Prepared, title: str | None) -> str | None:
    """The report's industry: a 行业：label, a 【tag】, a header line, then the title's prefix."""
    label = _INDUSTRY_LABEL.search(prep.head())
    if label:
        return label.group(1)
    lines = _head_lines(prep)
    if lines:
        tag = _INDUSTRY_TAG.match(lines[0])
        if tag:
            for word in sorted(industries(), key=len, reverse=True):
                if tag.group(1).endswith(word):
                    return word
    for line in lines[:12]:
        m = _INDUSTRY_LINE.match(line)
        if m:
            return m.group(0)
        m = _INDUSTRY_REPORT_LINE.match(line)
        if m:
            return m.group(1)
    if prep.stripped:
        m = _INDUSTRY.match(prep.text.lstrip())
        if m and not prep.text.lstrip()[m.end() :].startswith(_INDUSTRY_FOLLOWERS):
            return m.group(0)
    if title:
        m = _INDUSTRY.match(title)
        if m:
            return m.group(0)
    return None


def _type_in(text: str) -> ReportType | None:
    for rtype in _REPORT_TYPE_ORDER:
        if any(w in text for w in _REPORT_TYPE_WORDS[rtype]):
            return rtype  # type: ignore[return-value]
    return None


def extract_report_type(prep: Prepared, title: str | None) -> ReportType | None:
    """Report type from the title, then short header lines, then an 点评 heading in the body."""
    if title:
        found = _type_in(title)
        if found:
            return found
        if _COMPANY_CODE.search(title):
            return "公司"
    for line in _head_lines(prep)[:15]:
        if len(line) <= 24 and not line.startswith(("《", "-", "•")):
            found = _type_in(line)
            if found:
                return found
    if any(w in prep.body for w in _REPORT_TYPE_WORDS["点评"]):
        return "点评"
    return None
