"""Security: no credential leaks, no path escapes, bounded HTTP, inert HTML.

- Credentials come from the environment or a Prefect Secret block and appear nowhere else: a
  whole ingest logged at DEBUG leaves no trace of a sentinel secret key or session token in its
  output, its Prefect logs, artifacts and runs, its lake (Data Docs included) or PREFECT_HOME.
- A name that arrives with a report (file name, suffix, key) cannot lead outside the lake or
  the inbox.
- HTTP goes to the configured hosts only, and every download is bounded in size and time.
- Parsing an HTML page resolves no entity and fetches nothing: no file read, no connection.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import pickle
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pymupdf
import pytest

from reportlake import lake as lake_io
from reportlake import storage
from reportlake.errors import BadInputError, ConfigurationError, TransientError
from reportlake.extraction import extract
from reportlake.http import PoliteClient
from reportlake.sources.inbox import InboxSource
from reportlake.storage import Location, S3Credentials, UnsafePathError, resolve_location
from tests.conftest import EXAMPLES_INBOX, REPO
from tests.listing_server import Fault, ListingServer, redirect
from tests.s3_fault_proxy import FaultProxy

ACCESS_KEY = "AKIASENTINEL9F3C2A71"  # an id, not a secret: it signs every request
SECRET_KEY = "SENTINEL-9f3c2a71-secret-key-never-logged"
SESSION_TOKEN = "SENTINEL-9f3c2a71-session-token-never-logged"
SENTINELS = (SECRET_KEY.encode(), SESSION_TOKEN.encode())


def leaks(blob: bytes | str) -> list[str]:
    data = blob.encode("utf-8", "replace") if isinstance(blob, str) else blob
    return [s.decode() for s in SENTINELS if s in data]


def leaking_lines(text: str) -> list[str]:
    """The lines holding a sentinel, masked, to say where a leak is without repeating it."""
    lines = [line for line in text.splitlines() if leaks(line)]
    for sentinel in SENTINELS:
        lines = [line.replace(sentinel.decode(), "<SENTINEL>")[:300] for line in lines]
    return lines


# --- credentials: a whole ingest at DEBUG ----------------------------------------------------


def _prefect_records(flow_run_id: str) -> tuple[list[str], int]:
    """JSON of the run, its task runs, logs and artifacts; and how many logs are DEBUG."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    run_id = uuid.UUID(flow_run_id)
    with get_client(sync_client=True) as client:
        logs = []
        while batch := client.read_logs(
            LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200, offset=len(logs)
        ):
            logs += batch
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
        flow_run = client.read_flow_run(run_id)
    assert logs and artifacts and tasks, "the run's logs, artifacts and task runs were read"
    records = [r.model_dump_json() for r in (*logs, *artifacts, *tasks, flow_run)]
    return records, sum(1 for log in logs if log.level == 10)


def _server_database_files() -> list[Path]:
    """The test Prefect server's SQLite files: every log, artifact and run it stores."""
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    url = str(PREFECT_API_DATABASE_CONNECTION_URL.value() or "")
    database = Path(url.split(":///", 1)[1]) if ":///" in url else None
    if database is None or not database.exists():
        return []
    return [p for p in database.parent.glob(database.name + "*") if p.is_file()]


def _lake_objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


@pytest.fixture
def secret_block(prefect_harness: str) -> Iterator[str]:
    from prefect.blocks.system import Secret

    name = f"reportlake-s3-{uuid.uuid4().hex[:8]}"
    keys = {
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        "aws_session_token": SESSION_TOKEN,
    }
    Secret(value=keys).save(name, overwrite=True)
    yield name
    Secret.delete(name)


