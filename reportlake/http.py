"""A small polite HTTP layer on httpx: allowed hosts only, rate limit, retries, size limit.

Every request of one ``PoliteClient`` shares its token bucket and its concurrency limit, so a
source that lists pages and downloads PDFs never exceeds the configured pace towards the
publisher. Redirects are followed by hand so that each hop is checked against the allow-list
before anything is sent to it.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

import httpx

from reportlake.errors import BadInputError, ConfigurationError, TransientError
from reportlake.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_REDIRECTS = 5
# A body must arrive within this many times the per-request timeout: the timeout alone bounds
# each read, so a server trickling a byte at a time could otherwise hold a download for days.
BODY_DEADLINE_FACTOR = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# 501/505 say the server will never do this; retrying them only adds load.
NOT_RETRYABLE_5XX = frozenset({501, 505})
DEFAULT_PORTS = {"http": 80, "https": 443}
USER_AGENT = "reportlake/0.1 (+research-report ingest; polite client)"


class Clock(Protocol):
    """Time as the client sees it: injectable so tests neither wait nor depend on the wall clock."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def time(self) -> float: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def time(self) -> float:
        return time.time()


class RetryableResponseError(TransientError):
    """A response arrived but its body is unusable (truncated, HTML): ask the server again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HttpResponse:
    """A fully read, size-checked response."""

    url: str  # the final URL, after redirects
    status: int
    headers: httpx.Headers
    content: bytes

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case ('' when absent)."""
        media: str = self.headers.get("content-type", "")
        return media.split(";")[0].strip().lower()


class TokenBucket:
    """Requests per second shared by threads: reserve a token under the lock, sleep outside it.

    Reservations may drive the level negative, which queues callers fairly instead of letting
    them race for each refilled token.
    """

    def __init__(self, rate_per_s: float, clock: Clock, *, capacity: float = 1.0) -> None:
        if rate_per_s <= 0:
            raise ConfigurationError("rate limit must be a positive number of requests per second")
        self.rate = rate_per_s
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._last = clock.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is available; return the seconds waited."""
        with self._lock:
            now = self._clock.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._clock.sleep(wait)
        return wait


def origin_of(url: httpx.URL) -> tuple[str, int]:
    """(host, port) with the scheme's default port filled in: the unit the allow-list compares."""
    port = url.port if url.port is not None else DEFAULT_PORTS.get(url.scheme, 0)
    return url.host.lower().rstrip("."), port


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta seconds or HTTP-date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means the zone was missing
        return None
    return max(0.0, when.timestamp() - now)


