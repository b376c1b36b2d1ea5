"""The eastmoney source and the polite HTTP client, against a real listing server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email.utils
import pickle
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reportlake.errors import BadInputError, ConfigurationError, MetadataError, TransientError
from reportlake.http import PoliteClient, parse_retry_after
from reportlake.settings import Settings
from reportlake.sources import SourceItem, Window
from reportlake.sources.eastmoney import (
    EastmoneySource,
    ListingFormatError,
    listing_records,
    parse_listing_page,
    record_authors,
    record_metadata,
)
from tests.listing_server import (
    LISTING_FIXTURE,
    ListingServer,
    body,
    cut_connection,
    fixture_records,
    hang,
    html_page,
    huge,
    make_record,
    redirect,
    status,
    truncated_json,
)

LIST = "/report/list"
TODAY = dt.date(2023, 5, 14)  # the fixture's newest record
ALL_OF_FIXTURE = Window(dt.date(2023, 2, 1), dt.date(2023, 5, 14))


class FakeClock:
    """Time that only moves when the client sleeps: tests never wait for backoff or pacing."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()
        self._wall = time.time()

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)

    def time(self) -> float:
        return self._wall + self.now


@pytest.fixture
def server() -> Iterator[ListingServer]:
    with ListingServer() as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


SourceFactory = Callable[..., EastmoneySource]


@pytest.fixture
def make_source(server: ListingServer, clock: FakeClock) -> Iterator[SourceFactory]:
    """Build an EastmoneySource on the local server; keyword arguments override settings."""
    clients: list[PoliteClient] = []

    def build(**overrides: Any) -> EastmoneySource:
        values: dict[str, Any] = {
            "eastmoney_api_base": server.base_url,
            "eastmoney_pdf_base": server.base_url,
            "eastmoney_page_size": 20,
            "eastmoney_qtypes": [1],
            "http_timeout_s": 5.0,
            "http_retries": 3,
            "http_rate_per_s": 2.0,
            "max_file_mb": 1.0,
        }
        values.update(overrides)
        settings = Settings(**values)
        client = PoliteClient.from_settings(
            settings,
            [settings.eastmoney_api_base, settings.eastmoney_pdf_base],
            clock=clock,
            rng=random.Random(7),
        )
        clients.append(client)
        return EastmoneySource(settings, client, today=lambda: TODAY)

    yield build
    for client in clients:
        client.close()


def codes(items: list[SourceItem]) -> list[str]:
    return [i.key for i in items]


# --- the listing parser on the real response --------------------------------------------------


def test_parser_reads_all_fifty_records_of_the_real_response() -> None:
    page = parse_listing_page(LISTING_FIXTURE.read_bytes())

    assert (len(page.records), page.hits, page.total_pages, page.page_no) == (50, 403, 9, 1)
    assert listing_records(LISTING_FIXTURE.read_text(encoding="utf-8")) == page.records
    assert page.records[0]["infoCode"] == "AP202305141586623693"


def _meta_of(index: int) -> Any:
    record = fixture_records()[index]
    return record_metadata(record, f"https://pdf.example/pdf/H3_{record['infoCode']}_1.pdf")


def test_real_records_map_to_listing_metadata_exactly() -> None:
    first = _meta_of(0)
    assert first.title == "非银金融行业周报：保险负债端复苏仍有预期差，券商小荷刚露尖尖角"
    assert first.broker == "信达证券"
    assert first.publish_date == dt.date(2023, 5, 14)
    assert first.industry == "保险"
    assert first.rating is None  # sRatingName and emRatingName are both ""
    assert first.rating_action is None  # ratingChange ""
    assert first.authors == ["王舫朝"]
    assert first.source_id == "AP202305141586623693"
    assert first.source_url == "https://pdf.example/pdf/H3_AP202305141586623693_1.pdf"

    second = _meta_of(1)
    assert second.title == (
        "证券行业2022年报&2023年一季报综述：业绩拐点确定，看好细分龙头与“中特估”行情下的国资券商"
    )
    assert (second.broker, second.publish_date) == ("中邮证券", dt.date(2023, 5, 11))
    assert (second.rating, second.rating_action) == ("强于大市", "维持")  # sRatingName wins

    assert _meta_of(5).authors == ["张凤华", "周文白", "由迪"]
    assert (_meta_of(5).rating, _meta_of(5).rating_action) == (None, None)  # ratingChange 4
    assert _meta_of(24).authors == ["孙婷", "Wangjie OU"]
    assert _meta_of(45).broker == "东吴证券国际经纪"
    assert _meta_of(45).publish_date == dt.date(2023, 2, 28)


