"""Bad input: every kind ends in quarantine with a specific reason, the run goes on, and the raw
original is kept. The kinds and their reasons are documented in docs/quarantine.md.

One flow run ingests an inbox holding every inbox kind (the committed corpus in
tests/fixtures/bad/, plus what build.py makes at test time) beside good reports; the assertions
are parametrised over that one run. Object-store keys and listing records are checked through
their sources and one Prefect-free batch each.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import boto3
import pytest

from reportlake import lake as lake_io
from reportlake.extraction import extract
from reportlake.runs import open_source, run_batch
from reportlake.settings import Settings
from reportlake.sources import Window
from reportlake.storage import resolve_location
from tests.conftest import EXAMPLES_INBOX, FIXTURES
from tests.fixtures.bad import build
from tests.listing_server import ListingServer, make_record

BAD = FIXTURES / "bad"
MAX_FILE_MB = 12  # the bloated page (10 MB) must get past it, the huge file not
GOOD_000 = "000_c0ce63a5312a5a26.pdf"
LONG_NAME = "研" * 83 + "a.html"  # 255 bytes: the longest a file name can be; no sidecar fits


@dataclass(frozen=True)
class Kind:
    """One kind of bad input: its file in the inbox, and where and why it must be stopped."""

    name: str
    stage: str
    phrase: str  # distinctive words of the reason, the part a user acts on
    kept: bool = True  # its bytes were read, so the original is archived under raw/


QUARANTINED = [
    Kind("empty.pdf", "extract", "file is empty (0 bytes): the download or upload failed"),
    Kind("truncated.pdf", "extract", "PDF is truncated (no end-of-file marker)"),
    Kind("corrupt_xref.pdf", "extract", "cross-reference table is broken"),
    Kind("image_only.pdf", "extract", "no text layer (0 characters on 1 pages; a scanned image)"),
    Kind("garbled_cjk.pdf", "extract", "text layer is unreadable, garbled"),
    Kind("html_as.pdf", "extract", "is really an HTML page"),
    Kind("jpeg_as.pdf", "extract", "is really a JPEG image"),
    Kind("zip_as.pdf", "extract", "is really a ZIP archive"),
    Kind("word_as.pdf", "extract", "is really a Word document (.docx)"),
    Kind("text_as.pdf", "extract", "it is plain text starting '上海证券 行业周报"),
    Kind("unsupported.csv", "extract", "unsupported file type '.csv'"),
    Kind("binary.txt", "extract", "file is binary (NUL bytes)"),
    Kind("gbk_with_utf8_bom.txt", "extract", "UTF-8 byte-order mark but is not valid UTF-8"),
    Kind("utf16_cut.txt", "extract", "UTF-16-LE text without a byte-order mark but has an odd"),
    Kind("lossy_utf8.txt", "extract", "converted from another encoding with errors"),
    Kind("not_a_report.txt", "validate", "The broker could not be identified"),
    Kind("sidecar_not_json.txt", "fetch", "is not valid UTF-8 JSON: Expecting property name"),
    Kind("sidecar_not_utf8.txt", "fetch", "save the sidecar as UTF-8"),
    Kind("sidecar_bad_date.txt", "fetch", "'2024-13-45' is not a valid date"),
    Kind("sidecar_number_date.txt", "fetch", "20241230 is not a date written YYYY-MM-DD"),
    Kind("sidecar_future_date.txt", "validate", "2094-12-30) -- publish_date must lie between"),
    Kind("sidecar_unknown_broker.txt", "fetch", "names an unknown broker '不存在证券'"),
    Kind("sidecar_script_url.txt", "fetch", "'javascript:alert(1)' is not an http(s) address"),
    # Made at test time: big, or not reproducible byte for byte.
    Kind("encrypted.pdf", "extract", "encrypted (needs a password): ask the sender for an unprot"),
    Kind("huge.pdf", "fetch", f"over the {MAX_FILE_MB} MiB limit", kept=False),
    Kind("many_pages.pdf", "extract", "2001 pages, over the 2000-page limit"),
    Kind("bloated.html", "extract", "it embeds 'https://viewer.example.com/pdf/"),
    Kind("dup_000.pdf", "fetch", "the same bytes were already ingested from file:///"),
    Kind("line\nbreak.pdf", "fetch", "contains control characters", kept=False),
]
# Awkward but sound: ingested like any report.
WRITTEN = [GOOD_000, "004_0b306bed774ee041.txt", LONG_NAME, "-n 003.pdf"]
SKIPPED = [".uploading.pdf"]  # hidden: a transfer in progress, neither written nor quarantined


def populate_inbox(inbox: Path) -> None:
    """The committed corpus, the kinds made at test time and the good reports beside them."""
    for name, data in build.committed_files().items():
        (inbox / name).write_bytes(data)
    generated = {
        "encrypted.pdf": build.encrypted_pdf(),
        "many_pages.pdf": build.many_pages_pdf(2001),
        "bloated.html": build.bloated_html(10),
        "line\nbreak.pdf": build.text_pdf("换行文件名\n" * 20),
    }
    for name, data in generated.items():
        (inbox / name).write_bytes(data)
    build.sparse_file(inbox / "huge.pdf", (MAX_FILE_MB + 1) * 2**20)
    copies = {
        GOOD_000: GOOD_000,
        f"{GOOD_000}.meta.json": f"{GOOD_000}.meta.json",
        "004_0b306bed774ee041.txt": "004_0b306bed774ee041.txt",
        "dup_000.pdf": GOOD_000,
        LONG_NAME: "001_d1516b028d16e038.html",
        "-n 003.pdf": "003_b28e88f327e1ca91.pdf",
        ".uploading.pdf": "002_a3be273b0da08f54.pdf",
    }
    for name, original in copies.items():
        shutil.copyfile(EXAMPLES_INBOX / original, inbox / name)


def name_of(uri: str) -> str:
    return Path(url2pathname(urlparse(uri).path)).name


@dataclass
class Run:
    root: Path
    inbox: Path
    lake: Path
    state: Any
    quarantine: dict[str, dict[str, Any]]  # file name -> row
    reports: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def run(prefect_harness: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    from flows.ingest import ingest_reports

    root = tmp_path_factory.mktemp("bad-input")
    inbox, lake = root / "inbox", root / "lake"
    inbox.mkdir()
    populate_inbox(inbox)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("REPORTLAKE_MAX_FILE_MB", str(MAX_FILE_MB))
        state = ingest_reports(inbox=str(inbox), lake=str(lake), return_state=True)
    loc = resolve_location(str(lake))
    tables = {
        name: {name_of(r["source_uri"]): r for r in lake_io.read_table(loc, name).to_pylist()}
        for name in ("quarantine", "reports")
    }
    return Run(root, inbox, lake, state, tables["quarantine"], tables["reports"])


@pytest.mark.e2e
def test_the_run_goes_on_and_writes_the_good_reports(run: Run) -> None:
    assert run.state.is_completed(), run.state.message
    assert sorted(run.reports) == sorted(WRITTEN)
    assert sorted(run.quarantine) == sorted(k.name for k in QUARANTINED)
    summary = run.state.result()
    assert (summary.written, summary.quarantined) == (len(WRITTEN), len(QUARANTINED))


@pytest.mark.e2e
@pytest.mark.parametrize("kind", QUARANTINED, ids=lambda k: k.name.replace("\n", "\\n"))
def test_kind_is_quarantined_with_a_specific_reason(run: Run, kind: Kind) -> None:
    row = run.quarantine[kind.name]
    assert row["stage"] == kind.stage, row["reasons"]
    assert any(kind.phrase in reason for reason in row["reasons"]), row["reasons"]


@pytest.mark.e2e
@pytest.mark.parametrize("kind", QUARANTINED, ids=lambda k: k.name.replace("\n", "\\n"))
def test_raw_original_is_kept_when_it_was_read(run: Run, kind: Kind) -> None:
    row = run.quarantine[kind.name]
    if not kind.kept:
        assert row["raw_uri"] is None
        return
    raw = Path(url2pathname(urlparse(row["raw_uri"]).path))
    assert raw.read_bytes() == (run.inbox / kind.name).read_bytes()
    assert raw.is_relative_to(run.lake / "raw")


@pytest.mark.e2e
def test_no_path_derived_from_a_name_leaves_the_lake_or_the_inbox(run: Run) -> None:
    assert sorted(p.name for p in run.root.iterdir()) == ["inbox", "lake"]
    raw = [p for p in (run.lake / "raw").rglob("*") if p.is_file()]
    assert raw and all(re.fullmatch(r"[0-9a-f]{64}\.\w+", p.name) for p in raw), raw
    assert all(p.parent.parent == run.lake / "raw" for p in raw)
    assert not set(SKIPPED) & (set(run.quarantine) | set(run.reports))


# --- Object-store keys and listing records (Prefect-free: one batch each) ----------------------


BAD_KEYS = {
    "reports/../../escape.pdf": "has a '..' segment, which points outside its folder",
    "reports/./dot.pdf": "has a '.' segment",
    "reports/\uff0e\uff0e/full-width-dots.pdf": "has a '．．' segment",
    "reports//absolute.pdf": "is absolute",
    "reports/nul\x00byte.pdf": "contains control characters",
    "reports/rtl\u202efdp.exe": "text-direction marks",
    "reports/" + "长" * 90 + ".pdf": "over the 255-byte limit of a file name",
}


def quarantine_by_uri(lake: Path) -> dict[str, dict[str, Any]]:
    rows = lake_io.read_table(resolve_location(str(lake)), "quarantine").to_pylist()
    return {r["source_uri"]: r for r in rows}


def raw_files(lake: Path) -> list[str]:
    """Names of the archived originals, each directly in its raw/dt=... folder."""
    files = [p for p in (lake / "raw").rglob("*") if p.is_file()]
    assert all(p.parent.parent == lake / "raw" for p in files), files
    return sorted(p.name for p in files)


def ingest_once(settings: Settings, window: Window | None = None) -> None:
    """List the source and ingest everything in one batch, as a run's batch task does."""
    source = open_source(settings)
    try:
        items = list(source.list_items(window))
    finally:
        source.close()
    run_batch(settings, items)


