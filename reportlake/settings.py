"""One settings object for the whole pipeline, read from ``REPORTLAKE_*`` variables and ``.env``.

Credentials are never fields here: pyarrow's S3 filesystem and boto read the standard
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` variables themselves,
or ``s3_credentials_block`` names a Prefect Secret block that ``reportlake.storage`` reads when
it builds a client; so no secret passes through reportlake's settings, logs or artifacts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Where reports come from, where the lake is, and how to reach object storage."""

    model_config = SettingsConfigDict(
        env_prefix="REPORTLAKE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    inbox: str = Field(
        default=str(REPO_ROOT / "examples" / "inbox"),
        description="Folder or URI (file://, s3://) of report files to ingest.",
    )
    lake: str = Field(
        default="./lake", description="Lake root: a local path or s3://bucket/prefix."
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3-compatible endpoint, e.g. http://127.0.0.1:9000 (MinIO, moto).",
    )
    s3_region: str = Field(default="us-east-1", description="Region for the S3 endpoint.")
    s3_credentials_block: str | None = Field(
        default=None,
        description="Name of a Prefect Secret block holding the S3 keys as JSON "
        '({"aws_access_key_id": ..., "aws_secret_access_key": ..., "aws_session_token": ...}); '
        "unset: the standard AWS_* variables or profiles. The name only, never the keys.",
    )
    expectations_dir: Path = Field(
        default=REPO_ROOT / "expectations", description="Great Expectations suites, one per table."
    )
    security_master: Path | None = Field(
        default=None, description="Optional CSV (code,name) used to map company names to tickers."
    )
    batch_size: int = Field(
        default=500,
        ge=1,
        description="Reports per commit: one validation, one set of Parquet files and one "
        "state record each (extracted in tasks of 100).",
    )
    workers: int | None = Field(
        default=None,
        ge=0,
        description="Worker processes extracting and parsing side by side with the flow's own "
        "process (default: one per core but one; 0: only the flow's process); with a Dask "
        "cluster, the extraction tasks in flight on it.",
    )
    dask_address: str | None = Field(
        default=None,
        description="Scheduler of a Dask cluster (tcp://host:8786) to run batches on, instead "
        "of local worker processes.",
    )
    max_file_mb: float = Field(default=100.0, gt=0, description="Larger originals are quarantined.")

    source: Literal["inbox", "s3", "eastmoney"] = Field(
        default="inbox", description="Which source to ingest from."
    )
    landing: str | None = Field(
        default=None, description="s3://bucket/prefix where a vendor drops files (source s3)."
    )
    lookback_days: int = Field(
        default=3, ge=0, description="Each run re-lists this many days before its state."
    )
    eastmoney_api_base: str = Field(
        default="https://reportapi.eastmoney.com",
        description="Base URL of the Eastmoney research-report listing API.",
    )
    eastmoney_pdf_base: str = Field(
        default="https://pdf.dfcfw.com", description="Base URL of the report PDFs."
    )
    eastmoney_page_size: int = Field(default=100, ge=1, le=100)
    eastmoney_qtypes: list[int] = Field(
        default=[0, 1], description="Listing kinds: 0 stock reports, 1 industry reports."
    )
    http_timeout_s: float = Field(default=30.0, gt=0, description="Per-request timeout.")
    http_retries: int = Field(default=5, ge=0, description="Retries on 429/5xx/timeouts.")
    http_rate_per_s: float = Field(default=2.0, gt=0, description="Requests per second, at most.")
    http_concurrency: int = Field(default=4, ge=1, description="Downloads in flight, at most.")

    lease_wait_s: float = Field(
        default=600.0, ge=0, description="How long a run waits for another run's lake lease."
    )
    prefect_lake_limit: bool = Field(
        default=True,
        description="Also hold a Prefect global concurrency limit (1 slot) per lake during a run.",
    )
    lease_ttl_s: float = Field(
        default=3600.0, gt=0, description="An object-store lease left by a lost run expires."
    )

    @property
    def parallelism(self) -> int:
        """How many worker processes extract at once, beside the flow's own process."""
        if self.workers is None:
            # One core is the flow's: it validates and writes, and extracts when it is idle.
            return max(1, (os.cpu_count() or 1) - 1)
        return max(1, self.workers)

    @classmethod
    def load(cls, **overrides: object) -> Settings:
        """Environment and ``.env`` values, with the non-None ``overrides`` (CLI, flow) on top."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls(**given)  # type: ignore[arg-type]