def test_rating_falls_back_to_em_rating_and_change_codes_map_to_actions() -> None:
    url = "https://pdf.example/pdf/H3_X1_1.pdf"
    cases: list[tuple[int | str, str | None]] = [
        (0, "上调"),
        ("1", "下调"),
        (2, "首次"),
        ("3", "维持"),
        (4, None),
    ]
    for code, action in cases:
        record = make_record("X1", "2023-05-01", rating="", rating_change=code)
        record["emRatingName"] = "增持"
        meta = record_metadata(record, url)
        assert (meta.rating, meta.rating_action) == ("增持", action)


def test_authors_come_from_the_author_list_when_researcher_is_empty() -> None:
    record = make_record("X2", "2023-05-01", researcher="")
    record["author"] = ["11000252617.贺文斌", "11000178827.唐子佩"]
    assert record_authors(record) == ["贺文斌", "唐子佩"]


def test_jsonp_wrapper_is_unwrapped() -> None:
    raw = LISTING_FIXTURE.read_text(encoding="utf-8")
    assert len(listing_records(f"datatable1234567({raw});")) == 50
    assert len(listing_records(f"  jQuery_1.cb ( {raw} )\n")) == 50


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (LISTING_FIXTURE.read_bytes()[:1000], "not valid JSON"),
        (b"<!DOCTYPE html><html><body>busy</body></html>", "HTML page"),
        (b'{"hits": 12, "TotalPage": 1, "pageNo": 1}', "no data array"),
        (b'{"hits": 12, "data": null}', "no data array"),
        (b"", "empty"),
        (b"[1, 2]", "not an object"),
    ],
)
def test_unusable_listing_bodies_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ListingFormatError, match=reason):
        parse_listing_page(payload)


def test_an_empty_result_without_data_is_an_empty_page() -> None:
    assert parse_listing_page(b'{"hits": 0, "TotalPage": 0, "data": null}').records == []


# --- listing through the server --------------------------------------------------------------


def test_pages_are_read_to_total_page_with_the_documented_params(
    server: ListingServer, make_source: SourceFactory
) -> None:
    items = list(make_source().list_items(ALL_OF_FIXTURE))

    assert codes(items) == [r["infoCode"] for r in fixture_records()]  # 50, newest first
    pages = server.requests_to(LIST)
    assert [r.query["pageNo"] for r in pages] == ["1", "2", "3"]  # stable: no second sweep
    assert pages[0].query == {
        "industryCode": "*",
        "pageSize": "20",
        "industry": "*",
        "rating": "*",
        "ratingChange": "*",
        "beginTime": "2023-02-01",
        "endTime": "2023-05-14",
        "pageNo": "1",
        "fields": "",
        "qType": "1",
        "orgCode": "",
        "code": "*",
    }
    first = items[0]
    assert first.uri == f"{server.base_url}/pdf/H3_AP202305141586623693_1.pdf"
    assert first.name == "AP202305141586623693.pdf"
    assert first.version == "2023-05-14 00:00:00.000"
    assert first.metadata is not None and first.metadata.broker == "信达证券"


def test_default_window_is_the_last_seven_days_in_shanghai(
    server: ListingServer, make_source: SourceFactory
) -> None:
    items = list(make_source().list_items())

    query = server.requests_to(LIST)[0].query
    assert (query["beginTime"], query["endTime"]) == ("2023-05-07", "2023-05-14")
    assert len(items) == 9  # records of 05-08 .. 05-14
    dates = [i.metadata.publish_date for i in items if i.metadata]
    assert len(dates) == 9 and all(d and d >= dt.date(2023, 5, 7) for d in dates)
    open_until = list(make_source().list_items(Window(since=dt.date(2023, 5, 10))))
    assert len(open_until) == 4
    assert server.requests_to(LIST)[-1].query["endTime"] == "2023-05-14"