@pytest.mark.e2e
def test_unsafe_object_keys_are_quarantined_unread(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for key in [*BAD_KEYS, "reports/.part-upload.pdf"]:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=build.text_pdf(key))
    good = EXAMPLES_INBOX / "004_0b306bed774ee041.txt"
    s3.put_object(Bucket=s3_bucket, Key="reports/good.txt", Body=good.read_bytes())
    settings = Settings(
        source="s3",
        landing=f"s3://{s3_bucket}/reports",
        lake=str(tmp_path / "lake"),
        s3_endpoint_url=s3_endpoint,
    )
    ingest_once(settings)

    rows = quarantine_by_uri(tmp_path / "lake")
    assert sorted(rows) == sorted(f"s3://{s3_bucket}/{key}" for key in BAD_KEYS)
    for key, phrase in BAD_KEYS.items():
        row = rows[f"s3://{s3_bucket}/{key}"]
        assert row["stage"] == "fetch" and row["raw_uri"] is None
        assert phrase in row["reasons"][0] and "rename the file" in row["reasons"][0]
    reports = lake_io.read_table(resolve_location(str(tmp_path / "lake")), "reports")
    assert reports.column("source_uri").to_pylist() == [f"s3://{s3_bucket}/reports/good.txt"]
    assert raw_files(tmp_path / "lake") == [Path(reports.column("raw_uri")[0].as_py()).name]


