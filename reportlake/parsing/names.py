"""Company names: which strings are names, and splitting lists that run names together."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import Enum
from functools import cache

from reportlake.parsing.normalize import CJK
from reportlake.vocab import company_names, industries, words

_SHAPE = re.compile(rf"^[*]?(?:ST)?[{CJK}A-Za-z][{CJK}A-Za-z0-9&·\-]*$")
_STOPWORD = re.compile("|".join(map(re.escape, words("name_stopwords"))))
_SUFFIXES = words("company_suffixes")
_CLAUSE_SPLIT = re.compile(r"[\n，,。；;：:()（）【】《》“”\t]")


class Kind(Enum):
    KNOWN = "known"  # in the security master, the company dictionary or the report's own tables
    LIKELY = "likely"  # unknown, but shaped like a company name (润泽科技, 高澜股份)
    PLAIN = "plain"  # a short word that could be a name (英维克) or a product (光模块)
    JUNK = "junk"  # prose, numbers, phrases


def looks_like_name(s: str) -> bool:
    """Shape of a company name: 2-10 characters of CJK/Latin, no phrase words."""
    if not 2 <= len(s) <= 10 or not _SHAPE.match(s):
        return False
    if s.isascii() and not (2 <= len(s) <= 12 and s[0].isupper()):
        return False
    return not _STOPWORD.search(s) and s not in _industry_words()


@cache
def _industry_words() -> frozenset[str]:
    return frozenset(industries())


class NameIndex:
    """Known company names for one report: dictionary, optional security master, learned names."""

    def __init__(
        self, master: Mapping[str, str] | None = None, learned: Iterable[str] = ()
    ) -> None:
        self.names: set[str] = set(company_names())
        if master:
            self.names.update(n for n in master.values() if n)
        self.names.update(n for n in learned if looks_like_name(n))
        self._maxlen = max(map(len, self.names), default=1)

    def learn(self, names: Iterable[str]) -> None:
        """Add names found in the report's own tables and lists."""
        for n in names:
            if looks_like_name(n):
                self.names.add(n)
                self._maxlen = max(self._maxlen, len(n))

    def kind(self, s: str) -> Kind:
        """How much ``s`` looks like a company name."""
        if s in self.names:
            return Kind.KNOWN
        if not looks_like_name(s):
            return Kind.JUNK
        if len(s) >= 3 and s.endswith(_SUFFIXES):
            return Kind.LIKELY
        return Kind.PLAIN

    def segment(self, s: str) -> list[str]:
        """Split run-together names (润泽科技光环新网英维克) by longest known-name match."""
        if len(s) > 60:
            return [s]  # a sentence, not a list item
        out: list[str] = []
        buf = ""
        i = 0
        while i < len(s):
            for k in range(min(self._maxlen, len(s) - i), 1, -1):
                if s[i : i + k] in self.names:
                    if buf:
                        out.append(buf)
                        buf = ""
                    out.append(s[i : i + k])
                    i += k
                    break
            else:
                buf += s[i]
                i += 1
        if buf:
            out.append(buf)
        return out

    def names_in(self, item: str) -> tuple[list[str], bool]:
        """Company names in one list item, and whether the item holds non-name text.

        A known name yields itself; names run together (润泽科技光环新网) are split; names trailed
        by other text ("神宇股份市场整体") yield the leading names and report the tail; an item that
        starts with prose ("以盛科通信为代表的…") yields nothing. An unknown short word (英维克,
        光模块) yields nothing and no tail: the caller decides from the rest of its list.
        """
        if item in self.names:
            return [item], False
        pieces = self.segment(item)
        if len(pieces) > 1 and any(p in self.names for p in pieces):
            found: list[str] = []
            for piece in pieces:
                if self.kind(piece) in (Kind.KNOWN, Kind.LIKELY):
                    found.append(piece)
                else:
                    return found, True
            return found, False
        kind = self.kind(item)
        if kind is Kind.LIKELY:
            return [item], False
        return [], kind is Kind.JUNK

    def learn_from_lists(self, text: str) -> None:
        """Learn names from 、-separated lists that are mostly company names."""
        for segment in _CLAUSE_SPLIT.split(text):
            if segment.count("、") < 2:
                continue
            items = [i.strip() for i in segment.split("、")]
            if not all(2 <= len(i) <= 8 for i in items):
                continue
            good = [i for i in items if self.kind(i) in (Kind.KNOWN, Kind.LIKELY)]
            if len(good) * 2 >= len(items):
                self.learn(i for i in items if len(i) <= 6 and self.kind(i) is not Kind.JUNK)