def test_records_are_deduplicated_across_qtypes(make_source: SourceFactory) -> None:
    stock = make_record("AP_STOCK_1", "2023-05-12")
    shared = fixture_records()[0]
    with ListingServer({0: [stock, shared], 1: fixture_records()}) as both:
        source = make_source(
            eastmoney_api_base=both.base_url,
            eastmoney_pdf_base=both.base_url,
            eastmoney_qtypes=[0, 1],
        )
        items = list(source.list_items(ALL_OF_FIXTURE))
        qtypes = [r.query["qType"] for r in both.requests_to(LIST)]

    assert len(items) == 51
    assert len(set(codes(items))) == 51
    assert qtypes == ["0", "1", "1", "1"]


def test_a_jsonp_listing_response_is_read(
    server: ListingServer, make_source: SourceFactory
) -> None:
    raw = LISTING_FIXTURE.read_bytes()
    server.script(LIST, body(b"datatable9(" + raw + b");", "application/javascript"))
    items = list(make_source(eastmoney_page_size=50).list_items(ALL_OF_FIXTURE))
    assert len(items) == 50  # TotalPage 9 in the recorded body, but later pages are empty here


# --- pages that shift between requests ---------------------------------------------------


def test_a_record_moving_up_to_a_page_already_read_is_not_lost(
    server: ListingServer, make_source: SourceFactory
) -> None:
    rows = fixture_records()
    mover = rows[20]["infoCode"]  # first record of page 2 (page size 20) ...
    server.after_request(LIST, 1, lambda: server.move(mover, 0))  # ... jumps to page 1

    items = list(make_source().list_items(ALL_OF_FIXTURE))

    assert sorted(codes(items)) == sorted(r["infoCode"] for r in rows)
    assert len(items) == len(set(codes(items))) == 50
    assert len(server.requests_to(LIST)) == 6  # the shift forced exactly one more sweep


def test_a_record_moving_down_past_a_page_boundary_loses_nothing(
    server: ListingServer, make_source: SourceFactory
) -> None:
    rows = fixture_records()
    # Moving a page-1 record to page 3 pulls page 2's first record up onto page 1 unseen.
    server.after_request(LIST, 1, lambda: server.move(rows[3]["infoCode"], 45))

    items = list(make_source().list_items(ALL_OF_FIXTURE))

    assert sorted(codes(items)) == sorted(r["infoCode"] for r in rows)
    assert len(items) == 50


def test_a_report_published_during_the_listing_is_picked_up_once(
    server: ListingServer, make_source: SourceFactory
) -> None:
    fresh = make_record("AP_FRESH_1", "2023-05-14", title="新发布的报告")
    server.after_request(LIST, 2, lambda: server.insert(fresh, 0))

    items = list(make_source().list_items(ALL_OF_FIXTURE))

    assert len(items) == len(set(codes(items))) == 51
    assert "AP_FRESH_1" in codes(items)


# --- retries, timeouts and broken bodies -----------------------------------------------------


def test_429_retry_after_seconds_is_honoured(
    server: ListingServer, clock: FakeClock, make_source: SourceFactory
) -> None:
    server.script(LIST, status(429, retry_after="7"))
    items = list(make_source(http_rate_per_s=100.0).list_items(ALL_OF_FIXTURE))

    assert len(items) == 50
    assert 7.0 in clock.sleeps
    assert len(server.requests_to(LIST)) == 4  # the 429 and three pages


