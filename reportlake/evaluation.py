"""Score parsed reports against hand-made labels, field by field (``reportlake eval``).

Rules (see ``tests/fixtures/labels/README.md``):
- Scalars are equal after normalising both sides (NFKC, simplified script, no whitespace, lower
  case; titles also lose a leading 【…】 tag). A list label means any of its values is right. A null
  publish_date label is matched by null or by a date whose source is ``inferred``.
- analysts match by sac_id (by name where the label has none) and must agree on name, role, email.
- tickers (by ticker) and recommended (by name): set F1.
- related_reports (by title) and risks: an item is found when one string contains the other after
  normalising and dropping punctuation; F1 per report.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reportlake.models import ParsedReport
from reportlake.parsing import parse_text
from reportlake.parsing.normalize import canonical

SCALAR_FIELDS = (
    "title",
    "broker",
    "publish_date",
    "industry",
    "report_type",
    "rating",
    "rating_action",
    "script",
)
LIST_FIELDS = ("analysts", "tickers", "related_reports", "recommended", "risks")
FIELDS = SCALAR_FIELDS + LIST_FIELDS

_LEADING_TAG = re.compile(r"^【[^】]*】")


@dataclass(frozen=True)
class FieldResult:
    """Score of one field of one report (1.0 / 0.0 for scalars, F1 for lists) and why not 1.0."""

    score: float
    detail: str = ""


@dataclass
class FileEvaluation:
    """All field scores of one report file against its label."""

    label_id: str
    path: Path
    results: dict[str, FieldResult] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Evaluation:
    """Scores of every evaluated file; fields and overall are means over files."""

    files: list[FileEvaluation] = field(default_factory=list)

    def field_score(self, name: str) -> float:
        """Mean score of one field over all files."""
        scores = [f.results[name].score for f in self.files if name in f.results]
        return sum(scores) / len(scores) if scores else 0.0

    @property
    def overall(self) -> float:
        """Mean of the per-field means."""
        return sum(self.field_score(n) for n in FIELDS) / len(FIELDS) if self.files else 0.0


def _norm(value: Any) -> str:
    return canonical(str(value)) if value is not None else ""


def _norm_loose(value: str) -> str:
    """Normalised and without punctuation or symbols: the form used for containment matches."""
    return "".join(ch for ch in _norm(value) if not unicodedata.category(ch).startswith(("P", "S")))


def _f1(tp_pred: int, n_pred: int, tp_label: int, n_label: int) -> float:
    if n_pred == 0 and n_label == 0:
        return 1.0
    precision = tp_pred / n_pred if n_pred else 0.0
    recall = tp_label / n_label if n_label else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score_scalar(name: str, label: Any, parsed: ParsedReport) -> FieldResult:
    """Exact match after normalisation; list labels accept any of their values."""
    value = getattr(parsed, name)
    if name == "publish_date":
        value = value.isoformat() if value else None
        if label is None:
            ok = value is None or parsed.publish_date_source == "inferred"
            return FieldResult(
                1.0 if ok else 0.0, "" if ok else f"got {value} (header), label null"
            )
    options = label if isinstance(label, list) else [label]

    def norm(v: Any) -> str:
        text = _norm(v)
        return _LEADING_TAG.sub("", text) if name == "title" else text

    ok = any(norm(value) == norm(o) for o in options) if value is not None else None in options
    return FieldResult(1.0 if ok else 0.0, "" if ok else f"got {value!r}, label {label!r}")


def _set_f1(pred: Iterable[str], label: Iterable[str]) -> FieldResult:
    p, lab = set(pred), set(label)
    tp = len(p & lab)
    score = _f1(tp, len(p), tp, len(lab))
    missing, extra = sorted(lab - p), sorted(p - lab)
    detail = "; ".join(
        x for x in (f"missing {missing}" if missing else "", f"extra {extra}" if extra else "") if x
    )
    return FieldResult(score, detail)


def _containment_f1(pred: list[str], label: list[str]) -> FieldResult:
    p = [_norm_loose(x) for x in pred]
    lab = [_norm_loose(x) for x in label]

    def found(a: str, pool: list[str]) -> bool:
        return any(a and b and (a in b or b in a) for b in pool)

    tp_pred = sum(found(x, lab) for x in p)
    tp_label = sum(found(x, p) for x in lab)
    missing = [orig for orig, x in zip(label, lab, strict=True) if not found(x, p)]
    extra = [orig for orig, x in zip(pred, p, strict=True) if not found(x, lab)]
    detail = "; ".join(
        x for x in (f"missing {missing}" if missing else "", f"extra {extra}" if extra else "") if x
    )
    return FieldResult(_f1(tp_pred, len(p), tp_label, len(lab)), detail)


def _analysts(parsed: ParsedReport, label: list[dict[str, Any]]) -> FieldResult:
    def agrees(lab: dict[str, Any], a: Any) -> bool:
        return all(_norm(lab.get(k)) == _norm(getattr(a, k)) for k in ("name", "role", "email"))

    def same_person(lab: dict[str, Any], a: Any) -> bool:
        if lab.get("sac_id"):
            return _norm(lab["sac_id"]) == _norm(a.sac_id)
        return _norm(lab.get("name")) == _norm(a.name)

    problems: list[str] = []
    tp = 0
    for lab in label:
        match = next((a for a in parsed.analysts if same_person(lab, a)), None)
        if match is None:
            problems.append(f"missing {lab.get('name')}")
        elif not agrees(lab, match):
            problems.append(f"{lab.get('name')}: got {match.model_dump()}")
        else:
            tp += 1
    extra = [a.name for a in parsed.analysts if not any(same_person(lab, a) for lab in label)]
    if extra:
        problems.append(f"extra {extra}")
    return FieldResult(_f1(tp, len(parsed.analysts), tp, len(label)), "; ".join(problems))


def score_report(parsed: ParsedReport, label: dict[str, Any]) -> dict[str, FieldResult]:
    """Every field's score for one parsed report against its label."""
    results = {name: score_scalar(name, label.get(name), parsed) for name in SCALAR_FIELDS}
    results["analysts"] = _analysts(parsed, label.get("analysts") or [])
    results["tickers"] = _set_f1(
        (t.ticker for t in parsed.tickers), (t["ticker"] for t in label.get("tickers") or [])
    )
    results["recommended"] = _set_f1(
        (_norm(n) for n in parsed.recommended), (_norm(n) for n in label.get("recommended") or [])
    )
    results["related_reports"] = _containment_f1(
        [r.title for r in parsed.related_reports],
        [r["title"] for r in label.get("related_reports") or []],
    )
    results["risks"] = _containment_f1(parsed.risks, list(label.get("risks") or []))
    return results


