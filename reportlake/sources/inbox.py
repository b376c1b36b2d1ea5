"""The inbox source: a folder (or any pyarrow-readable URI) of report files and their sidecars."""

from __future__ import annotations

import errno
import json
import os
import posixpath
from collections.abc import Iterator
from functools import cached_property

import pyarrow.fs as pafs
from pydantic import ValidationError

from reportlake.errors import BadInputError, MetadataError, TransientError
from reportlake.models import SourceMetadata, field_problems
from reportlake.sources import FetchedItem, SourceItem, Window, check_size
from reportlake.storage import Location, UnsafePathError, check_path_part, exists, read_bytes
from reportlake.vocab import broker_by_alias

SIDECAR_SUFFIX = ".meta.json"


def is_hidden(relative: str) -> bool:
    """A file being uploaded (``.name.part``) or a dot file: not a report, not listed."""
    return any(part.startswith(".") and part not in {".", ".."} for part in relative.split("/"))


def name_problem(relative: str) -> str | None:
    """Why a file's path (relative to the inbox or landing prefix) is refused, or None.

    Control characters break logs, CSV exports and shell tools downstream; a ``..`` segment
    sends a copy made with the name outside its folder. Such a file is never read.
    """
    try:
        check_path_part(relative)
    except UnsafePathError as exc:
        return f"unsafe file name: {exc.reason}; rename the file"
    return None


class InboxSource:
    """Every file under the inbox root except hidden files and ``<file>.meta.json`` sidecars.

    Files of unsupported types are still listed: extraction quarantines them with the reason,
    so nothing a vendor drops in the inbox is silently ignored. Files with unsafe names are
    listed with the reason as ``error``: the pipeline quarantines them without reading them.
    """

    name = "inbox"

    def __init__(self, location: Location, *, max_bytes: int) -> None:
        self.location = location
        self.max_bytes = max_bytes
        self.remote = not location.is_local  # an inbox may be an s3:// prefix too

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
            if is_hidden(relative):
                continue
            yield SourceItem(
                uri=self.location.uri_of(info.path),
                name=info.base_name,
                key=info.path,
                size=info.size,
                # A file replaced under the same name is looked at again.
                version=f"{info.size}-{info.mtime_ns}",
                error=name_problem(relative) or self._outside(info.path),
            )

    def _outside(self, path: str) -> str | None:
        """Why a local entry is refused: a symbolic link that leads out of the inbox."""
        if not self.location.is_local:
            return None
        real = os.path.realpath(path)
        if os.path.commonpath([real, self._real_root]) == self._real_root:
            return None
        return (
            f"symbolic link out of the inbox (to {real}): the inbox reads only its own files; "
            "copy the report into it"
        )

    @cached_property
    def _real_root(self) -> str:
        return os.path.realpath(self.location.root)

    def close(self) -> None:
        """Nothing to release: the filesystem or client is shared."""

    def fetch(self, item: SourceItem) -> FetchedItem:
        path = item.key
        check_size(item, self.max_bytes)
        outside = self._outside(path)  # again: a link may have been swapped in since listing
        if outside:
            raise BadInputError(outside, stage="fetch")
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
        try:
            present = exists(self.location, path)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                return SourceMetadata()  # the report's name is too long for a sidecar beside it
            raise TransientError(f"looking for the sidecar {path}: {exc}") from exc
        if not present:
            return SourceMetadata()
        outside = self._outside(path)
        if outside:
            raise MetadataError(f"sidecar {posixpath.basename(path)}: {outside}")
        return parse_sidecar(read_bytes(self.location, path), posixpath.basename(path))


def parse_sidecar(raw: bytes, name: str) -> SourceMetadata:
    """Read a ``<file>.meta.json`` sidecar; raise MetadataError saying what is wrong with it."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MetadataError(
            f"sidecar {name} is not valid UTF-8 JSON: byte {exc.start} is not UTF-8; save the "
            "sidecar as UTF-8"
        ) from exc
    except json.JSONDecodeError as exc:
        raise MetadataError(
            f"sidecar {name} is not valid UTF-8 JSON: {exc.msg} at line {exc.lineno} column "
            f'{exc.colno}; fix it to an object like {{"title": "...", "publish_date": '
            '"2024-12-30"}'
        ) from exc
    if not isinstance(value, dict):
        raise MetadataError(f"sidecar {name} must hold a JSON object, not {type(value).__name__}")
    try:
        metadata = SourceMetadata.model_validate(value)
    except ValidationError as exc:
        raise MetadataError(f"sidecar {name} has invalid fields: {field_problems(exc)}") from exc
    if metadata.broker is not None and broker_by_alias(metadata.broker) is None:
        raise MetadataError(
            f"sidecar {name} names an unknown broker {metadata.broker!r}: write a name or alias "
            "listed in reportlake/data/brokers.csv, or add the broker there"
        )
    return metadata