class _RetryableError(Exception):
    """One attempt failed in a way worth another try."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PoliteClient:
    """GET with an allow-list of hosts, a shared rate limit, retries with backoff, a size limit."""

    def __init__(
        self,
        *,
        allowed_bases: Iterable[str],
        timeout_s: float = 30.0,
        retries: int = 5,
        rate_per_s: float = 2.0,
        concurrency: int = 4,
        max_bytes: int = 50 * 2**20,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        retry_after_cap_s: float = 120.0,
        body_deadline_s: float | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.allowed = frozenset(allowed_origin(base) for base in allowed_bases)
        if not self.allowed:
            raise ConfigurationError("PoliteClient needs at least one allowed base URL")
        self.timeout_s = timeout_s
        self.body_deadline_s = (
            body_deadline_s if body_deadline_s is not None else BODY_DEADLINE_FACTOR * timeout_s
        )
        self.retries = retries
        self.max_bytes = max_bytes
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.retry_after_cap_s = retry_after_cap_s
        self.clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._bucket = TokenBucket(rate_per_s, self.clock)
        self._slots = threading.BoundedSemaphore(concurrency)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,  # each hop is checked against the allow-list below
            limits=httpx.Limits(max_connections=concurrency),
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        allowed_bases: Iterable[str],
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> PoliteClient:
        """A client paced and limited by the ``http_*`` settings."""
        return cls(
            allowed_bases=allowed_bases,
            timeout_s=settings.http_timeout_s,
            retries=settings.http_retries,
            rate_per_s=settings.http_rate_per_s,
            concurrency=settings.http_concurrency,
            max_bytes=int(settings.max_file_mb * 2**20),
            clock=clock,
            rng=rng,
        )

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        max_bytes: int | None = None,
        check_headers: Callable[[httpx.Response], None] | None = None,
    ) -> HttpResponse:
        """GET ``url``; raise BadInputError (4xx, refused host, too large) or TransientError."""
        return self.get_parsed(
            url, _identity, params=params, max_bytes=max_bytes, check_headers=check_headers
        )

    def get_parsed(
        self,
        url: str,
        parse: Callable[[HttpResponse], T],
        *,
        params: Mapping[str, str | int] | None = None,
        max_bytes: int | None = None,
        check_headers: Callable[[httpx.Response], None] | None = None,
    ) -> T:
        """GET and ``parse`` the response; a RetryableResponseError from ``parse`` is retried.

        ``check_headers`` sees the final response before its body is read, so a wrong content
        type is refused without downloading it.
        """
        try:
            start = httpx.URL(url, params=dict(params) if params else None)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise BadInputError(f"invalid URL {url!r}: {exc}", stage="fetch") from exc
        limit = self.max_bytes if max_bytes is None else max_bytes
        failures: Counter[str] = Counter()
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                with self._slots:
                    response = self._attempt(start, limit, check_headers)
                return parse(response)
            except RetryableResponseError as exc:
                reason, retry_after = exc.reason, None
            except _RetryableError as exc:
                reason, retry_after = exc.reason, exc.retry_after
            failures[reason] += 1
            if attempt + 1 < attempts:
                delay = self._backoff(attempt, retry_after)
                log.info(
                    "GET %s: %s; retry %d/%d in %.2fs",
                    start,
                    reason,
                    attempt + 1,
                    self.retries,
                    delay,
                )
                self.clock.sleep(delay)
        what = ", ".join(f"{reason} x{n}" for reason, n in failures.most_common())
        raise TransientError(f"GET {start} failed {attempts} times ({what}); giving up for now")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter (AWS architecture blog): spreads retries of many clients apart."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap_s)
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2**attempt)
        return self._rng.uniform(0.0, ceiling)

    def _attempt(
        self,
        start: httpx.URL,
        limit: int,
        check_headers: Callable[[httpx.Response], None] | None,
    ) -> HttpResponse:
        url = start
        for _hop in range(MAX_REDIRECTS + 1):
            self._require_allowed(url)
            self._bucket.acquire()
            try:
                with self._client.stream("GET", url) as response:
                    status = response.status_code
                    if status in REDIRECT_STATUSES:
                        url = self._redirect_target(url, response.headers.get("location"))
                        continue
                    if status == 429 or (status >= 500 and status not in NOT_RETRYABLE_5XX):
                        wait = parse_retry_after(
                            response.headers.get("retry-after"), now=self.clock.time()
                        )
                        raise _RetryableError(f"HTTP {status}", wait)
                    if status >= 400:
                        raise BadInputError(
                            f"GET {url} answered HTTP {status} {response.reason_phrase}",
                            stage="fetch",
                        )
                    if check_headers is not None:
                        check_headers(response)
                    content = self._read_limited(response, limit, url)
                    return HttpResponse(str(url), status, response.headers, content)
            except httpx.InvalidURL as exc:
                # httpx prepares the next request even when not following, so a Location it
                # cannot turn into a URL (``javascript:alert(1)``) surfaces here.
                raise BadInputError(
                    f"GET {url}: refused redirect to an unusable Location ({exc})", stage="fetch"
                ) from exc
            except httpx.TimeoutException as exc:
                raise _RetryableError(
                    f"{type(exc).__name__} (timeout {self.timeout_s:g}s)"
                ) from exc
            except (httpx.TransportError, httpx.DecodingError) as exc:
                raise _RetryableError(f"{type(exc).__name__}: {exc}") from exc
        raise BadInputError(
            f"GET {start}: more than {MAX_REDIRECTS} redirects, last to {url}", stage="fetch"
        )

    def _require_allowed(self, url: httpx.URL) -> None:
        if url.scheme not in ("http", "https"):
            raise BadInputError(f"refused {url.scheme}: URL {url}", stage="fetch")
        if origin_of(url) not in self.allowed:
            raise BadInputError(
                f"refused request to {url.host}:{origin_of(url)[1]}, which is not one of the "
                "configured hosts",
                stage="fetch",
            )

    def _redirect_target(self, current: httpx.URL, location: str | None) -> httpx.URL:
        if not location:
            raise BadInputError(f"GET {current}: redirect without a Location", stage="fetch")
        try:
            target = current.join(location.strip())
        except (httpx.InvalidURL, ValueError) as exc:
            raise BadInputError(
                f"GET {current}: invalid redirect target {location!r}", stage="fetch"
            ) from exc
        if target.scheme not in ("http", "https") or origin_of(target) not in self.allowed:
            raise BadInputError(
                f"GET {current}: refused redirect to {location!r} (only the configured hosts "
                "are fetched)",
                stage="fetch",
            )
        return target

    def _read_limited(self, response: httpx.Response, limit: int, url: httpx.URL) -> bytes:
        """Read the body, refusing it once it exceeds ``limit`` bytes (decoded) or its deadline.

        Sizes count decoded bytes, so a small gzip body that inflates past the limit is cut
        off as early as a large plain one.
        """
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BadInputError(_too_large(url, int(declared), limit, "declares"), stage="fetch")
        deadline = self.clock.monotonic() + self.body_deadline_s
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_bytes():  # as it arrives: limits apply to every read
            total += len(chunk)
            if total > limit:
                # Leaving the stream context closes the connection: the rest is never sent.
                raise BadInputError(_too_large(url, total, limit, "sent over"), stage="fetch")
            if self.clock.monotonic() > deadline:
                raise _RetryableError(
                    f"body still incomplete after {self.body_deadline_s:g}s ({total} bytes)"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _identity(response: HttpResponse) -> HttpResponse:
    return response


def allowed_origin(base: str) -> tuple[str, int]:
    """The (host, port) of a configured base URL; raise ConfigurationError if it is not http(s)."""
    try:
        url = httpx.URL(base)
    except httpx.InvalidURL as exc:
        raise ConfigurationError(f"base URL {base!r} is not a URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base URL {base!r} must be http(s)://host[:port][/path]")
    return origin_of(url)


def _too_large(url: httpx.URL, size: int, limit: int, verb: str) -> str:
    return (
        f"GET {url} {verb} {size / 2**20:.1f} MiB, over the {limit / 2**20:.1f} MiB limit "
        "(REPORTLAKE_MAX_FILE_MB): check it is a single report"
    )
