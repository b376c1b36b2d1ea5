"""Company names: which strings are names, learning them from a report, splitting lists.

A report is read against the names it teaches about itself (ticker tables, ``名称（代码）``,
separated lists, 个股 performance sentences, ``名称（公司…）`` asides), an optional user security
master and, unless disabled, the bundled dictionary of large listed companies. Lists printed
without separators (润泽科技光环新网英维克) are split by a small dynamic programme that prefers
pieces known from this report, then pieces shaped like company names (a company-style suffix and
a usual length), and accepts an unknown piece only where its neighbours pin its boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache, lru_cache
from typing import NamedTuple

from reportlake.parsing.normalize import CJK
from reportlake.vocab import company_names, industries, words

_SHAPE = re.compile(rf"^[*]?(?:ST)?[{CJK}A-Za-z][{CJK}A-Za-z0-9&·]*(?:-[A-Z]{{1,2}})?$")
_STOPWORD = re.compile("|".join(map(re.escape, words("name_stopwords"))))
_SUFFIXES = words("company_suffixes")
_LONG_SUFFIXES = tuple(s for s in _SUFFIXES if len(s) > 1)
# A clause is a run of text between these; it never spans lines. A clause holding at least two
# 、 is a list (the lookbehind makes the match start where the clause does).
_CLAUSE_ENDS = r"\n，,。；;：:()（）【】《》“”\t"
_LIST_CLAUSE = re.compile(
    rf"(?<![^{_CLAUSE_ENDS}])[^{_CLAUSE_ENDS}、]*、[^{_CLAUSE_ENDS}、]*、[^{_CLAUSE_ENDS}]*"
)
_TWO_ENUMERATION_COMMAS = re.compile("、[^\n]*、")  # a line that may hold a list
_STOCK_CUE = re.compile("|".join(map(re.escape, words("stock_words"))))
_STOCK_CUE_REACH = 30
# 昆仑万维（公司AI应用稳步上台阶…）: an aside that calls the word before it "the company".
_COMPANY_ASIDE = re.compile(r"[（(]\s*公司")
_NAME_BEFORE_ASIDE = re.compile(rf"[{CJK}A-Za-z]{{2,6}}$")
_PERFORMANCE = re.compile("|".join(map(re.escape, words("performance_words"))))
_HEAD_WORDS = re.compile("^(?:" + "|".join(map(re.escape, words("list_head_words"))) + ")")
_TAIL_WORDS = re.compile("|".join(map(re.escape, words("list_tail_words"))))

# Segmentation scores (per piece). Known names dominate; suffix-shaped names are preferred at the
# usual A-share lengths (4, then 3); an unknown piece costs, more when it is not 3-4 characters.
_KNOWN_SCORE = 3.0
_UNKNOWN_SCORE = {2: -1.5, 3: -0.5, 4: -0.5, 5: -2.0}
_TAIL_SCORE = -1.2
_MAX_PIECE = 8
_MAX_SHAPED = 6  # longer pieces score only when known: suffix_score and _UNKNOWN_SCORE stop here
_MAX_SEGMENTED = 80


class Kind(Enum):
    KNOWN = "known"  # in a security master, the bundled dictionary or learned from this report
    LIKELY = "likely"  # unknown, but shaped like a company name (润泽科技, 高澜股份)
    PLAIN = "plain"  # a short word that could be a name (英维克) or a product (光模块)
    JUNK = "junk"  # prose, numbers, phrases


# A known piece scores a little more the longer it is (by piece length, up to _MAX_PIECE).
_KNOWN_SCORES = {k: (_KNOWN_SCORE + 0.01 * k, Kind.KNOWN) for k in range(2, _MAX_PIECE + 1)}


@dataclass(frozen=True)
class Piece:
    """One piece of a segmented string: its text and how it was recognised."""

    text: str
    kind: Kind  # KNOWN / LIKELY / PLAIN (unknown, boundaries from neighbours) / JUNK (tail)


@lru_cache(maxsize=1 << 16)
def looks_like_name(s: str) -> bool:
    """Shape of a company name: 2-10 characters of CJK/Latin, no phrase words."""
    if not 2 <= len(s) <= 10 or not _SHAPE.match(s):
        return False
    if s.isascii() and not (2 <= len(s) <= 12 and s[0].isupper()):
        return False
    return not _STOPWORD.search(s) and s not in _industry_words()


@lru_cache(maxsize=1 << 16)
def suffix_score(s: str) -> float | None:
    """How much ``s`` looks like a company name by its suffix and length, or None."""
    if not 3 <= len(s) <= 6 or not looks_like_name(s) or s in _SUFFIXES:
        return None
    if s.endswith(_LONG_SUFFIXES):
        return {3: 0.8, 4: 2.0, 5: 1.0, 6: 0.3}[len(s)]
    if s.endswith(_SUFFIXES) and len(s) <= 4:
        return {3: 1.0, 4: 1.5}[len(s)]  # 泰凌微, 中科创达: a one-character suffix is weaker
    return None


@lru_cache(maxsize=4096)
def _shape_score(s: str) -> tuple[float, Kind] | None:
    """Segmentation score of a piece not known as a name, from its shape alone.

    Cached (bounded): segmenting asks about the same short pieces over and over.
    """
    score = suffix_score(s)
    if score is not None:
        return score, Kind.LIKELY
    if len(s) in _UNKNOWN_SCORE and looks_like_name(s) and s not in _SUFFIXES:
        return _UNKNOWN_SCORE[len(s)], Kind.PLAIN
    return None


def _list_clauses(text: str) -> Iterator[re.Match[str]]:
    """The clauses of ``text`` holding at least two 、, in order.

    Only lines with two 、 are searched: most of a report is prose without lists.
    """
    for pair in _TWO_ENUMERATION_COMMAS.finditer(text):
        start = text.rfind("\n", 0, pair.start()) + 1
        end = text.find("\n", pair.end())
        yield from _LIST_CLAUSE.finditer(text, start, len(text) if end < 0 else end)


@cache
def _industry_words() -> frozenset[str]:
    return frozenset(industries())


@cache
def _bundled_names() -> frozenset[str]:
    """The bundled dictionary's names and aliases, built once and shared by every report."""
    return frozenset(company_names())


