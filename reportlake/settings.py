"""One settings object for the whole pipeline, read from ``REPORTLAKE_*`` variables and ``.env``.

Credentials are never fields here: pyarrow's S3 filesystem and boto read the standard
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` variables themselves,
so no secret passes through reportlake's objects, logs or artifacts.
"""

from __future__ import annotations

from pathlib import Path

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
    expectations_dir: Path = Field(
        default=REPO_ROOT / "expectations", description="Great Expectations suites, one per table."
    )
    security_master: Path | None = Field(
        default=None, description="Optional CSV (code,name) used to map company names to tickers."
    )
    batch_size: int = Field(
        default=200, ge=1, description="Reports per task (one validation each)."
    )
    max_file_mb: float = Field(default=100.0, gt=0, description="Larger originals are quarantined.")

    @classmethod
    def load(cls, **overrides: object) -> Settings:
        """Environment and ``.env`` values, with the non-None ``overrides`` (CLI, flow) on top."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls(**given)  # type: ignore[arg-type]