@pytest.mark.e2e
@pytest.mark.parametrize("via", ["environment", "secret-block"])
def test_an_ingest_logged_at_debug_leaks_no_credential(
    via: str,
    prefect_harness: str,
    s3_endpoint: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    record_property: pytest.RecordProperty,
) -> None:
    bucket = f"lake-secrets-{via}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REPORTLAKE_"))}
    env.update(
        PREFECT_API_URL=prefect_harness,
        PREFECT_HOME=str(home),
        PREFECT_LOGGING_LEVEL="DEBUG",
        PREFECT_LOGGING_ROOT_LEVEL="DEBUG",
        PREFECT_LOGGING_EXTRA_LOGGERS="reportlake,botocore,urllib3",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",
        REPORTLAKE_BATCH_SIZE="5",
        # worker processes resolve the credentials on their own in the block variant
        REPORTLAKE_WORKERS="0" if via == "environment" else "2",
    )
    if via == "environment":
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_SESSION_TOKEN=SESSION_TOKEN,
        )
    else:
        env["REPORTLAKE_S3_CREDENTIALS_BLOCK"] = request.getfixturevalue("secret_block")
    with FaultProxy(s3_endpoint) as proxy:  # passes everything; records who signed
        env["REPORTLAKE_S3_ENDPOINT_URL"] = proxy.url
        lake = f"s3://{bucket}/lake"
        command = ["ingest", "--inbox", str(EXAMPLES_INBOX), "--lake", lake, "--no-example-query"]
        run = subprocess.run(
            [str(Path(sys.executable).with_name("reportlake")), *command],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(proxy.stats.access_keys) == {ACCESS_KEY}, "every request signed with the keys"
    output = run.stdout + run.stderr
    assert "DEBUG" in output, "the run logged at DEBUG"
    assert not leaking_lines(output), "process output"

    flow_run_id = re.search(r"flow-run/([0-9a-f-]{36})", output)
    assert flow_run_id, "the run printed its flow run"
    records, debug_logs = _prefect_records(flow_run_id.group(1))
    assert debug_logs > 0, "the Prefect API holds the run's DEBUG logs"
    assert not [r[:200] for r in records if leaks(r)], "Prefect logs, artifacts or runs"

    objects = _lake_objects(s3_endpoint, bucket)
    assert any("/_quality/" in k for k in objects), "the Data Docs are in the lake"
    assert not [k for k, body in objects.items() if leaks(body)], "lake objects"

    files = [p for p in home.rglob("*") if p.is_file()] + _server_database_files()
    assert not [p for p in files if leaks(p.read_bytes())], "PREFECT_HOME or the server database"
    line = (
        f"credentials via {via}: {len(output)} chars of output, {len(records)} Prefect "
        f"records ({debug_logs} DEBUG logs), {len(objects)} lake objects, {len(files)} "
        f"files of PREFECT_HOME and the server, {proxy.stats.requests} signed requests: "
        "0 sentinels"
    )
    print(line)
    record_property("summary", line)


@pytest.fixture
def block_value(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[object], None]]:
    """Make ``reportlake.storage`` read this value as the Secret block's (no Prefect)."""

    def set_value(value: object) -> None:
        storage._load_credentials.cache_clear()
        monkeypatch.setattr(storage, "_read_secret_block", lambda block: value)

    yield set_value
    storage._load_credentials.cache_clear()


def test_credentials_never_show_in_reprs_pickles_or_locations(
    block_value: Callable[[object], None],
) -> None:
    keys = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}
    block_value({**keys, "aws_session_token": SESSION_TOKEN})
    credentials = storage.s3_credentials("block")
    assert credentials is not None and credentials.secret_key == SECRET_KEY
    assert not leaks(repr(credentials) + str(credentials))
    with pytest.raises(TypeError):
        pickle.dumps(credentials)
    loc = resolve_location(
        "s3://bucket/lake", s3_endpoint_url="http://127.0.0.1:9", credentials_block="block"
    )
    assert not leaks(repr(loc))
    assert not leaks(pickle.dumps(loc)), "a pickled S3 location carries no keys"
    assert pickle.loads(pickle.dumps(loc)) == loc  # resolved again where it is unpickled
    assert not leaks(repr(S3Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)))