class NameIndex:
    """Known company names for one report: masters, bundled dictionary, learned names."""

    def __init__(
        self,
        master: Mapping[str, str] | None = None,
        learned: Iterable[str] = (),
        *,
        bundled: bool = True,
    ) -> None:
        # The shared bundled set is never copied: this report's own names go to a set of its own.
        self._bundled = _bundled_names() if bundled else frozenset()
        self._own: set[str] = set()
        if master:
            self._own.update(n for n in master.values() if n and n not in self._bundled)
        self.learn(learned)

    @property
    def names(self) -> frozenset[str]:
        """Every name known for this report."""
        return self._bundled | self._own

    def is_known(self, s: str) -> bool:
        """Whether ``s`` is a known name: bundled, from the master or learned from the report."""
        return s in self._own or s in self._bundled

    def learn(self, names: Iterable[str]) -> None:
        """Add names found in the report's own tables and lists."""
        for n in names:
            if not self.is_known(n) and looks_like_name(n):
                self._own.add(n)

    def learn_from_text(self, text: str) -> None:
        """Learn names from the report itself: 、-separated lists that are mostly names (个股
        performance sentences included) and ``名称（公司…）`` asides."""
        for aside in _COMPANY_ASIDE.finditer(text):
            before = _NAME_BEFORE_ASIDE.search(text, max(0, aside.start() - 6), aside.start())
            if before:
                self.learn([before.group(0)])
        for m in _list_clauses(text):
            clause = m.group(0)
            items = [i.strip(" *") for i in clause.split("、")]
            first, last = items[0], items[-1]
            items[0] = _HEAD_WORDS.sub("", items[0])
            items[-1] = trim_list_tail(items[-1])
            if not all(2 <= len(i) <= 8 for i in items):
                continue
            # "从个股情况看，博创科技、…、广和通涨幅领先": a recap of stock moves lists stocks,
            # suffix or not ("服务器、交换机板块涨幅居前" is about sectors: no 个股 before it).
            lead = text[max(0, m.start() - _STOCK_CUE_REACH) : m.start()] + first
            performance = states_performance(last) and bool(_STOCK_CUE.search(lead))
            kinds = [self.kind(i) for i in items]
            good = sum(k in (Kind.KNOWN, Kind.LIKELY) for k in kinds)
            if (performance or good * 2 >= len(items)) and Kind.JUNK not in kinds:
                self.learn(i for i, k in zip(items, kinds, strict=True) if len(i) <= 6)

    def kind(self, s: str) -> Kind:
        """How much ``s`` looks like a company name."""
        return Kind.KNOWN if self.is_known(s) else _shape_kind(s)

    def segment(self, s: str) -> list[Piece]:
        """Best split of ``s`` into names; a trailing non-name rest becomes one JUNK piece."""
        return _segment(s, *self._known_in(s))

    def names_in(self, item: str) -> ItemNames:
        """Company names in one list item.

        A known name yields itself; names run together (润泽科技光环新网英维克) are split; names
        trailed by other text ("神宇股份市场整体") yield the leading names and flag the rest; an
        item that starts with prose ("以盛科通信为代表的…") yields nothing and flags it. An unknown
        short word (英维克, 光模块) is returned as ``plain``: the caller decides from the rest of
        its list. An unknown piece inside a run is kept only when known or suffix-shaped
        neighbours fix both its ends; a stretch of unknown text that could be cut several ways
        yields nothing.
        """
        if self.is_known(item):
            return ItemNames((item,))
        if len(item) > _MAX_SEGMENTED:
            return ItemNames(rest=True)  # a sentence, not a list item
        return _read_item(item, *self._known_in(item))

    def _known_in(self, s: str) -> tuple[bool, frozenset[str]]:
        """All that reading ``s`` depends on: whether the bundled dictionary is used, and which
        of the report's own names (master, learned) occur in ``s``. Results read from ``s`` can
        so be cached across reports without one report's names leaking into another's."""
        return bool(self._bundled), frozenset(filter(s.__contains__, self._own))


