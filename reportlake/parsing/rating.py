"""The report's own rating and rating action, never the rating-definitions boilerplate."""

from __future__ import annotations

import re
from dataclasses import dataclass

from reportlake.models import RatingAction
from reportlake.parsing.normalize import COLON
from reportlake.vocab import lexicon, rating_levels, words


@dataclass(frozen=True)
class Rating:
    word: str
    level: int
    action: RatingAction | None


_W = "|".join(map(re.escape, sorted(rating_levels(), key=len, reverse=True)))
_A = "|".join(map(re.escape, words("rating_actions")))
_ACTIONS: dict[str, RatingAction] = lexicon()["rating_actions"]
_LABELS = "|".join(map(re.escape, words("rating_labels")))
_GRADE = r"(?:\s*[-－—]?\s*[A-E](?![A-Za-z]))?"  # risk-grade suffix: 买入-A
_Q_OPEN_CHARS = r"“\"「『【\["
_Q_OPEN = rf"[{_Q_OPEN_CHARS}]?"
_Q_CLOSE = r"[”\"」』】\]]?"

# The characters a rating word starts with: checked first, the engine skips the other positions
# fast instead of trying every rating word at each of them.
_W_FIRST = "".join(sorted({re.escape(w[0]) for w in rating_levels()}))

_PATTERNS = [
    # 增持（维持）, 强于大市（维持评级）, 【买入-A】(首次)
    re.compile(
        rf"(?=[{_Q_OPEN_CHARS}{_W_FIRST}]){_Q_OPEN}(?=[{_W_FIRST}])(?P<w>{_W}){_GRADE}{_Q_CLOSE}"
        rf"\s*[（(【\[]\s*(?P<a>{_A})(?:覆盖)?(?:评级)?\s*[)）】\]]"
    ),
    # 维持“买入”评级, 首次覆盖，给予增持评级, 上调至买入评级. The lookahead (a rating word at most
    # 12 + 2 + 6 + 1 characters on) only spares the engine trying every way to reach one after
    # each 维持/提升 of running text.
    re.compile(
        rf"(?P<a>{_A})(?=[^，。,;；\n]{{0,21}}?(?:{_W}))"
        rf"[^，。,;；\n]{{0,12}}?(?:给予|为|至)?[^，。,;；\n]{{0,6}}?{_Q_OPEN}(?P<w>{_W}){_GRADE}{_Q_CLOSE}\s*(?:的)?(?:投资)?评级"
    ),
    re.compile(
        rf"给予[^，。,;；\n]{{0,10}}?{_Q_OPEN}(?P<w>{_W}){_GRADE}{_Q_CLOSE}\s*(?:的)?(?:投资)?评级"
    ),
    re.compile(
        rf"评级(?:由[^，。\n]{{1,6}})?(?P<a>上调|下调|调高|调低)(?:至|为)\s*{_Q_OPEN}(?P<w>{_W})"
    ),
    # 投资评级：买入 (followed by anything but a definition)
    re.compile(rf"(?:{_LABELS})\s*{COLON}?\s*{_Q_OPEN}\s*(?P<w>{_W}){_GRADE}{_Q_CLOSE}"),
]
_DEFINITION = re.compile(
    rf"[\s{COLON[1:-1]}\t|]*(?:" + "|".join(map(re.escape, words("rating_definition_words"))) + ")"
)
_ACTION = re.compile(_A)
_ACTION_NEAR = re.compile(rf"\s*[（(【\[]?\s*(?P<a>{_A})")
_LINE = re.compile(rf"^\s*{_Q_OPEN}(?P<w>{_W}){_GRADE}{_Q_CLOSE}\s*$", re.M)
# Every pattern after the first spells out 评级, the labelled one through its labels: a body that
# never prints the word can only match the first, and the others need not search it.
_PINGJI = "评级"
_LABELS_SAY_PINGJI = all(_PINGJI in label for label in words("rating_labels"))


def _action(word: str | None) -> RatingAction | None:
    return _ACTIONS.get(word) if word else None


def extract_rating(body: str, *, head_lines: int = 40) -> Rating | None:
    """The first rating the report gives itself: a header rating or a 维持/给予…评级 sentence.

    A rating word followed by its definition (买入：预期未来6个月…) is boilerplate, not a rating.
    """
    best: tuple[int, str, RatingAction | None] | None = None
    patterns = _PATTERNS[:1] if _LABELS_SAY_PINGJI and _PINGJI not in body else _PATTERNS
    for pattern in patterns:
        for m in pattern.finditer(body):
            if _DEFINITION.match(body, m.end()):
                continue
            action = _action(m.groupdict().get("a"))
            if action is None:
                near = _ACTION_NEAR.match(body, m.end())
                action = _action(near.group("a")) if near else None
            if best is None or m.start() < best[0]:
                best = (m.start(), m.group("w"), action)
            break
    if best is None:
        best = _header_line_rating(body, head_lines)
    if best is None:
        return None
    _, word, action = best
    return Rating(word=word, level=rating_levels()[word], action=action)


def _header_line_rating(body: str, head_lines: int) -> tuple[int, str, RatingAction | None] | None:
    """A header line holding just a rating word ("买入-A"), with an action on a line beside it."""
    lines = body.split("\n")
    limit = sum(len(ln) + 1 for ln in lines[:head_lines])
    for m in _LINE.finditer(body, 0, limit):
        if _DEFINITION.match(body, m.end()):
            continue
        around = body[max(0, m.start() - 20) : m.end() + 20]
        near = _ACTION.search(around)
        return m.start(), m.group("w"), _action(near.group(0)) if near else None
    return None