@pytest.mark.parametrize(
    "value",
    [
        f"not json {SECRET_KEY}",
        f'{{"aws_access_key_id": "{ACCESS_KEY}", "aws_secret_access_key": "{SECRET_KEY}"',
        {"aws_secret_access_key": SECRET_KEY},
        [SECRET_KEY],
    ],
    ids=["not-json", "truncated-json", "no-key-id", "not-an-object"],
)
def test_a_malformed_secret_block_is_refused_without_quoting_it(
    value: object, block_value: Callable[[object], None]
) -> None:
    block_value(value)
    with pytest.raises(ConfigurationError) as exc:
        storage.s3_credentials("reportlake-s3")
    assert "reportlake-s3" in str(exc.value)
    assert not leaks(str(exc.value)) and exc.value.__cause__ is None


@pytest.mark.e2e
@pytest.mark.usefixtures("prefect_harness")
def test_a_missing_secret_block_names_the_block_and_what_to_do() -> None:
    storage._load_credentials.cache_clear()
    with pytest.raises(ConfigurationError, match="Secret block 'no-such-block'") as exc:
        resolve_location("s3://bucket/lake", credentials_block="no-such-block")
    assert "REPORTLAKE_S3_CREDENTIALS_BLOCK" in str(exc.value)


def test_endpoint_urls_with_credentials_in_them_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="must not carry credentials") as exc:
        resolve_location("s3://bucket/lake", s3_endpoint_url=f"http://x:{SECRET_KEY}@h:9000")
    assert not leaks(str(exc.value))


# --- paths: names cannot leave the lake or the inbox ------------------------------------------

HOSTILE_PARTS = [
    "../../etc/passwd",
    "..",
    "a/../../b",
    "/etc/passwd",
    "\\..\\..\\windows",
    "x\x00.pdf",
    "x\n.pdf",
    "x\r\ny",
    "report\u202efdp.exe",
    "\uff0e\uff0e",  # full-width dots: NFKC makes them ".."
    "\u2025",  # two-dot leader: NFKC ".."
    "a/\uff0e\uff0e/b",
    "..\uff0fetc",  # full-width solidus
    "x" * 256,
    "C:\\x",  # a backslash is a separator once the lake is copied to Windows
]
CONTAINED_PARTS = ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a..b", "...", "报告.pdf", "dt=x"]


