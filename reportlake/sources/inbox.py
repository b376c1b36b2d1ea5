"""The inbox source: a folder (or any pyarrow-readable URI) of report files and their sidecars."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator

import pyarrow.fs as pafs
from pydantic import ValidationError

from reportlake.errors import BadInputError, MetadataError, TransientError
from reportlake.models import SourceMetadata
from reportlake.sources import FetchedItem, SourceItem, Window, check_size
from reportlake.storage import Location, exists, read_bytes

SIDECAR_SUFFIX = ".meta.json"


class InboxSource:
    """Every file under the inbox root except hidden files and ``<file>.meta.json`` sidecars.

    Files of unsupported types are still listed: extraction quarantines them with the reason,
    so nothing a vendor drops in the inbox is silently ignored.
    """

    name = "inbox"

    def __init__(self, location: Location, *, max_bytes: int) -> None:
        self.location = location
        self.max_bytes = max_bytes

    def list_items(self, window: Window | None = None) -> Iterator[SourceItem]:
        selector = pafs.FileSelector(self.location.root, recursive=True)
        try:
            infos = self.location.fs.get_file_info(selector)
        except FileNotFoundError as exc:
            raise BadInputError(
                f"inbox {self.location.uri!r} does not exist: create it or fix --inbox",
                stage="fetch",
            ) from exc
        for info in sorted(infos, key=lambda i: i.path):
            relative = posixpath.relpath(info.path, self.location.root)
            if info.type != pafs.FileType.File or info.base_name.endswith(SIDECAR_SUFFIX):
                continue
            if any(part.startswith(".") for part in relative.split("/")):
                continue
            yield SourceItem(
                uri=self.location.uri_of(info.path),
                name=info.base_name,
                key=info.path,
                size=info.size,
                # A file replaced under the same name is looked at again.
                version=f"{info.size}-{info.mtime_ns}",
            )

    def close(self) -> None:
        """Nothing to release: the filesystem or client is shared."""

    def fetch(self, item: SourceItem) -> FetchedItem:
        path = item.key
        check_size(item, self.max_bytes)
        try:
            data = read_bytes(self.location, path)
        except FileNotFoundError as exc:
            raise BadInputError(
                "file vanished from the inbox before it was read", stage="fetch"
            ) from exc
        except OSError as exc:
            raise TransientError(f"reading {item.uri}: {exc}") from exc
        try:
            metadata = self._metadata(path + SIDECAR_SUFFIX)
        except MetadataError as exc:
            return FetchedItem(item=item, data=data, metadata_error=exc.reason)
        return FetchedItem(item=item, data=data, metadata=metadata)

    def _metadata(self, path: str) -> SourceMetadata:
        if not exists(self.location, path):
            return SourceMetadata()
        return parse_sidecar(read_bytes(self.location, path), posixpath.basename(path))


def parse_sidecar(raw: bytes, name: str) -> SourceMetadata:
    """Read a ``<file>.meta.json`` sidecar; raise MetadataError saying what is wrong with it."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"sidecar {name} is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise MetadataError(f"sidecar {name} must hold a JSON object, not {type(value).__name__}")
    try:
        return SourceMetadata.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise MetadataError(f"sidecar {name} has invalid fields: {problems}") from exc