def label_id_of(path: Path) -> str:
    """Label id of a report file: its name up to the first dot (``000_ab.gbk.txt``: ``000_ab``)."""
    return path.name.split(".", 1)[0]


def text_file_parser(*, bundled_master: bool = True) -> Callable[[Path], ParsedReport]:
    """A ``parse_file`` for ``evaluate`` over UTF-8 text reports.

    With ``bundled_master=False`` company names come only from each report's own text, which
    is how the parser fares on companies the bundled dictionary does not list.
    """

    def parse_file(path: Path) -> ParsedReport:
        return parse_text(path.read_text("utf-8"), bundled_master=bundled_master)

    return parse_file


def evaluate(
    labels_dir: Path, reports_dir: Path, parse_file: Callable[[Path], ParsedReport]
) -> Evaluation:
    """Parse every report file that has a label and score it field by field.

    Several files (the .txt, .pdf and .html renderings) may share one label; files without a
    label and ``*.meta.json`` sidecars are skipped. A file that fails to parse scores 0 everywhere.
    """
    labels = {p.stem: json.loads(p.read_text("utf-8")) for p in sorted(labels_dir.glob("*.json"))}
    ev = Evaluation()
    for path in sorted(p for p in reports_dir.iterdir() if p.is_file()):
        if path.name.endswith(".meta.json") or label_id_of(path) not in labels:
            continue
        fe = FileEvaluation(label_id=label_id_of(path), path=path)
        try:
            parsed = parse_file(path)
        except Exception as exc:  # noqa: BLE001 - a failing file is a score of 0, not a crash
            fe.error = f"{type(exc).__name__}: {exc}"
            fe.results = {n: FieldResult(0.0, fe.error) for n in FIELDS}
        else:
            fe.results = score_report(parsed, labels[fe.label_id])
        ev.files.append(fe)
    return ev


def format_evaluation(ev: Evaluation) -> str:
    """A per-field table (mean and per-file scores), the mismatches, and the overall score."""
    names = [f.path.name for f in ev.files]
    width = max((len(n) for n in FIELDS), default=10)
    header = f"{'field':<{width}}  {'score':>6}  " + "  ".join(f"{i:>5}" for i in range(len(names)))
    lines = [
        "files: " + ", ".join(f"[{i}] {n}" for i, n in enumerate(names)),
        header,
        "-" * len(header),
    ]
    for name in FIELDS:
        per_file = "  ".join(f"{f.results[name].score:>5.2f}" for f in ev.files)
        lines.append(f"{name:<{width}}  {ev.field_score(name):>6.3f}  {per_file}")
    lines.append("-" * len(header))
    lines.append(f"{'overall':<{width}}  {ev.overall:>6.3f}")
    mismatches = [
        f"  [{i}] {f.path.name} {name}: {f.results[name].detail}"
        for i, f in enumerate(ev.files)
        for name in FIELDS
        if f.results[name].score < 1.0
    ]
    if mismatches:
        lines += ["", "mismatches:", *mismatches]
    return "\n".join(lines)