def test_429_retry_after_http_date_is_honoured_and_capped(
    server: ListingServer, clock: FakeClock
) -> None:
    soon = email.utils.formatdate(clock.time() + 30, usegmt=True)
    later = email.utils.formatdate(clock.time() + 3600, usegmt=True)
    server.script(LIST, status(429, retry_after=soon), status(503, retry_after=later))
    with PoliteClient(
        allowed_bases=[server.base_url], rate_per_s=100.0, retry_after_cap_s=60.0, clock=clock
    ) as client:
        response = client.get(server.base_url + LIST)

    assert response.status == 200
    waits = [s for s in clock.sleeps if s > 1]
    assert 29 <= waits[0] <= 30  # the date, to the second
    assert waits[1] == 60.0  # an hour is capped


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("5", now=now) == 5.0
    assert parse_retry_after(email.utils.formatdate(now + 12, usegmt=True), now=now) == 12.0
    assert parse_retry_after(email.utils.formatdate(now - 99, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None


def test_500_then_success_backs_off_with_jitter(
    server: ListingServer, clock: FakeClock, make_source: SourceFactory
) -> None:
    server.script(LIST, status(500), status(502))
    items = list(make_source(http_rate_per_s=1000.0).list_items(ALL_OF_FIXTURE))

    assert len(items) == 50
    backoffs = [s for s in clock.sleeps if s > 0.01]
    assert len(backoffs) == 2
    assert backoffs[0] <= 0.5 and backoffs[1] <= 1.0  # full jitter under base * 2**attempt


def test_exhausted_retries_raise_transient_error_saying_what_and_how_often(
    server: ListingServer, make_source: SourceFactory
) -> None:
    server.script(LIST, *[status(500)] * 3, status(503))
    with pytest.raises(TransientError, match=r"failed 4 times \(HTTP 500 x3, HTTP 503 x1\)"):
        list(make_source().list_items(ALL_OF_FIXTURE))
    assert len(server.requests_to(LIST)) == 4  # http_retries=3: one try and three retries


def test_a_server_that_hangs_past_the_timeout_is_retried(
    server: ListingServer, make_source: SourceFactory
) -> None:
    server.script(LIST, hang(3.0))
    start = time.monotonic()
    items = list(make_source(http_timeout_s=0.1).list_items(ALL_OF_FIXTURE))

    assert len(items) == 50
    assert time.monotonic() - start < 2.0  # gave up on the hang after its timeout


def test_timeouts_every_time_end_in_transient_error(
    server: ListingServer, make_source: SourceFactory
) -> None:
    server.script(LIST, hang(3.0), hang(3.0))
    with pytest.raises(TransientError, match=r"failed 2 times \(ReadTimeout \(timeout 0.1s\) x2"):
        list(make_source(http_timeout_s=0.1, http_retries=1).list_items(ALL_OF_FIXTURE))


def test_truncated_json_and_cut_connections_are_retried(
    server: ListingServer, make_source: SourceFactory
) -> None:
    server.script(LIST, truncated_json(), cut_connection())
    items = list(make_source().list_items(ALL_OF_FIXTURE))
    assert len(items) == 50
    assert len(server.requests_to(LIST)) == 5


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (truncated_json(), "not valid JSON"),
        (html_page(), "HTML page instead of JSON"),
        (body(b'{"hits": 50, "TotalPage": 3}', "application/json"), "no data array"),
    ],
)
def test_a_listing_body_that_stays_broken_is_a_transient_error(
    server: ListingServer, make_source: SourceFactory, fault: Any, reason: str
) -> None:
    server.script(LIST, *[fault] * 4)
    with pytest.raises(TransientError, match=reason):
        list(make_source().list_items(ALL_OF_FIXTURE))


# --- fetching PDFs ---------------------------------------------------------------------------


def _first_item(source: EastmoneySource) -> SourceItem:
    return next(iter(source.list_items(ALL_OF_FIXTURE)))


def test_fetch_returns_the_pdf_and_the_listing_metadata(
    server: ListingServer, make_source: SourceFactory
) -> None:
    source = make_source()
    item = _first_item(source)
    fetched = source.fetch(item)

    assert fetched.data == server.pdf_for(item.key)
    assert fetched.data.startswith(b"%PDF")
    assert fetched.metadata == item.metadata
    assert fetched.metadata_error is None


def test_an_html_page_instead_of_the_pdf_is_bad_input(
    server: ListingServer, make_source: SourceFactory
) -> None:
    source = make_source()
    item = _first_item(source)
    server.script(f"/pdf/H3_{item.key}_1.pdf", html_page())

    with pytest.raises(BadInputError, match="server returned an HTML page instead of the PDF") as e:
        source.fetch(item)
    assert e.value.stage == "fetch"
    assert len(server.requests_to(f"/pdf/H3_{item.key}_1.pdf")) == 1  # not retried


def test_bytes_without_the_pdf_magic_are_bad_input(
    server: ListingServer, make_source: SourceFactory
) -> None:
    source = make_source()
    item = _first_item(source)
    server.script(f"/pdf/H3_{item.key}_1.pdf", body(b"PK\x03\x04 zip", "application/octet-stream"))
    with pytest.raises(BadInputError, match="not a PDF"):
        source.fetch(item)


def test_a_missing_pdf_is_bad_input_with_the_status(
    server: ListingServer, make_source: SourceFactory
) -> None:
    source = make_source()
    item = _first_item(source)
    server.script(f"/pdf/H3_{item.key}_1.pdf", status(404))
    with pytest.raises(BadInputError, match="HTTP 404") as e:
        source.fetch(item)
    assert e.value.stage == "fetch"


