"""Where reports come from: one ``Source`` protocol, one implementation per kind of feed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from reportlake.models import SourceMetadata


@dataclass(frozen=True)
class SourceItem:
    """A reference to one original, cheap to pass between tasks (no bytes)."""

    uri: str  # where the original came from; becomes ``source_uri`` in the lake
    name: str  # file name, used for the format guess and the raw/ suffix
    key: str  # the source's own handle: a path in the inbox filesystem, an object key, an id
    size: int | None = None


@dataclass
class FetchedItem:
    """An original's bytes and whatever metadata arrived with it."""

    item: SourceItem
    data: bytes
    metadata: SourceMetadata = field(default_factory=SourceMetadata)
    # A sidecar/listing record that could not be used: the original is quarantined with it.
    metadata_error: str | None = None


class Source(Protocol):
    """List the originals a source holds, and fetch one of them."""

    name: str

    def list_items(self) -> Iterator[SourceItem]: ...

    def fetch(self, item: SourceItem) -> FetchedItem:
        """Return the bytes and metadata; raise BadInputError (quarantine) or TransientError."""
        ...
