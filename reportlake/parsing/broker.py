"""The broker that wrote the report, from its SAC firm codes, e-mail domains and header."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import cache

from reportlake.models import Analyst
from reportlake.vocab import (
    Broker,
    broker_by_alias,
    broker_by_email_domain,
    broker_by_sac_code,
    brokers,
)

# A "资料来源：Wind，XX证券研究所" line names whoever made a chart, often another firm.
_SOURCE_BEFORE = re.compile(r"来源[^\n。]{0,40}$")
_TAG = re.compile(r"^\s*【([^】]{2,12})】")


@cache
def _header_names() -> re.Pattern[str]:
    # Short aliases (山证, 国君) are too ambiguous in running text; they count only in a 【tag】.
    spellings = {s for b in brokers() for s in b.spellings if len(s) >= (8 if s.isascii() else 3)}
    return re.compile("|".join(map(re.escape, sorted(spellings, key=len, reverse=True))))


def broker_from_header(head: str) -> Broker | None:
    """First broker named in the report header, skipping chart-source lines and quoted sources."""
    tag = _TAG.match(head)
    if tag:
        for b in brokers():
            if any(tag.group(1).startswith(s) for s in b.spellings):
                return b
    for m in _header_names().finditer(head):
        if _SOURCE_BEFORE.search(head, max(0, m.start() - 40), m.start()):
            continue
        return broker_by_alias(m.group(0))
    return None


def _vote(found: Sequence[Broker | None]) -> Broker | None:
    counts = Counter(b.name for b in found if b)
    if not counts:
        return None
    name = counts.most_common(1)[0][0]
    return broker_by_alias(name)


def identify_broker(head: str, analysts: Sequence[Analyst]) -> tuple[str | None, list[str]]:
    """Canonical broker name and warnings when the signals disagree.

    The SAC firm code of the analysts is the most reliable signal (a header may name a covered
    company that is itself a broker), then their e-mail domains, then the header.
    """
    signals = {
        "SAC firm code": _vote([broker_by_sac_code(a.sac_id) for a in analysts if a.sac_id]),
        "e-mail domain": _vote([broker_by_email_domain(a.email) for a in analysts if a.email]),
        "header": broker_from_header(head),
    }
    named = {k: b.name for k, b in signals.items() if b}
    warnings: list[str] = []
    if len(set(named.values())) > 1:
        detail = ", ".join(f"{k} says {v}" for k, v in named.items())
        warnings.append(f"broker signals disagree: {detail}")
    return next(iter(named.values()), None), warnings
