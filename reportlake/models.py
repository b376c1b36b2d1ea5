"""The records reportlake produces: an extracted ``Document`` and a parsed ``Report``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

DocumentFormat = Literal["pdf", "html", "txt"]
DateSource = Literal["metadata", "header", "inferred"]
Script = Literal["zh-Hans", "zh-Hant"]
ReportType = Literal["周报", "月报", "点评", "策略", "深度", "公司", "晨报", "其他"]
RatingAction = Literal["维持", "首次", "上调", "下调"]
AnalystRole = Literal["分析师", "联系人", "研究助理"]


class Document(BaseModel):
    """Text extracted from one original file."""

    model_config = ConfigDict(frozen=True)

    text: str
    format: DocumentFormat
    page_count: int = Field(ge=0)
    char_count: int = Field(ge=0)
    encoding: str | None = None  # detected text encoding, for .txt/.html


class Analyst(BaseModel):
    name: str
    role: AnalystRole | None = None
    sac_id: str | None = None
    email: str | None = None


class RelatedReport(BaseModel):
    title: str
    date: dt.date | None = None


class TickerMention(BaseModel):
    ticker: str  # normalised, e.g. 688256.SH, 0020.HK, NVDA.O
    name: str | None = None


class ParsedReport(BaseModel):
    """Every field the parser reads from a report's text. Vocab fields are simplified Chinese."""

    title: str | None = None
    broker: str | None = None
    publish_date: dt.date | None = None
    publish_date_source: DateSource | None = None
    industry: str | None = None
    report_type: ReportType | None = None
    rating: str | None = None
    rating_level: int | None = Field(default=None, ge=1, le=5)
    rating_action: RatingAction | None = None
    script: Script = "zh-Hans"
    analysts: list[Analyst] = Field(default_factory=list)
    related_reports: list[RelatedReport] = Field(default_factory=list)
    tickers: list[TickerMention] = Field(default_factory=list)
    recommended: list[str] = Field(default_factory=list)
    risks: list[str] = Field(default_factory=list)
    # Signals that disagree (e.g. header broker vs SAC firm code): kept, never silently resolved.
    warnings: list[str] = Field(default_factory=list)


class SourceMetadata(BaseModel):
    """Known metadata for one original (a ``.meta.json`` sidecar or a listing record).

    Anything set here takes precedence over what the parser reads, so it is checked on the way
    in: text is trimmed (line breaks and control characters become spaces, blank means unset),
    dates must be written ``YYYY-MM-DD`` and ``source_url`` must be an http(s) address.
    """

    model_config = ConfigDict(extra="ignore")

    title: str | None = None
    broker: str | None = None
    publish_date: dt.date | None = None
    source_url: str | None = None
    industry: str | None = None
    rating: str | None = None
    rating_action: RatingAction | None = None
    authors: list[str] = Field(default_factory=list)  # names the listing gives
    source_id: str | None = None  # the source's own id of the report (e.g. infoCode)

    @field_validator(
        "title", "broker", "source_url", "industry", "rating", "rating_action", "source_id",
        mode="before",
    )  # fmt: skip
    @classmethod
    def _clean_text(cls, value: object) -> object:
        return clean_text(value) if isinstance(value, str) else value

    @field_validator("authors", mode="before")
    @classmethod
    def _clean_names(cls, value: object) -> object:
        if not isinstance(value, list):
            return value
        names = (clean_text(v) if isinstance(v, str) else v for v in value)
        return [name for name in names if name is not None]

    @field_validator("publish_date", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        if value is None or isinstance(value, dt.date):
            return value
        if isinstance(value, str) and not value.strip():
            return None
        match = _ISO_DATE.match(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise PydanticCustomError(
                "date_format",
                "{value} is not a date written YYYY-MM-DD, e.g. 2024-12-30",
                {"value": repr(value)},
            )
        try:
            return dt.date.fromisoformat(match.group())
        except ValueError as exc:
            raise PydanticCustomError(
                "date_value",
                "{value} is not a valid date ({why})",
                {"value": repr(value), "why": str(exc)},
            ) from exc

    @field_validator("source_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
                raise PydanticCustomError(
                    "url_scheme", "{value} is not an http(s) address", {"value": repr(value[:80])}
                )
        return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?!\d)")  # a time may follow, and is ignored
_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def field_problems(exc: ValidationError) -> str:
    """A validation error as ``field: problem; field: problem``, for quarantine reasons."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def clean_text(value: str) -> str | None:
    """``value`` on one line: runs of whitespace and control characters become one space;
    None if nothing is left."""
    return _CONTROL_OR_SPACE.sub(" ", value).strip() or None


class Report(ParsedReport):
    """One ingested report: parsed fields plus provenance and the extracted text."""

    report_id: str  # sha256 hex of the original bytes
    source_uri: str
    source_url: str | None = None
    source_id: str | None = None  # the source's own id (e.g. Eastmoney infoCode)
    format: DocumentFormat
    page_count: int
    char_count: int
    text: str
