"""Resolve lake and inbox URIs to pyarrow filesystems, so local paths and ``s3://`` behave alike."""

from __future__ import annotations

import posixpath
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from reportlake.errors import ConfigurationError


@dataclass(frozen=True)
class Location:
    """A filesystem plus a root path inside it (no trailing slash)."""

    fs: pafs.FileSystem
    root: str
    uri: str  # as the user gave it, for messages and provenance

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def join(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def uri_of(self, path: str) -> str:
        """The user-facing URI of a path inside this location."""
        if self.is_local:
            return Path(path).as_uri()
        return f"s3://{path}"


def resolve_location(
    uri: str, *, s3_endpoint_url: str | None = None, s3_region: str = "us-east-1"
) -> Location:
    """Turn ``./lake``, ``file:///x`` or ``s3://bucket/prefix`` into a :class:`Location`."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigurationError(f"S3 URI {uri!r} has no bucket: use s3://bucket/prefix")
        kwargs: dict[str, object] = {"region": s3_region}
        if s3_endpoint_url:
            endpoint = urlparse(s3_endpoint_url)
            if endpoint.scheme not in {"http", "https"} or not endpoint.netloc:
                raise ConfigurationError(
                    f"REPORTLAKE_S3_ENDPOINT_URL {s3_endpoint_url!r} must look like http://host:port"
                )
            kwargs["endpoint_override"] = endpoint.netloc
            kwargs["scheme"] = endpoint.scheme
        # Credentials: pyarrow reads the standard AWS_* variables (and profiles) itself.
        fs = pafs.S3FileSystem(
            **kwargs,  # type: ignore[arg-type]
            check_directory_existence_before_creation=False,
            allow_bucket_creation=False,
            allow_bucket_deletion=False,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=5),
        )
        root = (parsed.netloc + parsed.path).rstrip("/")
        return Location(fs=fs, root=root, uri=uri)
    if parsed.scheme in {"", "file"}:
        path = parsed.path if parsed.scheme == "file" else uri
        return Location(fs=pafs.LocalFileSystem(), root=str(Path(path).resolve()), uri=uri)
    try:
        fs, root = pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ConfigurationError(f"unsupported lake/inbox URI {uri!r}: {exc}") from exc
    return Location(fs=fs, root=root.rstrip("/"), uri=uri)


def s3_client(*, endpoint_url: str | None, region: str) -> Any:
    """A boto3 S3 client (for listing with ETags and conditional writes, which pyarrow lacks)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )


def exists(loc: Location, path: str) -> bool:
    return bool(loc.fs.get_file_info(path).type == pafs.FileType.File)


def read_bytes(loc: Location, path: str) -> bytes:
    with loc.fs.open_input_stream(path) as stream:
        return bytes(stream.read())


def write_bytes_atomic(loc: Location, path: str, data: bytes) -> None:
    """Write a whole object so that readers see the old content or the new, never a part."""
    with _atomic_output(loc, path) as tmp, loc.fs.open_output_stream(tmp) as out:
        out.write(data)


def write_parquet_atomic(loc: Location, path: str, table: pa.Table) -> None:
    """Write one Parquet file atomically (rename locally; a single PUT is atomic on S3)."""
    with _atomic_output(loc, path) as tmp:
        pq.write_table(table, tmp, filesystem=loc.fs, compression="zstd")


class _atomic_output:  # noqa: N801 - used as a context manager, reads like a function
    """Yield a temporary path next to ``path`` locally (renamed on success); ``path`` on S3."""

    def __init__(self, loc: Location, path: str) -> None:
        self.loc, self.path = loc, path
        self.tmp = path
        if loc.is_local:
            head, tail = posixpath.split(path)
            # A leading dot keeps pyarrow.dataset and *.parquet globs from ever reading it.
            self.tmp = posixpath.join(head, f".{tail}.{uuid.uuid4().hex}.tmp")

    def __enter__(self) -> str:
        if self.loc.is_local:
            self.loc.fs.create_dir(posixpath.dirname(self.path), recursive=True)
        return self.tmp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self.loc.is_local:
            return
        if exc_type is None:
            Path(self.tmp).replace(self.path)
        else:
            Path(self.tmp).unlink(missing_ok=True)