@pytest.fixture(params=["local", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    if request.param == "local":
        return resolve_location(str(tmp_path / "lake"))
    return resolve_location("s3://bucket/lake", s3_endpoint_url="http://127.0.0.1:9")


@pytest.mark.parametrize("part", HOSTILE_PARTS, ids=repr)
def test_join_refuses_a_part_that_could_leave_the_root(location: Location, part: str) -> None:
    with pytest.raises(UnsafePathError):
        location.join("raw", part)
    assert issubclass(UnsafePathError, BadInputError), "quarantined, never retried"


@pytest.mark.parametrize("part", CONTAINED_PARTS, ids=repr)
def test_join_keeps_odd_but_harmless_names_inside_the_root(location: Location, part: str) -> None:
    path = location.join("raw", part)
    assert path.startswith(location.root + "/raw/") and location.contains(path)
    assert ".." not in path.split("/")


def test_contains_refuses_paths_that_only_look_inside(location: Location) -> None:
    root = location.root
    assert location.contains(root) and location.contains(f"{root}/a/b")
    for outside in (f"{root}/../x", f"{root}/a/../../x", f"{root}x", f"{root}/./a", "/etc"):
        assert not location.contains(outside), outside


@pytest.mark.parametrize(
    "suffix",
    [".pdf/../../../../etc/passwd", ".p\x00df", ".pdf\n", "." + "p" * 300, ".\uff0e/x"],
    ids=["traversal", "nul", "newline", "long", "full-width"],
)
def test_raw_path_stays_in_the_lake_whatever_the_suffix(tmp_path: Path, suffix: str) -> None:
    """The archive name comes from a sha256 and the original's suffix, a sender's choice."""
    lake = resolve_location(str(tmp_path / "lake"))
    rid = "a" * 64
    try:
        path = lake_io.raw_path(lake, rid, dt.date(2024, 12, 30), suffix)
    except UnsafePathError:
        return  # refused: the report is quarantined, nothing is written
    assert lake.contains(path) and path.startswith(lake.join("raw", "dt=2024-12-30") + "/")


def test_raw_path_archives_an_original_with_an_odd_suffix_under_a_safe_name(
    tmp_path: Path,
) -> None:
    lake = resolve_location(str(tmp_path / "lake"))
    for suffix in (".pdf\n", "." + "p" * 300, ".PDF ", ".pdf\u202e"):
        path = lake_io.raw_path(lake, "a" * 64, None, suffix)
        assert re.fullmatch(r"[0-9a-f]{64}\.[a-z0-9]{1,10}", path.rsplit("/", 1)[1]), path


def test_inbox_names_that_could_escape_are_quarantined_not_read(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = ["x..%2F..%2Fetc%2Fpasswd.pdf", "%2e%2e%2fx.pdf", "a\nb.pdf", "\uff0e\uff0e.pdf"]
    names.append("report\u202efdp.pdf")
    for name in names:
        (inbox / name).write_bytes(b"%PDF-1.7\n")
    source = InboxSource(resolve_location(str(inbox)), max_bytes=2**20)
    items = {i.name: i for i in source.list_items()}
    assert set(items) == set(names), "listed, so they reach the quarantine with a reason"
    for item in items.values():
        assert Path(item.key).parent == inbox.resolve()
    assert items["a\nb.pdf"].error and items["report\u202efdp.pdf"].error


def test_a_symlink_out_of_the_inbox_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("root:x:0:0:root:/root:/bin/bash\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "passwd.txt").symlink_to(outside / "secret.txt")
    (inbox / "elsewhere").symlink_to(outside, target_is_directory=True)
    source = InboxSource(resolve_location(str(inbox)), max_bytes=2**20)
    for item in source.list_items():
        assert item.error, f"{item.key} is outside the inbox and must be refused"


def test_a_symlink_swapped_in_after_listing_or_as_a_sidecar_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("root:x:0:0:root:/root:/bin/bash\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "report.txt").write_text("研究报告正文" * 20, encoding="utf-8")
    (inbox / "report.txt.meta.json").symlink_to(outside / "secret.txt")
    (inbox / "later.txt").write_text("placeholder", encoding="utf-8")
    source = InboxSource(resolve_location(str(inbox)), max_bytes=2**20)
    items = {item.name: item for item in source.list_items()}
    fetched = source.fetch(items["report.txt"])
    assert fetched.metadata_error and "symbolic link out of the inbox" in fetched.metadata_error
    (inbox / "later.txt").unlink()
    (inbox / "later.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(BadInputError, match="symbolic link out of the inbox"):
        source.fetch(items["later.txt"])


# --- HTTP: configured hosts only, bounded in size and time ------------------------------------


@pytest.fixture
def site() -> Iterator[ListingServer]:
    with ListingServer() as server:
        yield server


def client_for(base: str, **overrides: Any) -> PoliteClient:
    options: dict[str, Any] = {
        "allowed_bases": [base],
        "timeout_s": 2.0,
        "retries": 0,
        "rate_per_s": 1000.0,
        "max_bytes": 2**20,
    }
    return PoliteClient(**{**options, **overrides})


@pytest.mark.parametrize(
    "url",
    [
        "{base}@evil.example/x",  # the configured host is only the user name
        "http://evil.example/?{base}",
        "http://localhost:{port}/x",  # the same machine, another name
        "http://127.0.0.1:{other}/x",  # the same host, another port
        "file:///etc/passwd",
        "ftp://127.0.0.1:{port}/x",
    ],
)
def test_urls_that_only_resemble_the_configured_host_are_never_requested(
    site: ListingServer, url: str
) -> None:
    port = site.base_url.rsplit(":", 1)[1]
    target = url.format(base=site.base_url, port=port, other=int(port) + 1)
    with client_for(site.base_url) as client, pytest.raises(BadInputError):
        client.get(target)
    assert site.requests == []


@pytest.mark.parametrize(
    "location",
    ["file:///etc/passwd", "//evil.example/x", "http://127.0.0.1:1/x", "data:text/plain,hi"],
)
def test_redirects_off_the_configured_host_are_refused(site: ListingServer, location: str) -> None:
    site.script("/r", redirect(location))
    with client_for(site.base_url) as client, pytest.raises(BadInputError, match="redirect"):
        client.get(f"{site.base_url}/r")
    assert [r.path for r in site.requests] == ["/r"]


def test_a_gzip_bomb_is_cut_off_at_the_size_limit(site: ListingServer) -> None:
    bomb = gzip.compress(b"\0" * (64 * 2**20))  # 64 MiB inflated, about 64 KiB on the wire
    headers = (("Content-Type", "application/pdf"), ("Content-Encoding", "gzip"))
    site.script("/bomb", Fault("body", headers=headers, body=bomb))
    with client_for(site.base_url) as client, pytest.raises(BadInputError, match="over the"):
        client.get(f"{site.base_url}/bomb")


class _Trickle(BaseHTTPRequestHandler):
    """Answers with a body that arrives one byte every 50 ms, for as long as anyone listens."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100000):
                self.wfile.write(b"%")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass


def test_a_body_trickling_in_under_the_read_timeout_is_cut_off_at_its_deadline() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        start = time.monotonic()
        with client_for(base, body_deadline_s=1.0) as client, pytest.raises(TransientError):
            client.get(f"{base}/slow.pdf")
        assert time.monotonic() - start < 5, "each read came within 2 s; the deadline held"
    finally:
        server.shutdown()
        server.server_close()


# --- HTML and PDF extraction: no entities, no network, no file access -------------------------

XXE_PAGE = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html [
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
  <!ENTITY remote SYSTEM "http://127.0.0.1:9/evil.dtd">
  <!ENTITY % param SYSTEM "http://127.0.0.1:9/param.dtd"> %param;
]>
<html><head><title>通信行业周报</title>
<link rel="stylesheet" href="http://127.0.0.1:9/x.css">
<script src="http://127.0.0.1:9/x.js"></script>
<meta http-equiv="refresh" content="0; url=http://127.0.0.1:9/">
</head><body><article><h1>通信行业周报：运营商资本开支稳中有降</h1>
<p>本周通信板块上涨1.2%。&xxe; &remote;</p>
<iframe src="http://127.0.0.1:9/frame"></iframe><img src="http://127.0.0.1:9/i.png">
<object data="file:///etc/passwd"></object><embed src="file:///etc/passwd">
<svg><image href="file:///etc/passwd"/></svg>
<p>风险提示：宏观经济波动风险。</p></article></body></html>
"""


@pytest.fixture
def no_io(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any connection and record file opens outside the Python installation."""
    seen: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        seen.append(f"network {args[1:] or kwargs}")
        raise OSError("network access during extraction")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    active = True

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if not active:
            return
        if event == "open" and args and "passwd" in str(args[0]):
            seen.append(f"open {args[0]}")
        elif event in {"subprocess.Popen", "os.system", "urllib.Request", "socket.connect"}:
            seen.append(f"{event} {args[:1]}")

    sys.addaudithook(audit)  # hooks cannot be removed: this one stops recording after the test
    yield seen
    active = False


@pytest.mark.parametrize("content_type", [None, "application/xhtml+xml"])
def test_html_with_external_entities_and_resources_stays_inert(
    no_io: list[str], content_type: str | None
) -> None:
    document = extract(XXE_PAGE.encode(), filename="report.html", content_type=content_type)
    assert "运营商资本开支" in document.text and "风险提示" in document.text
    assert "root:" not in document.text and "/bin/bash" not in document.text
    assert no_io == [], "extraction touched the network or a file"


def test_pdf_links_and_attachments_stay_inert(no_io: list[str]) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    for line in range(30):
        page.insert_text((72, 72 + 20 * line), f"Quarterly sector review, paragraph {line}.")
    target = pymupdf.Rect(0, 0, 99, 99)
    page.insert_link({"kind": pymupdf.LINK_URI, "uri": "http://127.0.0.1:9/x", "from": target})
    doc.embfile_add("passwd", b"root:x:0:0:root:/root:/bin/bash\n")
    doc.set_metadata({"title": "file:///etc/passwd"})
    document = extract(doc.tobytes(), filename="report.pdf")
    assert "Quarterly sector review" in document.text
    assert "root:x" not in document.text
    assert no_io == [], "extraction touched the network or a file"
