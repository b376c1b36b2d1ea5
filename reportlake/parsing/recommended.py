"""Recommended companies: names in 建议关注 / 推荐 / 相关标的 lists and in the 投资建议 section."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from reportlake.parsing.names import Kind, NameIndex, states_performance
from reportlake.parsing.normalize import CJK, COLON
from reportlake.vocab import words

_CUES = re.compile("|".join(map(re.escape, words("recommend_cues"))))
# Cues that are also ordinary words ("从个股情况看") count only as a label with a colon.
_LABEL_CUES = ("个股", "相关公司", "受益公司", "投资组合")
# Cues that say their items are securities (相关标的, 重点标的推荐): holding a security word.
_SECURITY_CUES = frozenset(
    c for c in words("recommend_cues") if any(w in c for w in words("security_cues"))
)
_ADVICE = re.compile("|".join(map(re.escape, words("advice_headings"))))
_RISK = re.compile("|".join(map(re.escape, words("risk_headings"))))
_SOURCE = re.compile("|".join(map(re.escape, words("source_labels"))))
_ASIDE = re.compile(r"[（(][^（()）]{0,100}[)）]")
_BRACKETED = re.compile(rf"【([{CJK}A-Za-z0-9\-]{{2,10}})】")
_GROUP_SPLIT = re.compile(r"[；;]")
_ITEM_SPLIT = re.compile(r"[、，,]")
_ETC = re.compile(r"等[^、，,]*$")
_LABEL = re.compile(rf"^[^、，,。:：]{{1,20}}{COLON}")
_BULLET = r"(?:[-•·▪●◆■➤➢]|\d{1,2}[.、)）]|[（(]\d{1,2}[)）])"
_BULLET_LINE = re.compile(rf"^\s*{_BULLET}")
_LIST_LINE = re.compile(rf"^\s*{_BULLET}|^[^、，,。]{{1,20}}{COLON}")
_HEADING = re.compile(rf"^\s*(?:\d+(?:\.\d+)*\s*[.、]?\s*[{CJK}]|[■➤➢●◆])")
_LIST_PUNCTUATION = "、，,；;"
_SENTENCE_END = "。！？!?：:"
# Characters a wrapped line may start with, and its previous line end with: CJK, Latin, "&" (and
# list punctuation at the end). Tested by comparison, not by a regex: this runs for every line.
_CJK_FIRST, _CJK_LAST = "\u4e00", "\u9fff"
_WORD_START = frozenset(string.ascii_letters + "&")
_WORD_OR_LIST_END = _WORD_START | frozenset("、，,；;")
_LABEL_LINE = re.compile(rf"^[^、，,。:：]{{1,12}}{COLON}")
_OPEN_LABEL = re.compile(r"[；;][^、，,。:：；;]{1,12}$")
_OPEN_LABEL_REACH = 13  # the longest _OPEN_LABEL match: it ends the text
_NAME_REST = re.compile(rf"^[{CJK}]{{1,4}}[、，,；;。]")
_DIGIT = re.compile(r"\d")
_COLON_AHEAD = re.compile(rf"\s*{COLON}")
_SEPARATOR_END = ("、", "，", ",", "；", ";", "：", ":")
_SCOPE_REACH = 600
_ADVICE_REACH = 2500


def _prepare(body: str) -> str:
    # Asides such as "视觉中国（关注）" or a long comment after a name are not list items; the
    # second pass removes the outer aside of a nested pair.
    return _ASIDE.sub("", _ASIDE.sub("", _unwrap(body.replace("**", ""))))


def _continues(prev: str, line: str, blank: bool) -> bool:
    """Whether ``line`` is the rest of ``prev``, wrapped by a PDF layout (工业富 / 联、浪潮信息)."""
    if not prev or not line:
        return False
    first, last = line[0], prev[-1]
    if first in _LIST_PUNCTUATION:
        return True  # "；ASIC芯片&制造：…": a line never starts a list with a separator
    # Only a line opening with a CJK or Latin character goes on: headings and bullets open with a
    # digit or a symbol, so they never do.
    if not (_CJK_FIRST <= first <= _CJK_LAST or first in _WORD_START):
        return False
    if last in _SENTENCE_END or not (_CJK_FIRST <= last <= _CJK_LAST or last in _WORD_OR_LIST_END):
        return False
    if _LABEL_LINE.match(line) and not _OPEN_LABEL.search(prev[-_OPEN_LABEL_REACH:]):
        return False  # "AI落地领先：…" starts an item of its own, unless a label was cut: "；AI"
    if not blank:
        return True
    # Across a blank line (a page or column break) only a list cut inside a name: "剑桥" then
    # "科技、源杰科技、…".
    return last in _LIST_PUNCTUATION or bool("、" in prev[-20:] and _NAME_REST.match(line))


def _unwrap(text: str) -> str:
    """Join lines a PDF layout broke inside a sentence or a list; paragraphs stay apart."""
    out: list[str] = []
    blank = False
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            blank = True
            continue
        if out and _continues(out[-1], line, blank):
            out[-1] += line
        else:
            if blank and out:
                out.append("")
            out.append(line)
        blank = False
    return "\n".join(out)


def _mostly_names(kinds: list[Kind]) -> bool:
    return bool(kinds) and 2 * sum(k in (Kind.KNOWN, Kind.LIKELY) for k in kinds) >= len(kinds)


@dataclass(slots=True)
class _Group:
    """What one "label：A、B、C" group holds: names, unknown short words, and how it ended."""

    names: list[str] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)
    kinds: list[Kind] = field(default_factory=list)
    prose: bool = False  # it starts with prose: not a list
    ended: bool = False  # the list ends inside it ("A、B等", "…神宇股份市场整体")
    performance: bool = False  # "A、B、C涨幅居前": a market recap, not a recommendation


def _read_group(group: str, index: NameIndex) -> _Group:
    out = _Group()
    group = _LABEL.sub("", group.strip(" :：*\t-"), count=1).strip()
    items = _ITEM_SPLIT.split(group)
    for n, raw in enumerate(items):
        item = _ETC.sub("", raw).strip(" *\t")
        if not item:
            continue
        got = index.names_in(item)
        if got.names and got.rest and n == 0:
            out.prose = out.ended = True  # "中国移动中期派息…": a name opening a sentence
            break
        if got.names:
            out.names.extend(got.names)
            out.kinds.append(Kind.KNOWN)
        elif got.plain:
            out.plain.append(got.plain)
            out.names.append(got.plain)
            out.kinds.append(Kind.PLAIN)
        elif got.rest:
            out.prose = n == 0
        if got.rest:
            out.ended = True
            out.performance = states_performance(raw)
            break
        if _ETC.search(raw):
            out.ended = True  # "A、B等" / "A、B等公司" closes the list
            break
    return out


def _names_in_scope(scope: str, index: NameIndex, *, securities: bool = False) -> list[str]:
    """Names of the list a cue introduces.

    Unknown short words (英维克, 光模块) are kept when the list as a whole is mostly names, or
    when the cue says its items are securities (相关标的, 重点标的推荐).
    """
    bracketed = _BRACKETED.findall(scope)
    kinds = [index.kind(b) for b in bracketed]
    if bracketed and _mostly_names(kinds):
        return [b for b, k in zip(bracketed, kinds, strict=True) if k is not Kind.JUNK]
    groups: list[_Group] = []
    for text in _GROUP_SPLIT.split(scope):
        group = _read_group(text, index)
        if group.prose or group.performance:
            break
        groups.append(group)
        if group.ended:
            break
    all_kinds = [k for g in groups for k in g.kinds]
    keep_plain = _mostly_names(all_kinds) or (securities and bool(all_kinds))
    out: list[str] = []
    for g in groups:
        out.extend(n for n in g.names if keep_plain or n not in g.plain)
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
            if _HEADING.match(line) or _RISK.match(line) or _BULLET_LINE.match(line):
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
    """Sentences of the 投资建议 sections, where "板块：A、B、C" lists are recommendations.

    Each sentence once, in order of first appearance. Sections overlap (a heading word may recur
    within one), so what each line holds is worked out once.
    """
    found: dict[str, None] = {}
    lines: dict[str, tuple[bool, list[str]]] = {}  # line -> (it ends a section, its list labels)
    for m in _ADVICE.finditer(text):
        region = text[m.end() : m.end() + _ADVICE_REACH].split("\n")
        for i, line in enumerate(region):
            s = line.strip()
            seen = lines.get(s)
            if seen is None:
                seen = lines[s] = (_ends_section(s), _labelled_sentences(s))
            if i > 0 and seen[0]:
                break
            if seen[1]:
                found.update(dict.fromkeys(seen[1]))
    return list(found)


def _ends_section(line: str) -> bool:
    """Whether a line ends an advice section: a risk heading, or any other short heading."""
    return bool(_RISK.match(line) or (len(line) < 40 and _HEADING.match(line)))


def _labelled_sentences(line: str) -> list[str]:
    """Sentences of a line that open with a list label ("服务器：", not "来源：" or "2024年：")."""
    if ":" not in line and "：" not in line:
        return []  # no label without a colon
    out: list[str] = []
    for sentence in line.split("。"):
        label = _LABEL.match(sentence.strip(" *-•"))
        if (
            label
            and not _DIGIT.search(label.group(0))
            and not _SOURCE.fullmatch(label.group(0).rstrip(":：").strip())
        ):
            out.append(sentence)
    return out


def extract_recommended(body: str, index: NameIndex) -> list[str]:
    """Recommended company names in order of first mention, as printed (simplified)."""
    text = _prepare(body)
    found: list[str] = []
    for m in _CUES.finditer(text):
        if m.group(0) in _LABEL_CUES and not _COLON_AHEAD.match(text, m.end()):
            continue
        securities = m.group(0) in _SECURITY_CUES
        scope = _cue_scope(text, m.end())
        found.extend(_names_in_scope(scope, index, securities=securities))
    for sentence in _advice_sentences(text):
        found.extend(_names_in_scope(sentence, index))
    return list(dict.fromkeys(found))