BAD_RECORDS = {
    "no infoCode": ("", "listing record has no infoCode"),
    "javascript URL": ("javascript:alert(1)", "not a plain id: 'javascript:alert(1)'"),
    "other host": ("//evil.example/x", "not a plain id: '//evil.example/x'"),
    "path traversal": ("../../etc/passwd", "not a plain id: '../../etc/passwd'"),
    "NUL": ("AP\x00NUL", "not a plain id: 'AP\\x00NUL'"),
    "no title": ("AP_NO_TITLE", "listing record AP_NO_TITLE has no title"),
    "bad date": ("AP_BAD_DATE", "unreadable publishDate '2024-12-3x'"),
}


def bad_record(label: str, info_code: str) -> dict[str, Any]:
    record = make_record(info_code, "2024-12-30", title=f"测试研报 {label}")
    if label == "no infoCode":
        record.pop("infoCode")
    if label == "no title":
        record["title"] = " "
    if label == "bad date":
        record["publishDate"] = "2024-12-3x"
    return record


@pytest.mark.e2e
def test_unusable_listing_records_are_quarantined_without_a_download(tmp_path: Path) -> None:
    records = [bad_record(label, code) for label, (code, _) in BAD_RECORDS.items()]
    good = make_record(
        "AP_GOOD_0001", "2024-12-30", title="豆包题材持续发酵，重视字节产业链投资机会"
    )
    with ListingServer({1: [good, *records]}) as server:
        settings = Settings(
            source="eastmoney",
            lake=str(tmp_path / "lake"),
            eastmoney_api_base=server.base_url,
            eastmoney_pdf_base=server.base_url,
            eastmoney_qtypes=[1],
            http_rate_per_s=500.0,
        )
        # The window reaches past "2024-12-3x": the listing filters dates as text.
        ingest_once(settings, Window(dt.date(2024, 12, 30), dt.date(2025, 1, 1)))
        downloads = [r.path for r in server.requests if r.path.startswith("/pdf/")]

    assert downloads == ["/pdf/H3_AP_GOOD_0001_1.pdf"]
    reasons = {r["reasons"][0]: r for r in quarantine_by_uri(tmp_path / "lake").values()}
    for _, phrase in BAD_RECORDS.values():
        (row,) = [r for reason, r in reasons.items() if phrase in reason]
        assert row["stage"] == "fetch" and row["raw_uri"] is None and row["source_id"]
    assert len(raw_files(tmp_path / "lake")) == 1  # the good report's


