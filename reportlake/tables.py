"""Arrow schemas of the lake tables and the conversion of ``Report`` records into them.

The schemas here are the contract documented in ``docs/schema.md``. The hive partition column
``dt`` (the publish date as ``YYYY-MM-DD``) lives in the directory names, not in the files.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence

import pyarrow as pa

from reportlake.models import Report

_PROVENANCE = [
    pa.field("report_id", pa.string(), nullable=False),
    pa.field("source_uri", pa.string(), nullable=False),
    pa.field("publish_date", pa.date32()),
]

REPORTS = pa.schema(
    [
        *_PROVENANCE,
        pa.field("source_url", pa.string()),
        pa.field("source_id", pa.string()),
        pa.field("raw_uri", pa.string()),
        pa.field("title", pa.string()),
        pa.field("broker", pa.string()),
        pa.field("publish_date_source", pa.string()),
        pa.field("industry", pa.string()),
        pa.field("report_type", pa.string()),
        pa.field("rating", pa.string()),
        pa.field("rating_level", pa.int8()),
        pa.field("rating_action", pa.string()),
        pa.field("script", pa.string()),
        pa.field("format", pa.string()),
        pa.field("page_count", pa.int32()),
        pa.field("char_count", pa.int32()),
        pa.field("recommended", pa.list_(pa.string())),
        pa.field("risks", pa.list_(pa.string())),
        pa.field("warnings", pa.list_(pa.string())),
        pa.field("text", pa.large_string()),
        pa.field("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)

ANALYSTS = pa.schema(
    [
        *_PROVENANCE,
        pa.field("position", pa.int16()),
        pa.field("name", pa.string()),
        pa.field("role", pa.string()),
        pa.field("sac_id", pa.string()),
        pa.field("email", pa.string()),
    ]
)

STOCK_MENTIONS = pa.schema(
    [
        *_PROVENANCE,
        pa.field("ticker", pa.string()),
        pa.field("name", pa.string()),
        pa.field("market", pa.string()),
    ]
)

RELATED_REPORTS = pa.schema(
    [
        *_PROVENANCE,
        pa.field("title", pa.string()),
        pa.field("date", pa.date32()),
    ]
)

QUARANTINE = pa.schema(
    [
        *_PROVENANCE,
        pa.field("raw_uri", pa.string()),
        pa.field("source_id", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reasons", pa.list_(pa.string()), nullable=False),
        pa.field("title", pa.string()),
        pa.field("broker", pa.string()),
        # Whatever was parsed before the report was stopped, as JSON (text left out).
        pa.field("record_json", pa.string()),
        pa.field("quarantined_at", pa.timestamp("us", tz="UTC")),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "reports": REPORTS,
    "analysts": ANALYSTS,
    "stock_mentions": STOCK_MENTIONS,
    "related_reports": RELATED_REPORTS,
    "quarantine": QUARANTINE,
}
DATA_TABLES = ("reports", "analysts", "stock_mentions", "related_reports")

# Market of a normalised ticker, from its exchange suffix.
_MARKETS = {
    "SH": "CN",
    "SZ": "CN",
    "BJ": "CN",
    "HK": "HK",
    "O": "US",
    "N": "US",
    "A": "US",
    "TW": "TW",
    "TWO": "TW",
    "KS": "KR",
    "KQ": "KR",
    "T": "JP",
}


def ticker_market(ticker: str) -> str | None:
    """Market code of a normalised ticker (``688256.SH`` -> ``CN``)."""
    _, _, suffix = ticker.rpartition(".")
    return _MARKETS.get(suffix.upper())


def reports_to_tables(
    reports: Sequence[Report],
    *,
    raw_uris: dict[str, str] | None = None,
    ingested_at: dt.datetime | None = None,
) -> dict[str, pa.Table]:
    """Flatten reports into the four data tables (quarantine rows are built separately).

    Built column by column from the models' attributes, each column converted by Arrow in one
    call: a dict per row (``model_dump``) converted row by row cost 3-7x more (26-150 ms against
    21 ms for 500 reports).
    """
    raw_uris = raw_uris or {}
    now = ingested_at or dt.datetime.now(dt.UTC)
    parsed = [name for name in REPORTS.names if name not in ("raw_uri", "ingested_at")]
    analysts = [(r, i, a) for r in reports for i, a in enumerate(r.analysts)]
    tickers = [(r, t) for r in reports for t in r.tickers]
    related = [(r, rr) for r in reports for rr in r.related_reports]
    return {
        "reports": _table(
            REPORTS,
            {name: [getattr(r, name) for r in reports] for name in parsed}
            | {
                "raw_uri": [raw_uris.get(r.report_id) for r in reports],
                "ingested_at": [now] * len(reports),
            },
        ),
        "analysts": _table(
            ANALYSTS,
            _provenance([r for r, _, _ in analysts])
            | {
                "position": [i for _, i, _ in analysts],
                "name": [a.name for _, _, a in analysts],
                "role": [a.role for _, _, a in analysts],
                "sac_id": [a.sac_id for _, _, a in analysts],
                "email": [a.email for _, _, a in analysts],
            },
        ),
        "stock_mentions": _table(
            STOCK_MENTIONS,
            _provenance([r for r, _ in tickers])
            | {
                "ticker": [t.ticker for _, t in tickers],
                "name": [t.name for _, t in tickers],
                "market": [ticker_market(t.ticker) for _, t in tickers],
            },
        ),
        "related_reports": _table(
            RELATED_REPORTS,
            _provenance([r for r, _ in related])
            | {"title": [rr.title for _, rr in related], "date": [rr.date for _, rr in related]},
        ),
    }


def _provenance(reports: Sequence[Report]) -> dict[str, list[object]]:
    """The provenance columns of child rows, one per report given."""
    return {
        "report_id": [r.report_id for r in reports],
        "source_uri": [r.source_uri for r in reports],
        "publish_date": [r.publish_date for r in reports],
    }


def _table(schema: pa.Schema, columns: Mapping[str, Sequence[object]]) -> pa.Table:
    """A table of ``schema`` from its columns as Python lists."""
    return pa.Table.from_arrays([pa.array(columns[f.name], f.type) for f in schema], schema=schema)


def quarantine_table(rows: Iterable[dict[str, object]]) -> pa.Table:
    """Build the quarantine table from row dicts (see ``QUARANTINE``)."""
    return pa.Table.from_pylist(list(rows), schema=QUARANTINE)


def record_json(fields: dict[str, object]) -> str:
    """Serialise the parsed fields of a quarantined report (without its text)."""
    return json.dumps(
        {k: v for k, v in fields.items() if k != "text"}, ensure_ascii=False, default=str
    )
