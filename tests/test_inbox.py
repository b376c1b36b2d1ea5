"""The inbox source: what it lists, how it reads sidecars, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reportlake.errors import BadInputError
from reportlake.sources.inbox import InboxSource
from reportlake.storage import resolve_location


def inbox(path: Path, max_bytes: int = 10_000) -> InboxSource:
    return InboxSource(resolve_location(str(path)), max_bytes=max_bytes)


def test_lists_reports_but_not_sidecars_or_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.7")
    (tmp_path / "a.pdf.meta.json").write_text("{}")
    (tmp_path / ".partial.pdf").write_bytes(b"%PDF")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("text")
    (tmp_path / "notes.docx").write_bytes(b"PK")  # listed: extraction quarantines it, with why
    names = [item.name for item in inbox(tmp_path).list_items()]
    assert names == ["a.pdf", "notes.docx", "b.txt"]


def test_sidecar_metadata_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("正文")
    (tmp_path / "a.txt.meta.json").write_text(
        json.dumps({"title": "标题", "broker": "上海证券", "publish_date": "2024-12-30"}),
        encoding="utf-8",
    )
    source = inbox(tmp_path)
    (item,) = source.list_items()
    fetched = source.fetch(item)
    assert fetched.data == "正文".encode()
    assert fetched.metadata.broker == "上海证券"
    assert str(fetched.metadata.publish_date) == "2024-12-30"
    assert fetched.metadata_error is None


@pytest.mark.parametrize(
    ("sidecar", "words"),
    [
        ("{not json", "not valid UTF-8 JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"publish_date": "2024-13-45"}', "publish_date"),
    ],
)
def test_bad_sidecar_is_reported_not_ignored(tmp_path: Path, sidecar: str, words: str) -> None:
    (tmp_path / "a.txt").write_text("正文")
    (tmp_path / "a.txt.meta.json").write_text(sidecar)
    source = inbox(tmp_path)
    (item,) = source.list_items()
    fetched = source.fetch(item)
    assert fetched.metadata_error is not None
    assert words in fetched.metadata_error
    assert "a.txt.meta.json" in fetched.metadata_error


def test_oversized_file_is_refused_with_the_limit(tmp_path: Path) -> None:
    (tmp_path / "big.pdf").write_bytes(b"%PDF" + b"0" * 20_000)
    source = inbox(tmp_path, max_bytes=10_000)
    (item,) = source.list_items()
    with pytest.raises(BadInputError, match="REPORTLAKE_MAX_FILE_MB") as info:
        source.fetch(item)
    assert info.value.stage == "fetch"


def test_missing_inbox_says_so(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        list(inbox(tmp_path / "nope").list_items())


def test_prefetch_keeps_order_and_reports_bad_items(tmp_path: Path) -> None:
    from reportlake.pipeline import prefetch

    for i in range(7):
        (tmp_path / f"{i}.txt").write_text(f"报告 {i}")
    (tmp_path / "big.txt").write_text("x" * 20_000)
    source = inbox(tmp_path)
    items = list(source.list_items())
    for ahead in (1, 3):
        source.remote = ahead > 1  # several at once only from a remote source
        got = list(prefetch(source, items, ahead))
        assert [item.name for item, _ in got] == [item.name for item in items]
        errors = {item.name: f for item, f in got if isinstance(f, BadInputError)}
        assert list(errors) == ["big.txt"]
