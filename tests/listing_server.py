"""A local stand-in for the Eastmoney listing API and PDF host, with scriptable faults.

``ListingServer`` serves ``/report/list`` (paged newest first, filtered by qType and
beginTime/endTime, optional ``cb=`` JSONP) and ``/pdf/H3_{infoCode}_1.pdf`` (sample PDFs from
examples/inbox, assigned to infoCodes by a stable hash) on 127.0.0.1. Tests script faults per
path (``server.script(path, fault, None, fault)``: one entry per request, None = serve
normally), run callbacks after the n-th request to a path (to reshuffle pages between
requests), and read ``server.requests`` to check pacing, retries and hosts.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import sys
import threading
import time
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

REPO = Path(__file__).resolve().parent.parent
LISTING_FIXTURE = REPO / "tests" / "fixtures" / "eastmoney" / "industry_list_insurance_2023-05.json"
SAMPLE_PDFS = sorted((REPO / "examples" / "inbox").glob("*.pdf"))


def fixture_records() -> list[dict[str, Any]]:
    """The 50 real industry-report records (qType 1), newest first as the API sent them."""
    payload = json.loads(LISTING_FIXTURE.read_text(encoding="utf-8"))
    return list(payload["data"])


def make_record(
    info_code: str,
    publish_date: dt.date | str,
    *,
    title: str | None = None,
    org: str = "中信证券",
    industry: str = "银行",
    rating: str = "买入",
    rating_change: int | str = 3,
    researcher: str = "张三,李四",
    **extra: Any,
) -> dict[str, Any]:
    """A generated record shaped like the real ones (same keys), with the given values."""
    record = copy.deepcopy(fixture_records()[0])
    day = publish_date if isinstance(publish_date, str) else publish_date.isoformat()
    names = [n for n in researcher.split(",") if n]
    record.update(
        title=title if title is not None else f"生成的研究报告 {info_code}",
        orgSName=org,
        orgName=f"{org}股份有限公司",
        publishDate=f"{day} 00:00:00.000",
        infoCode=info_code,
        industryName=industry,
        sRatingName=rating,
        emRatingName="",
        ratingChange=rating_change,
        researcher=researcher,
        author=[f"1100000000{i}.{n}" for i, n in enumerate(names)],
        encodeUrl=f"generated-{info_code}",
    )
    record.update(extra)
    return record


@dataclass(frozen=True)
class Fault:
    """One scripted answer instead of the normal one."""

    kind: str  # status | hang | body | redirect | cut | stream
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    seconds: float = 0.0
    declared_length: int | None = None  # Content-Length to announce for "body"/"cut"
    total_bytes: int = 0  # for "stream": bytes to send in chunks (no Content-Length)


def status(code: int, *, retry_after: str | None = None) -> Fault:
    """Answer ``code`` (with ``Retry-After`` if given)."""
    headers = (("Retry-After", retry_after),) if retry_after is not None else ()
    return Fault("status", status=code, headers=headers, body=f"HTTP {code}".encode())


def hang(seconds: float) -> Fault:
    """Say nothing for ``seconds`` (past the client's timeout), then serve normally."""
    return Fault("hang", seconds=seconds)


def body(content: bytes, content_type: str, *, code: int = 200) -> Fault:
    """Answer with these bytes."""
    return Fault("body", status=code, headers=(("Content-Type", content_type),), body=content)


def truncated_json() -> Fault:
    """A listing body cut in the middle (well-formed HTTP, broken JSON)."""
    return body(LISTING_FIXTURE.read_bytes()[:1000], "application/json")


def cut_connection() -> Fault:
    """Announce more bytes than are sent, then close: the client sees a broken body."""
    content = LISTING_FIXTURE.read_bytes()[:1000]
    return Fault("cut", headers=(("Content-Type", "application/json"),), body=content,
                 declared_length=len(content) * 10)  # fmt: skip


def html_page() -> Fault:
    """An HTML page (a portal, an anti-bot check) where JSON or a PDF was expected."""
    page = "<!DOCTYPE html><html><body><h1>访问过于频繁</h1></body></html>".encode()
    return body(page, "text/html; charset=utf-8")


def redirect(location: str, *, code: int = 302) -> Fault:
    """Redirect to ``location``."""
    return Fault("redirect", status=code, headers=(("Location", location),))


def huge(total_bytes: int, *, declare_length: bool) -> Fault:
    """A PDF of ``total_bytes``: declared up front, or streamed in chunks without a length."""
    if declare_length:
        return Fault("body", headers=(("Content-Type", "application/pdf"),), body=b"%PDF-1.7\n",
                     declared_length=total_bytes)  # fmt: skip
    return Fault("stream", headers=(("Content-Type", "application/pdf"),), total_bytes=total_bytes)


@dataclass(frozen=True)
class RecordedRequest:
    """What the server received."""

    at: float  # time.monotonic() on arrival
    path: str
    query: dict[str, str]
    host: str


@dataclass
class StreamLog:
    """How far a streamed body got before the client went away."""

    path: str
    total: int
    sent: int = 0
    aborted: bool = False


@dataclass
class _State:
    records: dict[int, list[dict[str, Any]]]
    pdfs: list[bytes]
    scripts: dict[str, deque[Fault | None]] = field(default_factory=lambda: defaultdict(deque))
    hooks: dict[tuple[str, int], list[Callable[[], None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    requests: list[RecordedRequest] = field(default_factory=list)
    streams: list[StreamLog] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    def pdf_for(self, info_code: str) -> bytes:
        """A sample PDF made unique by a trailing comment: one report, one file, as on the host."""
        sample = self.pdfs[zlib.crc32(info_code.encode()) % len(self.pdfs)]
        return sample + b"\n% listing test copy of " + info_code.encode() + b"\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout under test) is expected; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ListingServer:
    """The listing API and PDF host on 127.0.0.1:<free port>, in a thread."""

    def __init__(
        self,
        records: dict[int, list[dict[str, Any]]] | None = None,
        pdfs: Iterable[bytes] | None = None,
    ) -> None:
        self.state = _State(
            records={k: list(v) for k, v in (records or {1: fixture_records()}).items()},
            pdfs=list(pdfs) if pdfs is not None else [p.read_bytes() for p in SAMPLE_PDFS],
        )
        state = self.state

        class Handler(_Handler):
            shared = state

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ListingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.release.set()  # wake hanging handlers so they end with the server
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # --- scripting -------------------------------------------------------------------------

    def script(self, path: str, *answers: Fault | None) -> None:
        """Answer the next requests to ``path`` with these faults in order (None = normally)."""
        with self.state.lock:
            self.state.scripts[path].extend(answers)

    def after_request(self, path: str, n: int, action: Callable[[], None]) -> None:
        """Run ``action`` once the ``n``-th request (1-based) to ``path`` has been answered."""
        with self.state.lock:
            self.state.hooks[(path, n)].append(action)

    def move(self, info_code: str, to_index: int, *, qtype: int = 1) -> None:
        """Move a record to another position of the newest-first listing."""
        with self.state.lock:
            rows = self.state.records[qtype]
            index = next(i for i, r in enumerate(rows) if r.get("infoCode") == info_code)
            rows.insert(to_index, rows.pop(index))

    def insert(self, record: dict[str, Any], index: int = 0, *, qtype: int = 1) -> None:
        """Add a record (a report published while a client pages through the listing)."""
        with self.state.lock:
            self.state.records[qtype].insert(index, record)

    def records(self, qtype: int = 1) -> list[dict[str, Any]]:
        """The current listing of ``qtype``, newest first."""
        with self.state.lock:
            return list(self.state.records.get(qtype, []))

    def pdf_for(self, info_code: str) -> bytes:
        """The PDF bytes served for ``info_code``: a sample PDF, made unique by a trailing comment.

        Each report is its own file, as on the real host (distinct bytes, distinct report_id).
        """
        return self.state.pdf_for(info_code)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    @property
    def streams(self) -> list[StreamLog]:
        with self.state.lock:
            return list(self.state.streams)


class _Handler(BaseHTTPRequestHandler):
    shared: _State
    protocol_version = "HTTP/1.1"  # keep-alive, like the real hosts
    # Headers and body go out in separate writes: with Nagle on, each answer waits ~20-40 ms
    # for the client's delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        state = self.shared
        with state.lock:
            state.requests.append(
                RecordedRequest(time.monotonic(), path, query, self.headers.get("Host", ""))
            )
            state.counts[path] += 1
            n = state.counts[path]
            queue = state.scripts.get(path)
            fault = queue.popleft() if queue else None
        if fault is not None and fault.kind == "hang":
            state.release.wait(fault.seconds)
            fault = None
            self.close_connection = True
        # The answer is built before the hooks run and sent after them, so a hook's change
        # (a reshuffle) is visible to the very next request, whichever connection it uses.
        answer = self._build(path, query) if fault is None else None
        with state.lock:
            hooks = state.hooks.pop((path, n), [])
        for hook in hooks:
            hook()
        try:
            if answer is not None:
                self._send(*answer)
            elif fault is not None and fault.kind == "stream":
                self._stream(path, fault)
            elif fault is not None:
                self._send(fault.status, fault.body, dict(fault.headers), fault.declared_length)
                if fault.kind == "cut":
                    self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _build(self, path: str, query: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        if path == "/report/list":
            payload = json.dumps(self._page(query), ensure_ascii=False).encode()
            callback = query.get("cb")
            if callback:
                wrapped = callback.encode() + b"(" + payload + b");"
                return 200, wrapped, {"Content-Type": "application/javascript"}
            return 200, payload, {"Content-Type": "application/json; charset=utf-8"}
        name = path.removeprefix("/pdf/")
        if name.startswith("H3_") and name.endswith("_1.pdf"):
            code = name[3 : -len("_1.pdf")]
            with self.shared.lock:
                known = any(
                    r.get("infoCode") == code for rows in self.shared.records.values() for r in rows
                )
            if known:
                return 200, self.shared.pdf_for(code), {"Content-Type": "application/pdf"}
        return 404, b"not found", {"Content-Type": "text/plain"}

    def _page(self, query: dict[str, str]) -> dict[str, Any]:
        qtype = int(query.get("qType") or 0)
        size = int(query.get("pageSize") or 50)
        page_no = int(query.get("pageNo") or 1)
        begin, end = query.get("beginTime") or "0000", query.get("endTime") or "9999"
        with self.shared.lock:
            rows = [
                r
                for r in self.shared.records.get(qtype, [])
                if begin <= str(r.get("publishDate") or "")[:10] <= end
            ]
        data = rows[(page_no - 1) * size : page_no * size]
        return {
            "hits": len(rows),
            "size": len(data),
            "data": data,
            "TotalPage": math.ceil(len(rows) / size),
            "pageNo": page_no,
            "currentYear": dt.date.today().year,
        }

    def _send(
        self, code: int, content: bytes, headers: dict[str, str], length: int | None = None
    ) -> None:
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content) if length is None else length))
        self.end_headers()
        self.wfile.write(content)

    def _stream(self, path: str, fault: Fault) -> None:
        log = StreamLog(path, fault.total_bytes)
        with self.shared.lock:
            self.shared.streams.append(log)
        self.send_response(200)
        for name, value in fault.headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"%PDF-1.7\n" + b"0" * (64 * 1024 - 9)
        self.close_connection = True
        try:
            while log.sent < fault.total_bytes:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                log.sent += len(chunk)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            log.aborted = True
