"""Ticker codes in tables and text, normalised to one suffix per exchange, with their names."""

from __future__ import annotations

import re
from collections.abc import Mapping

from reportlake.models import TickerMention
from reportlake.parsing.names import looks_like_name
from reportlake.parsing.normalize import CJK
from reportlake.vocab import rating_levels

_TICKER = re.compile(
    r"(?<![A-Za-z0-9.])(?:"
    r"(?P<a>\d{6})\.(?P<ax>SH|SZ|BJ|SS|sh|sz|bj)(?![A-Za-z0-9])"
    r"|(?P<hk>\d{4,5})\.(?:HK|hk)(?![A-Za-z0-9])"
    r"|(?P<tw>\d{4})\.(?P<twx>TWO|TW)(?![A-Za-z0-9])"
    r"|(?P<kr>\d{6})\.(?P<krx>KS|KQ)(?![A-Za-z0-9])"
    r"|(?P<jp>\d{4})\.T(?![A-Za-z0-9])"
    r"|(?P<us>[A-Z]{1,6})\.(?P<usx>OQ|O|N)(?![A-Za-z0-9])"
    r")"
)
# With whitespace stripped a US suffix is glued to the name after it ("AMD.OAMD1,970").
_US_GLUED = re.compile(
    r"(?<![A-Za-z0-9.])(?P<us>[A-Z]{1,6})\.(?P<usx>OQ|O|N)(?=[A-Z][a-z]|[A-Z]{2,}\d)"
)
_US_ANYWHERE = re.compile(r"(?P<us>[A-Z]{1,6})\.(?P<usx>OQ|O|N)(?![A-Za-z0-9])")
# Exchange suffixes are rare in text: find them first, then read the code before each one. The
# dot comes first, so the engine can skip ahead to each dot; a lookbehind checks what precedes it.
_SUFFIX = re.compile(r"\.(?<=[0-9A-Z]\.)(?:S[HZS]|BJ|sh|sz|bj|HK|hk|TWO?|K[SQ]|T|OQ?|N)")
# 贵州茅台（600519）: a bare A-share code in brackets right after a name.
_BARE = re.compile(r"[（(]\s*(\d{6})\s*[)）]")
_BARE_NAME = re.compile(rf"([{CJK}A-Za-z]{{2,8}})\s*$")
_NAME_AFTER = re.compile(rf"[ \t]*([{CJK}A-Za-z][{CJK}A-Za-z\-]{{0,15}})")
_NAME_BEFORE = re.compile(rf"([{CJK}A-Za-z][{CJK}A-Za-z0-9\-]{{1,15}})\s*[（(]\s*$")
_NOT_NAMES = set(rating_levels()) | {"亿元", "亿美元", "万元", "元", "亿人民币", "港元", "美元"}


def a_share_exchange(code: str) -> str | None:
    """Exchange suffix of a 6-digit A-share code from its prefix, or None if not a stock code."""
    if code.startswith(("600", "601", "603", "605", "688", "689")):
        return "SH"
    if code.startswith(("000", "001", "002", "003", "300", "301")):
        return "SZ"
    if code.startswith(("83", "87", "88", "43", "92")):
        return "BJ"
    return None


def _normalise(m: re.Match[str]) -> str:
    g = m.groupdict()
    if g.get("us"):
        return f"{g['us']}.{'O' if g['usx'] == 'OQ' else g['usx']}"
    if g.get("a"):
        suffix = g["ax"].upper()
        return f"{g['a']}.{'SH' if suffix == 'SS' else suffix}"
    if g.get("hk"):
        return f"{int(g['hk']):04d}.HK"
    if g.get("tw"):
        return f"{g['tw']}.{g['twx']}"
    if g.get("kr"):
        return f"{g['kr']}.{g['krx']}"
    return f"{g['jp']}.T"


def _known_glued_symbol(
    text: str, dot: int, end: int, master: Mapping[str, str]
) -> re.Match[str] | None:
    """A US symbol glued to a word before it ("CPU/GPUNVDA.O"): the longest known one."""
    for k in range(min(6, dot), 0, -1):
        m = _US_ANYWHERE.match(text, dot - k, end)
        if m and _normalise(m) in master:
            return m
    return None


def _name_near(text: str, start: int, end: int) -> str | None:
    before = _NAME_BEFORE.search(text, max(0, start - 20), start)
    if before and before.group(1) not in _NOT_NAMES:
        return before.group(1)
    after = _NAME_AFTER.match(text, end)
    if after:
        name = after.group(1).rstrip("-")
        if name not in _NOT_NAMES and (looks_like_name(name) or name.isascii()):
            return name
    return None


def extract_tickers(
    text: str, master: Mapping[str, str] | None = None, *, stripped: bool = False
) -> list[TickerMention]:
    """Each ticker in ``text`` once, in order, with the name printed beside it or the master's."""
    found: dict[str, str | None] = {}
    matches: list[re.Match[str]] = []
    for dot in _SUFFIX.finditer(text):
        start = max(0, dot.start() - 6)
        m = _TICKER.search(text, start, dot.end() + 1)
        if m is None and stripped:
            m = _US_GLUED.search(text, start, dot.end() + 12)
        if m is None and stripped and master:
            m = _known_glued_symbol(text, dot.start(), dot.end() + 1, master)
        if m and (not matches or m.start() != matches[-1].start()):
            matches.append(m)
    for m in matches:
        ticker = _normalise(m)
        if not found.get(ticker):  # the first name found for a ticker is kept
            found[ticker] = _name_near(text, m.start(), m.end())
    for m in _BARE.finditer(text):
        exchange = a_share_exchange(m.group(1))
        before = _BARE_NAME.search(text, max(0, m.start() - 10), m.start())
        if exchange and before and looks_like_name(before.group(1)):
            found.setdefault(f"{m.group(1)}.{exchange}", before.group(1))
    master = master or {}
    return [TickerMention(ticker=t, name=n or master.get(t)) for t, n in found.items()]
