"""The landing-bucket source: objects a vendor drops under ``s3://bucket/prefix/``.

Listed with pagination; an object is new when its key, at its current ETag, has not been
committed before (``_state/s3/``), so a file the vendor replaces is ingested again.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from reportlake.errors import BadInputError, ConfigurationError, MetadataError, TransientError
from reportlake.models import SourceMetadata
from reportlake.sources import FetchedItem, SourceItem, Window, check_size
from reportlake.sources.inbox import SIDECAR_SUFFIX, is_hidden, name_problem, parse_sidecar


class S3LandingSource:
    """Every object under the landing prefix except ``.meta.json`` sidecars and hidden keys.

    Keys that are unsafe as names (control characters, ``..`` segments) are listed with the
    reason as ``error``: the pipeline quarantines them without reading them.
    """

    name = "s3"
    remote = True

    def __init__(self, uri: str, client: Any, *, max_bytes: int) -> None:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigurationError(f"landing {uri!r} must be an s3://bucket/prefix URI")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.client = client
        self.max_bytes = max_bytes

    def list_items(self, window: Window | None = None) -> Iterator[SourceItem]:
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    key: str = obj["Key"]
                    name = posixpath.basename(key)
                    relative = key[len(prefix) :]
                    if not name or key.endswith(SIDECAR_SUFFIX) or is_hidden(relative):
                        continue
                    yield SourceItem(
                        uri=f"s3://{self.bucket}/{key}",
                        name=name,
                        key=key,
                        size=int(obj["Size"]),
                        version=str(obj["ETag"]).strip('"'),
                        error=name_problem(relative),
                    )
        except (BotoCoreError, ClientError) as exc:
            raise TransientError(f"listing s3://{self.bucket}/{prefix}: {exc}") from exc

    def close(self) -> None:
        """Nothing to release: the filesystem or client is shared."""

    def fetch(self, item: SourceItem) -> FetchedItem:
        from botocore.exceptions import BotoCoreError, ClientError

        check_size(item, self.max_bytes)
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=item.key)
            data: bytes = obj["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise BadInputError("object vanished from the landing bucket", stage="fetch") from exc
        except (BotoCoreError, ClientError) as exc:
            raise TransientError(f"reading {item.uri}: {exc}") from exc
        try:
            metadata = self._metadata(item.key + SIDECAR_SUFFIX)
        except MetadataError as exc:
            return FetchedItem(item=item, data=data, metadata_error=exc.reason)
        return FetchedItem(item=item, data=data, metadata=metadata)

    def _metadata(self, key: str) -> SourceMetadata:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return SourceMetadata()
        return parse_sidecar(obj["Body"].read(), posixpath.basename(key))
