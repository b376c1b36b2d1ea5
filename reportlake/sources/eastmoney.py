"""The eastmoney source: the research-report listing API (what AKShare's report helpers wrap).

Listing strategy (pages shift while we read them): the API lists newest first, so a report
published during a run pushes every record one place down, and a record whose sort position
changes moves between pages. We read a qType's pages in one *sweep* and call the sweep unstable
when a page repeats a record seen earlier in the same sweep or ``hits``/``TotalPage`` change.
Each of these is the visible trace of a shift that may have hidden a record behind a page
boundary, so an unstable sweep is followed by another full sweep (at most ``MAX_SWEEPS``) that
yields only records not yet yielded. A stable sweep costs nothing extra; records are
deduplicated by ``infoCode`` across pages, sweeps and qTypes.

Records that cannot be used (no infoCode, title or publish date, or an infoCode that is not a
plain id and so could point the PDF URL at another scheme or host) are not dropped: they are
listed with ``error`` set to the reason (and no metadata), and ``fetch`` raises MetadataError
with it, so the pipeline quarantines them like any other bad input.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
from pydantic import ValidationError

from reportlake.errors import BadInputError, MetadataError
from reportlake.http import HttpResponse, PoliteClient, RetryableResponseError, allowed_origin
from reportlake.models import RatingAction, SourceMetadata, field_problems
from reportlake.settings import Settings
from reportlake.sources import FetchedItem, SourceItem, Window
from reportlake.vocab import canonical_broker

log = logging.getLogger(__name__)

LIST_PATH = "/report/list"
MARKET_TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_WINDOW_DAYS = 7
MAX_SWEEPS = 3
MAX_PAGES = 1000  # a server that keeps announcing more pages must not keep us forever
# The API's ratingChange codes; 4 means "no change given" and maps to None like unknown codes.
RATING_CHANGES: dict[str, RatingAction] = {"0": "上调", "1": "下调", "2": "首次", "3": "维持"}
PDF_TYPES = frozenset({"application/pdf", "application/x-pdf", "application/octet-stream", ""})
# infoCode becomes part of a URL path and a file name: only plain ids are safe there.
INFO_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
JSONP = re.compile(r"^\s*[A-Za-z_$][\w$.]*\s*\((?P<body>.*)\)\s*;?\s*$", re.DOTALL)


class ListingFormatError(ValueError):
    """A listing page body is not the JSON the API promises (truncated, HTML, no ``data``)."""


@dataclass(frozen=True)
class ListingPage:
    """One page of the listing API."""

    records: list[dict[str, Any]]
    page_no: int
    total_pages: int
    hits: int


def parse_listing_page(payload: str | bytes) -> ListingPage:
    """Parse one listing response (JSON or ``cb(...)`` JSONP); raise ListingFormatError."""
    text = payload.decode("utf-8-sig", errors="replace") if isinstance(payload, bytes) else payload
    stripped = text.strip()
    if not stripped:
        raise ListingFormatError("listing body is empty")
    if stripped.startswith("<"):
        raise ListingFormatError("listing returned an HTML page instead of JSON")
    if not stripped.startswith(("{", "[")):
        match = JSONP.match(stripped)
        if match is None:
            raise ListingFormatError(f"listing body is neither JSON nor JSONP: {stripped[:40]!r}")
        stripped = match.group("body")
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise ListingFormatError(f"listing body is not valid JSON (truncated?): {exc}") from exc
    if not isinstance(value, dict):
        raise ListingFormatError(f"listing JSON is a {type(value).__name__}, not an object")
    hits = _int(value.get("hits"))
    data = value.get("data")
    if data is None and hits == 0:
        data = []  # an empty result may come without a data array
    if not isinstance(data, list):
        raise ListingFormatError("listing page has no data array")
    records = [r for r in data if isinstance(r, dict)]
    if len(records) != len(data):
        raise ListingFormatError("listing data holds entries that are not objects")
    return ListingPage(
        records=records,
        page_no=_int(value.get("pageNo")) or 1,
        total_pages=_int(value.get("TotalPage")),
        hits=hits,
    )


def listing_records(payload: str | bytes) -> list[dict[str, Any]]:
    """The records of one listing response."""
    return parse_listing_page(payload).records


def record_metadata(record: Mapping[str, Any], pdf_url: str) -> SourceMetadata:
    """Map one listing record to SourceMetadata; raise MetadataError when it is unusable."""
    info_code = _text(record.get("infoCode"))
    if info_code is None:
        raise MetadataError("listing record has no infoCode")
    title = _text(record.get("title"))
    if title is None:
        raise MetadataError(f"listing record {info_code} has no title")
    published = _text(record.get("publishDate"))
    if published is None:
        raise MetadataError(f"listing record {info_code} has no publishDate")
    try:
        publish_date = dt.date.fromisoformat(published[:10])
    except ValueError as exc:
        raise MetadataError(
            f"listing record {info_code} has an unreadable publishDate {published!r}"
        ) from exc
    broker = _text(record.get("orgSName")) or _text(record.get("orgName"))
    try:
        return SourceMetadata(
            title=title,
            broker=canonical_broker(broker) if broker else None,
            publish_date=publish_date,
            source_url=pdf_url,
            industry=_text(record.get("industryName")) or _text(record.get("indvInduName")),
            rating=_text(record.get("sRatingName")) or _text(record.get("emRatingName")),
            rating_action=RATING_CHANGES.get(_text(record.get("ratingChange")) or ""),
            authors=record_authors(record),
            source_id=info_code,
        )
    except ValidationError as exc:
        raise MetadataError(
            f"listing record {info_code} has invalid fields: {field_problems(exc)}"
        ) from exc


def record_authors(record: Mapping[str, Any]) -> list[str]:
    """Names from ``researcher`` ("a,b"), else from ``author`` (["<id>.<name>", ...])."""
    researcher = _text(record.get("researcher"))
    if researcher:
        names = re.split(r"[,，、;；]", researcher)
    else:
        raw = record.get("author")
        entries = raw if isinstance(raw, list) else []
        names = [str(e).split(".", 1)[1] if "." in str(e) else str(e) for e in entries]
    unique: dict[str, None] = {}
    for name in names:
        if name.strip():
            unique[name.strip()] = None
    return list(unique)


def pdf_url_for(pdf_base: str, info_code: str) -> str:
    """Where the API's PDF for ``info_code`` lives."""
    return f"{pdf_base.rstrip('/')}/pdf/H3_{info_code}_1.pdf"


