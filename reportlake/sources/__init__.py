"""Where reports come from: one ``Source`` protocol, one implementation per kind of feed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from reportlake.errors import BadInputError
from reportlake.models import SourceMetadata


@dataclass(frozen=True)
class SourceItem:
    """A reference to one original, cheap to pass between tasks (no bytes)."""

    uri: str  # where the original came from; becomes ``source_uri`` in the lake
    name: str  # file name, used for the format guess and the raw/ suffix
    key: str  # the source's own handle: a path in the inbox filesystem, an object key, an id
    size: int | None = None
    # What the source already knows (a listing record): it wins over what is parsed.
    metadata: SourceMetadata | None = None
    # A version tag of the object (ETag, listing update time): a changed object is new again.
    version: str | None = None
    # Set when the source already knows the item cannot be ingested (e.g. a listing record
    # without a title): the pipeline quarantines it with this reason and fetches nothing.
    error: str | None = None


@dataclass(frozen=True)
class Window:
    """The publish-date range a run asks a dated source for (inclusive; None = open)."""

    since: dt.date | None = None
    until: dt.date | None = None


@dataclass
class FetchedItem:
    """An original's bytes and whatever metadata arrived with it."""

    item: SourceItem
    data: bytes
    metadata: SourceMetadata = field(default_factory=SourceMetadata)
    # A sidecar/listing record that could not be used: the original is quarantined with it.
    metadata_error: str | None = None


def check_size(item: SourceItem, max_bytes: int) -> None:
    """Refuse an original over the size limit before reading it."""
    if item.size is not None and item.size > max_bytes:
        raise BadInputError(
            f"{item.name} is {item.size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB "
            "limit (REPORTLAKE_MAX_FILE_MB): check it is a single report",
            stage="fetch",
        )


class Source(Protocol):
    """List the originals a source holds, and fetch one of them."""

    name: str
    # Whether a fetch waits on the network: then several are fetched at once (see prefetch).
    remote: bool

    def list_items(self, window: Window | None = None) -> Iterator[SourceItem]:
        """Every item the source holds in ``window`` (undated sources ignore it)."""
        ...

    def fetch(self, item: SourceItem) -> FetchedItem:
        """Return the bytes and metadata; raise BadInputError (quarantine) or TransientError."""
        ...

    def close(self) -> None:
        """Release connections the source opened."""
        ...
