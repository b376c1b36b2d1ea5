"""Parse a single local file, as ``reportlake parse`` and ``reportlake eval`` do."""

from __future__ import annotations

from pathlib import Path

from reportlake.extraction import extract
from reportlake.models import Report, SourceMetadata
from reportlake.pipeline import build_report, content_id, load_security_master
from reportlake.sources import FetchedItem, SourceItem
from reportlake.sources.inbox import SIDECAR_SUFFIX, parse_sidecar


def parse_file(
    path: Path, *, security_master: Path | None = None, use_sidecar: bool = True
) -> Report:
    """Extract and parse one file (with its ``.meta.json`` sidecar unless told not to)."""
    data = path.read_bytes()
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    metadata = (
        parse_sidecar(sidecar.read_bytes(), sidecar.name)
        if use_sidecar and sidecar.exists()
        else SourceMetadata()
    )
    item = SourceItem(uri=path.resolve().as_uri(), name=path.name, key=str(path), size=len(data))
    return build_report(
        FetchedItem(item=item, data=data, metadata=metadata),
        extract(data, filename=path.name),
        content_id(data),
        security_master=load_security_master(security_master),
    )