def _shape_kind(s: str) -> Kind:
    """How much ``s``, not a known name, looks like one."""
    if not looks_like_name(s):
        return Kind.JUNK
    if suffix_score(s) is not None:
        return Kind.LIKELY
    return Kind.PLAIN


def _segment(s: str, bundled: bool, own: frozenset[str]) -> list[Piece]:
    """Best split of ``s`` into names (the bundled ones if ``bundled``, and ``own``); a trailing
    non-name rest becomes one JUNK piece."""
    n = len(s)
    dictionary = _bundled_names() if bundled else frozenset()
    # best[end]: the best split of s[:end] as (score, start of its last piece, that piece's
    # kind). Pieces are scored from each reachable start in turn, shortest first; on equal
    # totals the piece from the earliest start wins.
    best: list[tuple[float, int, Kind] | None] = [None] * (n + 1)
    best[0] = (0.0, 0, Kind.JUNK)
    for start in range(n - 1):
        prev = best[start]
        if prev is None:
            continue
        for end in range(start + 2, min(n, start + _MAX_PIECE) + 1):
            piece = s[start:end]
            scored = _KNOWN_SCORES[end - start] if piece in own or piece in dictionary else None
            if scored is None and end - start <= _MAX_SHAPED:
                scored = _shape_score(piece)
            if scored is None:
                continue
            total = prev[0] + scored[0]
            current = best[end]
            if current is None or total > current[0]:
                best[end] = (total, start, scored[1])
    # The names may be followed by prose ("神宇股份市场整体…"): allow one trailing rest.
    whole = best[n]
    final_score, cut = (whole[0] if whole else float("-inf")), n
    for start in range(1, n):
        prev = best[start]
        if prev is not None and prev[0] + _TAIL_SCORE > final_score:
            final_score, cut = prev[0] + _TAIL_SCORE, start
    if best[cut] is None or cut == 0:
        return [Piece(s, Kind.JUNK)]
    pieces: list[Piece] = [] if cut == n else [Piece(s[cut:], Kind.JUNK)]
    pos = cut
    while pos > 0:
        entry = best[pos]
        assert entry is not None
        pieces.append(Piece(s[entry[1] : pos], entry[2]))
        pos = entry[1]
    return pieces[::-1]