# --- Extraction and corpus checks (no lake) ----------------------------------------------------


def test_committed_corpus_is_what_build_makes_and_small() -> None:
    built = build.committed_files()
    on_disk = {p.name: p.read_bytes() for p in BAD.iterdir() if p.is_file()}
    on_disk.pop("build.py")
    assert on_disk.keys() == built.keys()
    assert [n for n in built if on_disk[n] != built[n]] == []
    assert sum(len(d) for d in on_disk.values()) < 300_000


def test_a_broken_cross_reference_table_alone_is_repaired_not_refused() -> None:
    data = build.text_pdf()
    start, end = data.index(b"\nxref\n") + 1, data.index(b"trailer")
    broken = data[:start] + b"xref\n0 1\n#garbage#\n" + data[end:]
    assert "豆包题材持续发酵" in extract(broken, filename="r.pdf").text


def test_gbk_page_declaring_utf8_is_read_as_gbk() -> None:
    # Browsers follow the server's charset header over a stale <meta>; the bytes decide.
    page = f'<html><head><meta charset="utf-8"></head><body><article><p>{build.BODY}</p>'
    doc = extract((page + "</article></body></html>").encode("gbk"), filename="r.html")
    assert doc.encoding == "gbk" and "维持行业“增持”评级" in doc.text


def test_utf16_without_bom_is_read() -> None:
    doc = extract(build.BODY.encode("utf-16-le"), filename="r.txt")
    assert doc.encoding == "utf-16-le" and doc.text == build.BODY


def test_sidecar_text_is_put_on_one_line_and_blanks_are_unset() -> None:
    from reportlake.sources.inbox import parse_sidecar

    raw = build.sidecar(
        {"title": " 豆包题材持续发酵\n重视字节\x00产业链 ", "industry": " ", "publish_date": ""}
    )
    metadata = parse_sidecar(raw, "r.pdf.meta.json")
    assert metadata.title == "豆包题材持续发酵 重视字节 产业链"
    assert metadata.industry is None and metadata.publish_date is None
