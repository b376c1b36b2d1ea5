"""Error hierarchy: bad input is quarantined, transient faults are retried, defects fail the run."""

from __future__ import annotations

from typing import Literal

Stage = Literal["fetch", "extract", "parse", "validate"]


class ReportlakeError(Exception):
    """Base class of every error raised on purpose by reportlake."""


class BadInputError(ReportlakeError):
    """The input itself is wrong: quarantine it with the reason, never retry it.

    ``reason`` is a sentence a user can act on ("PDF is encrypted: ask the vendor for an
    unprotected copy"), ``stage`` says where in the pipeline it was found.
    """

    stage: Stage = "extract"

    def __init__(self, reason: str, *, stage: Stage | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if stage is not None:
            self.stage = stage


class ExtractionError(BadInputError):
    """The bytes cannot be turned into trustworthy text."""

    stage: Stage = "extract"


class ParseError(BadInputError):
    """The text is not a research report we can read fields from."""

    stage: Stage = "parse"


class MetadataError(BadInputError):
    """A ``.meta.json`` sidecar or listing record is unusable."""

    stage: Stage = "fetch"


class TransientError(ReportlakeError):
    """A fault that may pass (network, object store): retry the I/O."""


class QualityRunError(ReportlakeError):
    """The validation itself broke (an expectation raised): fail the run, do not pass silently."""

    advice = (
        "nothing of this batch was written: fix the expectation suite in expectations/ (or the "
        "parser that fills the column), then run again; batches already committed are skipped"
    )

    def __str__(self) -> str:
        return f"{super().__str__()} -- {self.advice}"


class ConfigurationError(ReportlakeError):
    """Settings are missing or inconsistent: fail before touching any data."""