def test_an_oversized_pdf_declared_up_front_is_refused_before_its_body(
    server: ListingServer, make_source: SourceFactory
) -> None:
    source = make_source(max_file_mb=1.0)
    item = _first_item(source)
    server.script(f"/pdf/H3_{item.key}_1.pdf", huge(50 * 2**20, declare_length=True))
    with pytest.raises(BadInputError, match=r"declares 50.0 MiB, over the 1.0 MiB limit"):
        source.fetch(item)


def test_an_oversized_streamed_pdf_is_aborted_early(
    server: ListingServer, make_source: SourceFactory
) -> None:
    source = make_source(max_file_mb=1.0)
    item = _first_item(source)
    total = 256 * 2**20
    server.script(f"/pdf/H3_{item.key}_1.pdf", huge(total, declare_length=False))

    start = time.monotonic()
    with pytest.raises(BadInputError, match=r"over the 1.0 MiB limit"):
        source.fetch(item)
    assert time.monotonic() - start < 2.0
    deadline = time.monotonic() + 5
    while not server.streams[0].aborted and time.monotonic() < deadline:
        time.sleep(0.01)  # the server thread notices the closed socket on its next write
    log = server.streams[0]
    assert log.aborted
    assert log.sent < total / 8  # the client hung up long before the end


def test_a_redirect_to_another_host_is_refused_and_never_followed(
    server: ListingServer, make_source: SourceFactory
) -> None:
    source = make_source()
    item = _first_item(source)
    path = f"/pdf/H3_{item.key}_1.pdf"
    with ListingServer() as elsewhere:
        server.script(path, redirect(f"{elsewhere.base_url}{path}"))
        with pytest.raises(BadInputError, match="refused redirect"):
            source.fetch(item)
        assert elsewhere.requests == []


def test_a_javascript_redirect_is_refused(
    server: ListingServer, make_source: SourceFactory
) -> None:
    source = make_source()
    item = _first_item(source)
    path = f"/pdf/H3_{item.key}_1.pdf"
    server.script(path, redirect("javascript:alert(1)"), redirect("javascript:/alert(1)"))
    with pytest.raises(BadInputError, match="refused redirect to an unusable Location"):
        source.fetch(item)
    with pytest.raises(BadInputError, match="refused redirect to 'javascript:/alert"):
        source.fetch(item)
    assert len(server.requests_to(path)) == 2  # one request each, nothing after the redirect


def test_redirects_on_the_allowed_host_are_followed_up_to_five(
    server: ListingServer, make_source: SourceFactory
) -> None:
    source = make_source()
    item = _first_item(source)
    path = f"/pdf/H3_{item.key}_1.pdf"
    server.script("/pdf/old.pdf", redirect(path, code=301))
    moved = SourceItem(
        uri=f"{server.base_url}/pdf/old.pdf", name=item.name, key=item.key, metadata=item.metadata
    )
    assert source.fetch(moved).data == server.pdf_for(item.key)

    server.script("/loop", *[redirect("/loop")] * 6)
    looping = SourceItem(
        uri=f"{server.base_url}/loop", name="x.pdf", key="x", metadata=item.metadata
    )
    with pytest.raises(BadInputError, match="more than 5 redirects"):
        source.fetch(looping)
    assert len(server.requests_to("/loop")) == 6


def test_a_request_to_a_host_outside_the_allow_list_is_never_sent(
    server: ListingServer, make_source: SourceFactory
) -> None:
    source = make_source()
    item = _first_item(source)
    with ListingServer() as elsewhere:
        foreign = SourceItem(
            uri=f"{elsewhere.base_url}/pdf/H3_{item.key}_1.pdf",
            name=item.name,
            key=item.key,
            metadata=item.metadata,
        )
        with pytest.raises(BadInputError, match="not one of the configured hosts"):
            source.fetch(foreign)
        assert elsewhere.requests == []


# --- unusable listing records reach quarantine -----------------------------------------------


