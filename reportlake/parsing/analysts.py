"""Analysts: names with their role, SAC registration number and e-mail."""

from __future__ import annotations

import re
from dataclasses import dataclass

from reportlake.models import Analyst, AnalystRole
from reportlake.parsing.normalize import CJK, COLON
from reportlake.vocab import lexicon, surnames, words

# A SAC number is S + 4-digit firm code + 9 digits. Brokers print it under many labels (SAC 编号,
# 执业证书编号, 登记编码, SAC No. ...), so the number itself is the anchor, and whatever is glued
# after it (phone numbers, page numbers) is left alone. The S comes first, so the engine can skip
# ahead to each S, and a lookbehind then checks the character before it.
SAC_ID = re.compile(r"S(?<![A-Za-z0-9]S)\s?(\d{13})")
EMAIL = re.compile(
    r"([A-Za-z0-9][A-Za-z0-9._%+-]*)\s?@\s?"
    r"([a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com\.cn|net\.cn|org\.cn|com\.hk|com|cn|net|org|hk))"
)
_AT = re.compile(r"@")
_LOCAL_JUNK = re.compile(r"^(?:S\d{13}|[\d-]{7,}(?=[A-Za-z]))")
_ROLES: dict[str, AnalystRole] = lexicon()["analyst_roles"]
_ROLE = re.compile(
    "(" + "|".join(map(re.escape, words("analyst_roles"))) + rf")(\s*{COLON}\s*|\s+)?(?=[{CJK}])"
)
_NAME_RUN = re.compile(f"[{CJK}·]{{2,6}}")
# The name before a SAC number printed without a role word ("张三 S0870523040005").
_NAME_BEFORE_SAC = re.compile(
    rf"([{CJK}]{{2,4}})[\s:：]*(?:[A-Za-z .]*|[{CJK}]{{0,8}}{COLON}?)\s*$"
)
_FIELD_LABELS = words("analyst_field_labels")
# Distances (characters) within which a number or e-mail still belongs to the analyst before it.
_SAC_REACH = 160
_EMAIL_REACH = 200


@dataclass
class _Draft:
    name: str
    role: AnalystRole | None
    pos: int
    last: int
    sac_id: str | None = None
    email: str | None = None


def _person_name(text: str, start: int) -> str | None:
    m = _NAME_RUN.match(text, start)
    if not m:
        return None
    run = m.group(0)
    name = run
    for k in range(2, min(len(run), 5)):
        if text.startswith(_FIELD_LABELS, start + k):
            name = run[:k]
            break
    if len(name) > 4:
        return None
    if name[0] not in surnames() and name[:2] not in surnames():
        return None
    return name


def clean_email(local: str, domain: str) -> str:
    """An e-mail address with glued SAC or phone digits removed from its local part."""
    return f"{_LOCAL_JUNK.sub('', local)}@{domain}".lower()


def _role_of_sac(sac: str) -> AnalystRole | None:
    # The digit after the firm code is the registration type: 5 is investment advisory (analyst).
    return "分析师" if sac[5] == "5" else None


def extract_analysts(text: str) -> list[Analyst]:
    """Analysts in reading order; numbers and e-mails attach to the analyst printed before them."""
    events: list[tuple[int, str, str]] = []
    for m in _ROLE.finditer(text):
        name = _person_name(text, m.end())
        if not name:
            continue
        follows = text[m.end() : m.end() + 60]
        if not m.group(2) and not (SAC_ID.search(follows) or "@" in follows):
            continue  # "分析师认为…" in prose: no separator and nothing that identifies a person
        events.append((m.start(), "name", f"{m.group(1)}\t{name}"))
    for m in SAC_ID.finditer(text):
        events.append((m.start(), "sac", "S" + m.group(1)))
    prev_at = -1
    for at in _AT.finditer(text):
        # Searching from each "@" keeps the e-mail regex off the long Latin/digit runs of tables.
        email = EMAIL.search(text, max(prev_at + 1, at.start() - 64), at.end() + 64)
        prev_at = at.start()
        if email and email.start() <= at.start() < email.end():
            events.append((email.start(), "email", clean_email(email.group(1), email.group(2))))
    events.sort()

    drafts: list[_Draft] = []
    for pos, kind, value in events:
        if kind == "name":
            role_word, name = value.split("\t")
            drafts.append(_Draft(name=name, role=_ROLES[role_word], pos=pos, last=pos))
            continue
        field = "sac_id" if kind == "sac" else "email"
        reach = _SAC_REACH if kind == "sac" else _EMAIL_REACH
        target = _attach_target(drafts, field, pos, reach)
        if target is None:
            if kind == "sac":
                orphan = _orphan_analyst(text, pos, value)
                if orphan:
                    drafts.append(orphan)
            continue
        setattr(target, field, value)
        target.last = pos
    return _merge(drafts)


def _attach_target(drafts: list[_Draft], field: str, pos: int, reach: int) -> _Draft | None:
    if not drafts:
        return None
    current = drafts[-1]
    if getattr(current, field) is None and pos - current.last <= reach:
        return current
    # Layouts that print all names first and all numbers after: the first analyst still lacking it.
    for d in drafts:
        if getattr(d, field) is None and pos - d.pos <= reach * len(drafts) and d is not current:
            return d
    return None


def _orphan_analyst(text: str, pos: int, sac: str) -> _Draft | None:
    """An analyst printed as "张三 S0870523040005" without a role word before the name."""
    before = text[max(0, pos - 30) : pos]
    m = _NAME_BEFORE_SAC.search(before)
    if not m:
        return None
    name = _person_name(before, m.start(1))
    if not name:
        return None
    return _Draft(name=name, role=_role_of_sac(sac), pos=pos, last=pos, sac_id=sac)


def _merge(drafts: list[_Draft]) -> list[Analyst]:
    out: list[Analyst] = []
    for d in drafts:
        same = next(
            (a for a in out if (d.sac_id and a.sac_id == d.sac_id) or a.name == d.name),
            None,
        )
        if same:
            same.sac_id = same.sac_id or d.sac_id
            same.email = same.email or d.email
            same.role = same.role or d.role
            continue
        if d.sac_id is None and d.email is None and d.role is None:
            continue
        out.append(Analyst(name=d.name, role=d.role, sac_id=d.sac_id, email=d.email))
    return out
