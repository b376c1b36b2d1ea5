"""Dates in report text, and the report's own publish date."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from reportlake.models import DateSource
from reportlake.parsing.normalize import COLON, Prepared
from reportlake.vocab import words

# A page number may be glued in front of a date ("12021年3月27日" is page 1 + 2021-03-27), so
# up to three leading digits are skipped before the year.
_CN = r"(?<!\d)\d{0,3}?((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
_SEP = r"(?<![\d.])((?:19|20)\d{2})(?P<sep>[./-])(\d{1,2})(?P=sep)(\d{1,2})(?![\d.])"
_COMPACT = r"(?<!\d)((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)"
DATE = re.compile(f"(?=\\d)(?:{_CN}|{_SEP}|{_COMPACT})")
# "2024年9月11日至10月11日": the second date takes the first one's year.
_RANGE_END = re.compile(r"\s*(?:至|到|-|—|~)\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")

_LABELS = "|".join(map(re.escape, words("date_labels")))
_LABELLED = re.compile(f"({_LABELS})\\s*({COLON})?\\s*(?={DATE.pattern})")
_BLOCKERS = words("date_label_blockers")
_FORECAST = words("forecast_words")
_DATE_LINE = re.compile(
    rf"^\s*(?:{DATE.pattern})(?:\s*\d{{1,2}}:\d{{2}})?\s*(?:星期.|周.)?\s*$", re.M
)


@dataclass(frozen=True)
class DateMatch:
    date: dt.date
    start: int
    end: int


def _make(year: str, month: str, day: str) -> dt.date | None:
    try:
        d = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    return d if dt.date(1990, 1, 1) <= d <= dt.date.today() + dt.timedelta(days=366) else None


def parse_date(text: str) -> dt.date | None:
    """The first date in ``text`` in any format brokers print, or None."""
    found = find_dates(text)
    return found[0].date if found else None


def find_dates(text: str) -> list[DateMatch]:
    """Every valid date in ``text``: 2024年12月30日, 2024.12.15, 2024/9/26, 2024-12-30, 20241216."""
    out: list[DateMatch] = []
    for m in DATE.finditer(text):
        g = m.groups()
        if g[0]:
            d = _make(g[0], g[1], g[2])
            if d:
                out.append(DateMatch(d, m.start(), m.end()))
                r = _RANGE_END.match(text, m.end())
                if r:
                    d2 = _make(g[0], r.group(1), r.group(2))
                    if d2:
                        out.append(DateMatch(d2, r.start(1), r.end()))
        elif g[3]:
            d = _make(g[3], g[5], g[6])
            if d:
                out.append(DateMatch(d, m.start(), m.end()))
        else:
            d = _make(g[7], g[8], g[9])
            if d:
                out.append(DateMatch(d, m.start(), m.end()))
    return out


def _labelled_date(text: str) -> dt.date | None:
    for m in _LABELLED.finditer(text):
        before = text[max(0, m.start() - 4) : m.start()]
        if any(before.endswith(b) for b in _BLOCKERS):
            continue  # 公告日期, 截至日期 ... are data dates
        if m.group(1) == "日期" and not m.group(2):
            continue  # a bare 日期 is a label only with its colon
        d = parse_date(text[m.end() : m.end() + 20])
        if d:
            return d
    return None


def _header_line_date(prep: Prepared) -> dt.date | None:
    if prep.stripped:
        return None
    head_lines = [ln for ln in prep.text.split("\n") if ln.strip()][:15]
    for m in _DATE_LINE.finditer("\n".join(head_lines)):
        d = parse_date(m.group(0))
        if d:
            return d
    return None


def infer_date(text: str) -> dt.date | None:
    """The newest plausible date the text states (forecast dates such as 预计…前 are skipped)."""
    today = dt.date.today()
    best: dt.date | None = None
    for dm in find_dates(text):
        if dm.date > today:
            continue
        context = text[max(0, dm.start - 8) : dm.start]
        if any(w in context for w in _FORECAST):
            continue
        if best is None or dm.date > best:
            best = dm.date
    return best


def publish_date(prep: Prepared) -> tuple[dt.date | None, DateSource | None]:
    """The report's own date: a labelled header date, a date line in the header, else inferred."""
    d = _labelled_date(prep.text) or _header_line_date(prep)
    if d:
        return d, "header"
    d = infer_date(prep.body)
    return (d, "inferred") if d else (None, None)