def test_unusable_records_are_listed_and_their_fetch_says_why(make_source: SourceFactory) -> None:
    good = make_record("AP_GOOD_1", "2023-05-12")
    no_code = make_record("", "2023-05-12")
    no_code.pop("infoCode")
    script_url = make_record("javascript:alert(1)", "2023-05-12")
    other_host = make_record("//evil.example/x", "2023-05-12")
    no_title = make_record("AP_NO_TITLE", "2023-05-12", title="")
    bad_date = make_record("AP_BAD_DATE", "2023-05-12", publishDate="2023-05-0x")
    records = [good, no_code, script_url, other_host, no_title, bad_date]
    with ListingServer({1: records}) as srv:
        source = make_source(eastmoney_api_base=srv.base_url, eastmoney_pdf_base=srv.base_url)
        items = list(source.list_items(Window(dt.date(2023, 5, 1), dt.date(2023, 5, 14))))
        reasons: dict[str, str] = {}
        for item in items[1:]:
            assert item.error and item.metadata is None
            with pytest.raises(MetadataError) as exc:
                source.fetch(item)
            assert exc.value.stage == "fetch"
            reasons[item.key] = exc.value.reason
        pdf_requests = [r for r in srv.requests if r.path.startswith("/pdf/")]

    assert len(items) == 6
    assert items[0].key == "AP_GOOD_1" and items[0].metadata is not None
    messages = list(reasons.values())
    assert messages[0] == "listing record has no infoCode"
    assert "not a plain id: 'javascript:alert(1)'" in messages[1]
    assert "not a plain id: '//evil.example/x'" in messages[2]
    assert reasons["AP_NO_TITLE"] == "listing record AP_NO_TITLE has no title"
    bad_date_reason = "listing record AP_BAD_DATE has an unreadable publishDate '2023-05-0x'"
    assert reasons["AP_BAD_DATE"] == bad_date_reason
    assert pdf_requests == []  # nothing was downloaded for them
    assert all(k.startswith("record-") for k in list(reasons)[:3])  # stable content keys


def test_a_rejected_item_survives_pickling_with_its_reason() -> None:
    item = SourceItem(uri="u", name="n.pdf", key="k", error="listing record has no title")
    copy = pickle.loads(pickle.dumps(item))
    assert copy.error == item.error


def test_a_base_url_that_is_not_http_fails_before_any_request() -> None:
    settings = Settings(eastmoney_pdf_base="ftp://pdf.example")
    with pytest.raises(ConfigurationError, match="must be http"):
        EastmoneySource(settings)


def test_a_record_without_publish_date_is_unusable() -> None:
    record = make_record("AP_NO_DATE", "2023-05-12", publishDate="")
    with pytest.raises(MetadataError, match="listing record AP_NO_DATE has no publishDate"):
        record_metadata(record, "https://pdf.example/pdf/H3_AP_NO_DATE_1.pdf")


def test_a_rejected_record_keeps_the_same_key_on_every_listing() -> None:
    record = make_record("", "2023-05-12")
    record.pop("infoCode")
    with ListingServer({1: [record]}) as srv:
        settings = Settings(eastmoney_api_base=srv.base_url, eastmoney_pdf_base=srv.base_url)
        with PoliteClient(allowed_bases=[srv.base_url], clock=FakeClock()) as client:
            source = EastmoneySource(settings, client, today=lambda: TODAY)
            first = [i.key for i in source.list_items()]
            second = [i.key for i in source.list_items()]
    assert first == second and len(first) == 1


# --- pacing ----------------------------------------------------------------------------------


def test_requests_are_paced_by_the_rate_limit_on_the_injected_clock(
    server: ListingServer, clock: FakeClock, make_source: SourceFactory
) -> None:
    source = make_source(http_rate_per_s=2.0)
    items = list(source.list_items(ALL_OF_FIXTURE))
    for item in items[:3]:
        source.fetch(item)

    n = len(server.requests)
    assert n == 6
    assert clock.now >= (n - 1) / 2.0
    assert clock.now == pytest.approx((n - 1) / 2.0)  # and no slower than needed


def test_the_rate_limit_holds_in_real_time_across_threads(server: ListingServer) -> None:
    rate = 25.0
    with PoliteClient(allowed_bases=[server.base_url], rate_per_s=rate, concurrency=4) as client:
        url = f"{server.base_url}{LIST}?qType=1&pageSize=1"
        threads = [threading.Thread(target=client.get, args=(url,)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    arrivals = sorted(r.at for r in server.requests)
    assert len(arrivals) == 6
    # Arrival times also carry scheduling noise; the span is what the bucket guarantees.
    assert arrivals[-1] - arrivals[0] >= (6 - 1) / rate - 0.02
