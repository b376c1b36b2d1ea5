"""The benchmark corpus: deterministic, realistic in size, and read right by reportlake's parser."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pymupdf
import pytest

from bench.corpus import (
    MAX_PAGES,
    MIN_PAGES,
    disagreements,
    generate,
    is_complete,
    load_labels,
    wrap,
)
from reportlake.extraction import extract
from reportlake.parsing import parse_text

N = 20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return generate(tmp_path_factory.mktemp("corpus"), N, seed=0, workers=1)


def test_same_seed_same_bytes(corpus: list[Path], tmp_path: Path) -> None:
    again = generate(tmp_path / "again", N, seed=0, workers=1)
    assert [p.name for p in again] == [p.name for p in corpus]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(again, corpus, strict=True))


def test_other_seed_other_reports(corpus: list[Path], tmp_path: Path) -> None:
    other = generate(tmp_path / "other", 3, seed=1, workers=1)
    assert {p.read_bytes() for p in other}.isdisjoint(p.read_bytes() for p in corpus[:3])


def test_every_report_is_distinct(corpus: list[Path]) -> None:
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in corpus}
    assert len(digests) == N


def test_corpus_is_marked_complete(corpus: list[Path]) -> None:
    out_dir = corpus[0].parent
    assert is_complete(out_dir, N, 0)
    assert not is_complete(out_dir, N + 1, 0)


def test_page_counts_and_layouts(corpus: list[Path]) -> None:
    labels = load_labels(corpus[0].parent)
    for path, label in zip(corpus, labels, strict=True):
        with pymupdf.open(path) as doc:
            assert MIN_PAGES <= doc.page_count <= MAX_PAGES
            assert doc.page_count == label["pages"]
            assert label["title"] in doc[0].get_text()  # the CJK font extracts as written
    assert any(label["two_column"] for label in labels)
    assert not all(label["two_column"] for label in labels)


def test_reportlake_parser_agrees_with_the_labels(corpus: list[Path]) -> None:
    labels = load_labels(corpus[0].parent)
    wrong = {}
    for path, label in zip(corpus, labels, strict=True):
        parsed = parse_text(extract(path.read_bytes(), filename=path.name).text)
        if problems := disagreements(label, parsed):
            wrong[path.name] = problems
    assert len(wrong) <= 0.05 * N, wrong


def test_wrap_is_greedy_with_half_width_ascii() -> None:
    assert wrap("一二三四五", 2.0) == ("一二", "三四", "五")
    assert wrap("ab一cd", 2.0) == ("ab一", "cd")
    assert wrap("", 5.0) == ("",)
