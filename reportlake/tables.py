"""Arrow schemas of the lake tables and the conversion of ``Report`` records into them.

The schemas here are the contract documented in ``docs/schema.md``. The hive partition column
``dt`` (the publish date as ``YYYY-MM-DD``) lives in the directory names, not in the files.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence

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
    """Flatten reports into the four data tables (quarantine rows are built separately)."""
    raw_uris = raw_uris or {}
    now = ingested_at or dt.datetime.now(dt.UTC)
    rows: dict[str, list[dict[str, object]]] = {name: [] for name in DATA_TABLES}
    for r in reports:
        base = {
            "report_id": r.report_id,
            "source_uri": r.source_uri,
            "publish_date": r.publish_date,
        }
        rows["reports"].append(
            {
                **base,
                **r.model_dump(
                    include={
                        "source_url",
                        "source_id",
                        "title",
                        "broker",
                        "publish_date_source",
                        "industry",
                        "report_type",
                        "rating",
                        "rating_level",
                        "rating_action",
                        "script",
                        "format",
                        "page_count",
                        "char_count",
                        "recommended",
                        "risks",
                        "warnings",
                        "text",
                    }
                ),
                "raw_uri": raw_uris.get(r.report_id),
                "ingested_at": now,
            }
        )
        for i, a in enumerate(r.analysts):
            rows["analysts"].append({**base, "position": i, **a.model_dump()})
        for t in r.tickers:
            rows["stock_mentions"].append(
                {**base, "ticker": t.ticker, "name": t.name, "market": ticker_market(t.ticker)}
            )
        for rr in r.related_reports:
            rows["related_reports"].append({**base, "title": rr.title, "date": rr.date})
    return {
        name: pa.Table.from_pylist(table_rows, schema=SCHEMAS[name])
        for name, table_rows in rows.items()
    }


def quarantine_table(rows: Iterable[dict[str, object]]) -> pa.Table:
    """Build the quarantine table from row dicts (see ``QUARANTINE``)."""
    return pa.Table.from_pylist(list(rows), schema=QUARANTINE)


def record_json(fields: dict[str, object]) -> str:
    """Serialise the parsed fields of a quarantined report (without its text)."""
    return json.dumps(
        {k: v for k, v in fields.items() if k != "text"}, ensure_ascii=False, default=str
    )