class EastmoneySource:
    """Reports listed by the Eastmoney research-report API, PDFs fetched from its PDF host."""

    name = "eastmoney"
    remote = True

    def __init__(
        self,
        settings: Settings,
        client: PoliteClient | None = None,
        *,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        self.api_base = settings.eastmoney_api_base.rstrip("/")
        self.pdf_base = settings.eastmoney_pdf_base.rstrip("/")
        for base in (self.api_base, self.pdf_base):
            allowed_origin(base)  # fail before any request when a base URL is not http(s)
        self.page_size = settings.eastmoney_page_size
        self.qtypes = list(settings.eastmoney_qtypes)
        self.max_bytes = int(settings.max_file_mb * 2**20)
        self._owns_client = client is None
        self.client = client or PoliteClient.from_settings(
            settings, allowed_bases=[self.api_base, self.pdf_base]
        )
        self._today = today or (lambda: dt.datetime.now(MARKET_TZ).date())

    def close(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._owns_client:
            self.client.close()

    def window_dates(self, window: Window | None) -> tuple[dt.date, dt.date]:
        """The inclusive (begin, end) dates sent; open bounds default to the last 7 days."""
        until = window.until if window and window.until else self._today()
        if window and window.since:
            return window.since, until
        return until - dt.timedelta(days=DEFAULT_WINDOW_DAYS), until

    def list_items(self, window: Window | None = None) -> Iterator[SourceItem]:
        since, until = self.window_dates(window)
        yielded: set[str] = set()
        for qtype in self.qtypes:
            for sweep in range(1, MAX_SWEEPS + 1):
                stable = yield from self._sweep(qtype, since, until, yielded)
                if stable:
                    break
                if sweep == MAX_SWEEPS:
                    # Whatever is still hidden is re-listed by the next run's lookback window.
                    log.warning(
                        "eastmoney qType %s: listing still shifting after %d sweeps", qtype, sweep
                    )
                else:
                    log.info("eastmoney qType %s: listing shifted during sweep %d", qtype, sweep)

    def fetch(self, item: SourceItem) -> FetchedItem:
        if item.error:
            raise MetadataError(item.error)
        if item.metadata is None:
            raise MetadataError("item carries no listing metadata: list the source again")
        response = self.client.get(
            item.uri, max_bytes=self.max_bytes, check_headers=_require_pdf_type
        )
        if b"%PDF-" not in response.content[:1024]:
            raise BadInputError(
                f"{item.uri} is not a PDF (no %PDF header, starts {response.content[:16]!r})",
                stage="fetch",
            )
        return FetchedItem(item=item, data=response.content, metadata=item.metadata)

    def _sweep(
        self, qtype: int, since: dt.date, until: dt.date, yielded: set[str]
    ) -> Generator[SourceItem, None, bool]:
        """Yield unseen items of one pass over all pages; return whether the listing held still."""
        seen: set[str] = set()
        stable = True
        first: ListingPage | None = None
        page_no, total_pages = 1, 1
        while page_no <= min(total_pages, MAX_PAGES):
            page = self._page(qtype, since, until, page_no)
            if first is None:
                first = page
            elif (page.hits, page.total_pages) != (first.hits, first.total_pages):
                stable = False
            total_pages = max(total_pages, page.total_pages)
            if not page.records and page_no > 1:
                stable = False  # the listing shrank under us
                break
            for record in page.records:
                item = self._item(record)
                if item.key in seen:
                    stable = False
                    continue
                seen.add(item.key)
                if item.key not in yielded:
                    yielded.add(item.key)
                    yield item
            page_no += 1
        return stable

    def _page(self, qtype: int, since: dt.date, until: dt.date, page_no: int) -> ListingPage:
        params: dict[str, str | int] = {
            "industryCode": "*",
            "pageSize": self.page_size,
            "industry": "*",
            "rating": "*",
            "ratingChange": "*",
            "beginTime": since.isoformat(),
            "endTime": until.isoformat(),
            "pageNo": page_no,
            "fields": "",
            "qType": qtype,
            "orgCode": "",
            "code": "*",
        }
        return self.client.get_parsed(self.api_base + LIST_PATH, _parse_response, params=params)

    def _item(self, record: Mapping[str, Any]) -> SourceItem:
        info_code = _text(record.get("infoCode"))
        version = _text(record.get("updateTime")) or _text(record.get("publishDate"))
        if info_code is None or not INFO_CODE.fullmatch(info_code):
            # No usable id (a "javascript:..." or "//other.host/..." infoCode would also make a
            # PDF URL off the configured host): key the record by its content so reruns
            # quarantine it once.
            digest = hashlib.sha256(
                json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode()
            ).hexdigest()[:16]
            key = f"record-{digest}"
            reason = (
                "listing record has no infoCode"
                if info_code is None
                else f"listing record has an infoCode that is not a plain id: {info_code[:80]!r}"
            )
            return SourceItem(
                uri=f"{self.api_base}{LIST_PATH}#{key}",
                name=f"{key}.pdf",
                key=key,
                version=version,
                error=reason,
            )
        uri = pdf_url_for(self.pdf_base, info_code)
        try:
            metadata = record_metadata(record, uri)
        except MetadataError as exc:
            return SourceItem(
                uri=uri, name=f"{info_code}.pdf", key=info_code, version=version, error=exc.reason
            )
        return SourceItem(
            uri=uri, name=f"{info_code}.pdf", key=info_code, metadata=metadata, version=version
        )


def _parse_response(response: HttpResponse) -> ListingPage:
    try:
        return parse_listing_page(response.content)
    except ListingFormatError as exc:
        raise RetryableResponseError(str(exc)) from exc


def _require_pdf_type(response: httpx.Response) -> None:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "text/html":
        raise BadInputError("server returned an HTML page instead of the PDF", stage="fetch")
    if media not in PDF_TYPES:
        raise BadInputError(f"server returned {media} instead of a PDF", stage="fetch")


def _text(value: object) -> str | None:
    """A stripped non-empty string, or None (the API uses "" and null for missing)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(value: object) -> int:
    try:
        return int(cast(Any, value))
    except (TypeError, ValueError):
        return 0
