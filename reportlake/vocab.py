"""Domain vocabulary from ``reportlake/data``: brokers, SAC firm codes, ratings, names, keywords.

Every word the parser keys on lives in a data file here, so adding a broker or a rating wording is a
data change with a test, not a code change.

- ``brokers.csv``: canonical short name, full name, 4-digit SAC firm code, e-mail domains, aliases.
- ``ratings.csv``: rating word -> level 5 buy / 4 outperform / 3 neutral / 2 underperform / 1 sell.
- ``companies.csv``: well-known listed companies (code, name, aliases), the default security master.
- ``industries.csv``: industry names (Shenwan level 1, then names brokers' teams use).
- ``surnames.csv``: Chinese surnames (a row of single-character surnames, then compound ones).
- ``lexicon.json``: keyword lists (section headings, cues, disclaimer markers ...).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any


@dataclass(frozen=True)
class Broker:
    name: str  # canonical simplified short name, e.g. 上海证券
    full_name: str
    sac_code: str | None  # 4-digit firm code inside SAC ids: S<code><...>
    email_domains: tuple[str, ...]
    aliases: tuple[str, ...]

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every way the broker is written: short name, full name, aliases."""
        return (self.name, self.full_name, *self.aliases)


@dataclass(frozen=True)
class Company:
    code: str  # normalised ticker, e.g. 300308.SZ
    name: str
    aliases: tuple[str, ...]


def _read(name: str) -> str:
    return files("reportlake.data").joinpath(name).read_text(encoding="utf-8")


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(_read(name).splitlines()))


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(";") if v.strip())


@cache
def brokers() -> tuple[Broker, ...]:
    return tuple(
        Broker(
            name=row["name"],
            full_name=row["full_name"],
            sac_code=row["sac_code"] or None,
            email_domains=_split(row["email_domains"]),
            aliases=_split(row["aliases"]),
        )
        for row in _rows("brokers.csv")
    )


def broker_names() -> list[str]:
    """Canonical broker short names: the ``broker`` vocabulary of the lake."""
    return [b.name for b in brokers()]


@cache
def _brokers_by_code() -> dict[str, Broker]:
    return {b.sac_code: b for b in brokers() if b.sac_code}


def broker_by_sac_code(code: str) -> Broker | None:
    """Broker of a 4-digit SAC firm code, or of a full SAC id (``S0870523040005`` -> 上海证券)."""
    code = code.strip().upper().removeprefix("S")[:4]
    return _brokers_by_code().get(code)


def broker_by_email_domain(domain_or_email: str) -> Broker | None:
    """Broker owning an e-mail domain; subdomains count (``research.citics.com`` -> 中信证券)."""
    domain = domain_or_email.rpartition("@")[2].strip().lower()
    for b in brokers():
        for d in b.email_domains:
            if domain == d or domain.endswith("." + d):
                return b
    return None


@cache
def _brokers_by_spelling() -> dict[str, Broker]:
    return {s.upper(): b for b in brokers() for s in b.spellings}


def broker_by_alias(name: str) -> Broker | None:
    """Broker by its short name, full name or an alias (case-insensitive for Latin aliases)."""
    return _brokers_by_spelling().get(name.strip().upper())


@cache
def rating_levels() -> dict[str, int]:
    """Rating word (simplified) -> normalised level 1 (sell) .. 5 (buy)."""
    return {row["word"]: int(row["level"]) for row in _rows("ratings.csv")}


def rating_words() -> list[str]:
    """Every rating word the lake accepts."""
    return list(rating_levels())


@cache
def companies() -> tuple[Company, ...]:
    """Well-known listed companies: the built-in fallback security master."""
    return tuple(
        Company(code=row["code"], name=row["name"], aliases=_split(row["aliases"]))
        for row in _rows("companies.csv")
    )


@cache
def company_names() -> dict[str, str]:
    """Company name or alias -> ticker, from ``companies.csv``."""
    out: dict[str, str] = {}
    for c in companies():
        for n in (c.name, *c.aliases):
            out.setdefault(n, c.code)
    return out


@cache
def bundled_codes() -> dict[str, str]:
    """Ticker -> company name, from ``companies.csv``: the bundled security master."""
    return {c.code: c.name for c in companies()}


@cache
def industries() -> tuple[str, ...]:
    """Industry names a report may state as its own (Shenwan level 1 and common team names)."""
    return tuple(row["name"] for row in _rows("industries.csv"))


@cache
def surnames() -> frozenset[str]:
    """Chinese surnames: single characters and two-character compound surnames."""
    out: set[str] = set()
    for line in (row["surnames"] for row in _rows("surnames.csv")):
        if len(line) > 2:
            out.update(line)  # a line of single-character surnames
        else:
            out.add(line)
    return frozenset(out)


@cache
def lexicon() -> dict[str, Any]:
    """Keyword lists the parser keys on (see ``lexicon.json``)."""
    data: dict[str, Any] = json.loads(_read("lexicon.json"))
    return data


def words(key: str) -> tuple[str, ...]:
    """One keyword list of the lexicon, longest first (so alternations prefer the longer word)."""
    return tuple(sorted(lexicon()[key], key=len, reverse=True))


def canonical_broker(name: str) -> str:
    """Map a broker's full name or alias to its canonical short name (unknown names unchanged)."""
    for broker in brokers():
        if name in (broker.name, broker.full_name, *broker.aliases):
            return broker.name
    return name
