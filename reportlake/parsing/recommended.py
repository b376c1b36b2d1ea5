"""Recommended companies: names in 建议关注 / 推荐 / 相关标的 lists and in the 投资建议 section."""

from __future__ import annotations

import re

from reportlake.parsing.names import Kind, NameIndex
from reportlake.parsing.normalize import CJK, COLON
from reportlake.vocab import words

_CUES = re.compile("|".join(map(re.escape, words("recommend_cues"))))
# Cues that are also ordinary words ("从个股情况看") count only as a label with a colon.
_LABEL_CUES = ("个股", "相关公司", "受益公司", "投资组合")
_ADVICE = re.compile("|".join(map(re.escape, words("advice_headings"))))
_RISK = re.compile("|".join(map(re.escape, words("risk_headings"))))
_ASIDE = re.compile(r"[（(][^（()）\n]{0,80}[)）]")
_BRACKETED = re.compile(rf"【([{CJK}A-Za-z0-9\-]{{2,10}})】")
_GROUP_SPLIT = re.compile(r"[；;]")
_ITEM_SPLIT = re.compile(r"[、，,]")
_ETC = re.compile(r"等[^、，,]*$")
_LABEL = re.compile(rf"^[^、，,。:：]{{1,20}}{COLON}")
_BULLET = r"(?:[-•·▪●◆■➤➢]|\d{1,2}[.、)）]|[（(]\d{1,2}[)）])"
_LIST_LINE = re.compile(rf"^\s*{_BULLET}|^[^、，,。]{{1,20}}{COLON}")
_HEADING = re.compile(rf"^\s*(?:\d+(?:\.\d+)*\s*[.、]?\s*[{CJK}]|[■➤➢●◆])")
_SEPARATOR_END = ("、", "，", ",", "；", ";", "：", ":")
_SCOPE_REACH = 600
_ADVICE_REACH = 2500


def _prepare(body: str) -> str:
    # Asides such as "视觉中国（关注）" or a long comment after a name are not list items; the
    # second pass removes the outer aside of a nested pair.
    return _ASIDE.sub("", _ASIDE.sub("", body.replace("**", "")))


def _mostly_names(kinds: list[Kind]) -> bool:
    return bool(kinds) and 2 * sum(k in (Kind.KNOWN, Kind.LIKELY) for k in kinds) >= len(kinds)


def _names_in_group(group: str, index: NameIndex) -> tuple[list[str], bool, bool]:
    """Names of one "label：A、B、C" group; whether it starts with prose; whether the list ended."""
    group = _LABEL.sub("", group.strip(" :：*\t-"), count=1).strip()
    found: list[str] = []
    plain: list[str] = []
    kinds: list[Kind] = []
    ended = prose = False
    for n, raw in enumerate(_ITEM_SPLIT.split(group)):
        item = _ETC.sub("", raw).strip(" *\t")
        if not item:
            continue
        names, bad = index.names_in(item)
        if names and bad and n == 0:
            names = []  # "中国移动中期派息…": a name opening a sentence, not a list
        if names:
            found.extend(names)
            kinds.append(Kind.KNOWN)
            if bad:
                ended = True
                break
        elif not bad:
            plain.append(item)
            found.append(item)
            kinds.append(Kind.PLAIN)
        else:
            prose = n == 0
            ended = True
            break
        if _ETC.search(raw):
            ended = True  # "A、B等" / "A、B等公司" closes the list
            break
    keep_plain = _mostly_names(kinds)
    return [f for f in found if keep_plain or f not in plain], prose, ended


def _names_in_scope(scope: str, index: NameIndex) -> list[str]:
    bracketed = _BRACKETED.findall(scope)
    kinds = [index.kind(b) for b in bracketed]
    if bracketed and _mostly_names(kinds):
        return [b for b, k in zip(bracketed, kinds, strict=True) if k is not Kind.JUNK]
    out: list[str] = []
    for group in _GROUP_SPLIT.split(scope):
        names, prose, ended = _names_in_group(group, index)
        if prose:
            break
        out.extend(names)
        if ended:
            break
    return out


def _cue_scope(text: str, end: int) -> str:
    """The list a cue introduces: the rest of its sentence, or the list lines under a heading."""
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    rest = text[end:line_end]
    if rest.strip(" :：*\t"):
        scope = rest
        pos = line_end
        # A sentence broken across lines by the PDF layout goes on until its full stop.
        while "。" not in scope and pos < len(text) and len(scope) < _SCOPE_REACH:
            nxt = text.find("\n", pos + 1)
            nxt = len(text) if nxt < 0 else nxt
            line = text[pos + 1 : nxt].strip()
            pos = nxt
            if not line:
                continue
            if _HEADING.match(line) or _RISK.match(line):
                break
            scope += line
        return scope.split("。")[0]
    lines: list[str] = []
    for line in text[line_end + 1 : line_end + 1500].split("\n"):
        s = line.strip().replace("*", "")
        if not s:
            continue
        if not _LIST_LINE.match(s):
            break
        lines.append(s.rstrip("。"))
    return "；".join(lines)


def _advice_sentences(text: str) -> list[str]:
    """Sentences of the 投资建议 sections, where "板块：A、B、C" lists are recommendations."""
    out: list[str] = []
    for m in _ADVICE.finditer(text):
        region = text[m.end() : m.end() + _ADVICE_REACH].split("\n")
        kept: list[str] = []
        for i, line in enumerate(region):
            s = line.strip()
            if i > 0 and (_RISK.match(s) or (_HEADING.match(s) and len(s) < 40)):
                break
            kept.append(s)
        for sentence in re.split(r"[。\n]", "\n".join(kept)):
            label = _LABEL.match(sentence.strip(" *-•"))
            if label and not re.search(r"\d", label.group(0)):
                out.append(sentence)
    return out


def extract_recommended(body: str, index: NameIndex) -> list[str]:
    """Recommended company names in order of first mention, as printed (simplified)."""
    text = _prepare(body)
    found: list[str] = []
    for m in _CUES.finditer(text):
        if m.group(0) in _LABEL_CUES and not re.match(rf"\s*{COLON}", text[m.end() :]):
            continue
        found.extend(_names_in_scope(_cue_scope(text, m.end()), index))
    for sentence in dict.fromkeys(_advice_sentences(text)):
        found.extend(_names_in_scope(sentence, index))
    return list(dict.fromkeys(found))