@lru_cache(maxsize=2048)
def _read_item(item: str, bundled: bool, own: frozenset[str]) -> ItemNames:
    """``NameIndex.names_in`` of an item of at most ``_MAX_SEGMENTED`` characters that is not
    itself a known name, given the names known inside it (see ``NameIndex._known_in``).

    Cached (bounded) across reports: company lists and boilerplate recur from report to report.
    """
    kind = _shape_kind(item)
    pieces = _segment(item, bundled, own)
    anchors = sum(p.kind in (Kind.KNOWN, Kind.LIKELY) for p in pieces)
    # A short item that is itself name-shaped is split only on a known name (舜宇光学科技 is
    # one name, not 舜宇光 + 学科技); an unknown short word needs two anchors (腾讯美团).
    if kind in (Kind.LIKELY, Kind.PLAIN) and len(item) <= 6:
        whole = len(pieces) == 1 or not (any_known(pieces) or (kind is Kind.PLAIN and anchors >= 2))
    else:
        whole = False
    if whole:
        return ItemNames((item,)) if kind is Kind.LIKELY else ItemNames(plain=item)
    if pieces[0].kind is Kind.JUNK:
        return ItemNames(rest=True)
    tail = pieces[-1] if pieces[-1].kind is Kind.JUNK else None
    if len(pieces) == 2 and tail and pieces[0].kind is Kind.PLAIN and _ends_word(tail.text):
        return ItemNames(plain=pieces[0].text, rest=True)  # "途虎-腾讯：…" (a lost line break)
    names, doubtful_start = _confident(pieces)
    if doubtful_start and tail:
        return ItemNames(rest=True)  # where the list starts is a guess: prose, not names
    return ItemNames(tuple(names), rest=tail is not None)


class ItemNames(NamedTuple):
    """What one list item holds: sure names, an unknown short word, and whether text follows."""

    names: tuple[str, ...] = ()
    plain: str | None = None
    rest: bool = False  # non-name text follows (or is) the item: the list ends here


def _ends_word(tail: str) -> bool:
    """Whether text after a name starts so that the name surely ended (punctuation, 涨幅 …)."""
    return bool(_TAIL_WORDS.match(tail)) or not tail[0].isalnum()


def any_known(pieces: list[Piece]) -> bool:
    """Whether a segmentation rests on at least one name known for this report."""
    return any(p.kind is Kind.KNOWN for p in pieces)


def _strong(piece: Piece) -> bool:
    """Known, or ending in a multi-character company suffix (浪潮信息, 沃尔核材)."""
    return piece.kind is Kind.KNOWN or (
        piece.kind is Kind.LIKELY and piece.text.endswith(_LONG_SUFFIXES)
    )


def _confident(pieces: list[Piece]) -> tuple[list[str], bool]:
    """Names of a segmentation whose boundaries are fixed, and whether it opened with doubt.

    Strong pieces stand alone. A piece with a one-character suffix (泰凌微) needs a strong
    neighbour. An unknown piece (英维克) needs every neighbour to be a kept name (or the item's
    edge, or a tail opening with punctuation or a phrase word such as 涨幅) and at least one
    strong one: two unknown pieces in a row could be cut anywhere, so neither is kept.
    """
    names = [p for p in pieces if p.kind is not Kind.JUNK]
    tail = pieces[-1] if pieces[-1].kind is Kind.JUNK else None
    keep = [_strong(p) for p in names]
    for i, piece in enumerate(names):
        if piece.kind is Kind.LIKELY and not keep[i]:
            near = names[max(0, i - 1) : i] + names[i + 1 : i + 2]
            keep[i] = any(_strong(p) for p in near)
    for i, piece in enumerate(names):
        if piece.kind is not Kind.PLAIN:
            continue
        if len(piece.text) < 3:
            continue  # "本周贵州茅台": a two-character unknown in a run is as often a word
        before = keep[i - 1] if i > 0 else None
        if i + 1 < len(names):
            after: bool | None = keep[i + 1]
        elif tail is not None:
            after = _ends_word(tail.text)
        else:
            after = None
        sides = [x for x in (before, after) if x is not None]
        neighbours = names[max(0, i - 1) : i] + names[i + 1 : i + 2]
        keep[i] = bool(sides) and all(sides) and any(_strong(p) for p in neighbours)
    return [p.text for p, k in zip(names, keep, strict=True) if k], bool(keep) and not keep[0]


def states_performance(text: str) -> bool:
    """Whether ``text`` speaks of price moves (涨幅居前, 领跌): a market recap, not advice."""
    return bool(_PERFORMANCE.search(text))


def trim_list_tail(item: str) -> str:
    """The last item of a list without the predicate glued to it (广和通涨幅领先 -> 广和通)."""
    m = _TAIL_WORDS.search(item)
    return item[: m.start()] if m and m.start() >= 2 else item
