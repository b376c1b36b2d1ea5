"""A fault-injecting HTTP proxy in front of an S3 endpoint (moto's server), on 127.0.0.1.

Clients are pointed at ``proxy.url`` instead of the store. A chosen share of the requests
(seeded) gets a fault instead of the store's answer:

- ``500``: ``InternalError``; ``503``: ``ServiceUnavailable``; ``slowdown``: 503 ``SlowDown``,
  each with S3's XML error body and without reaching the store;
- ``reset``: the connection is reset before the request reaches the store;
- ``reset-after``: the store applies the request, then the connection is reset instead of
  answering (the client cannot tell whether its write happened);
- ``delay``: the store's answer arrives late.

``configure(rate=..., kinds=..., seed=...)`` changes that at any time (rate 0: a plain proxy);
``script(kind, ...)`` gives the next requests these faults, whatever the rate.
``stop_after(n)`` lets ``n`` more requests through and then goes away (the listening socket
closes, open connections are reset); ``stop()`` does that at once, ``restart()`` listens again
on the same port. ``stats`` counts requests, faults by kind and the access key ids that signed
the requests (from ``Authorization``; never a secret, which a request does not carry).
"""

from __future__ import annotations

import http.client
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
FAULT_KINDS = ("500", "503", "slowdown", "reset", "reset-after", "delay")
_ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "ServiceUnavailable", "Service is unable to handle request."),
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
}
# Never forwarded as they are: they describe one hop, not the request.
_HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "content-length",
}


@dataclass
class ProxyStats:
    requests: int = 0
    forwarded: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    access_keys: Counter[str] = field(default_factory=Counter)

    @property
    def injected(self) -> int:
        return sum(self.faults.values())


class FaultProxy:
    """The proxy; use as a context manager or call ``start()``/``stop()``."""

    def __init__(self, upstream: str, *, seed: int = 0) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rate = 0.0
        self.kinds: tuple[str, ...] = FAULT_KINDS
        self.delay_s = (0.02, 0.2)
        self.stats = ProxyStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._down = threading.Event()
        self._left: int | None = None  # requests still let through before going away
        self._script: list[str] = []  # faults for the next requests, in order
        self._port = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def configure(
        self,
        rate: float,
        *,
        kinds: tuple[str, ...] = FAULT_KINDS,
        seed: int | None = None,
        delay_s: tuple[float, float] | None = None,
    ) -> None:
        """Give ``rate`` of the requests one of ``kinds`` (uniformly) from now on."""
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        with self._lock:
            self.rate, self.kinds = rate, tuple(kinds)
            if seed is not None:
                self._rng = random.Random(seed)
            if delay_s is not None:
                self.delay_s = delay_s

    def script(self, *kinds: str) -> None:
        """Answer the next ``len(kinds)`` requests with these faults."""
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        with self._lock:
            self._script.extend(kinds)

    def reset_stats(self) -> ProxyStats:
        with self._lock:
            stats, self.stats = self.stats, ProxyStats()
        return stats

    def start(self) -> FaultProxy:
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._httpd.daemon_threads = True
        self._port = int(self._httpd.server_address[1])
        self._down.clear()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go away: refuse new connections, reset the open ones."""
        self._down.set()
        with self._lock:
            httpd, self._httpd = self._httpd, None
            thread, self._thread = self._thread, None
        self._close(httpd, thread)

    @staticmethod
    def _close(httpd: ThreadingHTTPServer | None, thread: threading.Thread | None) -> None:
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def restart(self) -> None:
        """Listen again on the same port."""
        self.stop()
        with self._lock:
            self._left = None
        self.start()

    def stop_after(self, requests: int) -> None:
        """Let ``requests`` more requests through, then go away (see :meth:`stop`)."""
        with self._lock:
            self._left = requests

    @property
    def is_down(self) -> bool:
        return self._down.is_set()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- used by the handler ----------------------------------------------------------------

    def _decide(self, authorization: str) -> str | None:
        """The fault for the next request (None: forward it), or "down"."""
        signed = _CREDENTIAL.search(authorization)
        with self._lock:
            self.stats.requests += 1
            self.stats.access_keys[signed.group(1) if signed else "(unsigned)"] += 1
            if self._down.is_set():
                return "down"
            if self._left is not None:
                if self._left <= 0:
                    self._down.set()
                    httpd, self._httpd = self._httpd, None
                    thread, self._thread = self._thread, None
                    # Not in this thread: shutdown() waits for the serving loop.
                    threading.Thread(target=self._close, args=(httpd, thread), daemon=True).start()
                    return "down"
                self._left -= 1
            kind: str | None = None
            if self._script:
                kind = self._script.pop(0)
            elif self.rate and self._rng.random() < self.rate:
                kind = self._rng.choice(self.kinds)
            if kind is not None:
                self.stats.faults[kind] += 1
            return kind

    def _delay(self) -> float:
        with self._lock:
            return self._rng.uniform(*self.delay_s)


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    _conn: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self._read_body()
        fault = self.proxy._decide(self.headers.get("Authorization") or "")
        if fault in ("down", "reset"):
            self._reset()
            return
        if fault in _ERRORS:
            status, code, message = _ERRORS[fault]
            self._send_error_xml(status, code, message)
            return
        try:
            status, headers, content = self._forward(body)
        except OSError:
            self._reset()
            return
        with self.proxy._lock:
            self.proxy.stats.forwarded += 1
        if fault == "reset-after":
            self._reset()
            return
        if fault == "delay":
            time.sleep(self.proxy._delay())
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_HEADERS:
                self.send_header(name, value)
        length = dict((k.lower(), v) for k, v in headers).get("content-length")
        if self.command == "HEAD":
            self.send_header("Content-Length", length or "0")
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _upstream(self) -> http.client.HTTPConnection:
        """This client connection's own connection to the store, kept alive like the client's."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(*self.proxy.upstream, timeout=30)
        return self._conn

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._conn is not None:
                self._conn.close()

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed
            conn = self._upstream()
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                content = response.read()
                return response.status, response.getheaders(), content
            except (http.client.HTTPException, OSError):
                conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _send_error_xml(self, status: int, code: str, message: str) -> None:
        content = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>fault-{time.monotonic_ns()}</RequestId><HostId>fault-proxy</HostId>"
            "</Error>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        if self.command == "HEAD":
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def _reset(self) -> None:
        """Abort the connection with a TCP reset (SO_LINGER 0), as a dying server does."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
