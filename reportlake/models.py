"""The records reportlake produces: an extracted ``Document`` and a parsed ``Report``."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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

    Anything set here takes precedence over what the parser reads.
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
