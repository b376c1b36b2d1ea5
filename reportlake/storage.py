"""Resolve lake and inbox URIs to pyarrow filesystems, so local paths and ``s3://`` behave alike.

Two guarantees live here:

- **Containment**: :meth:`Location.join` builds every path below the location's root and
  refuses a part that could leave it (``..``, an absolute path, control characters, look-alike
  dots, over-long names), so no name that arrives with a report can point outside the lake.
- **Credentials**: object-store credentials come from the standard ``AWS_*`` variables (or AWS
  profiles), read by pyarrow and botocore themselves, or from a Prefect ``Secret`` block named
  by ``REPORTLAKE_S3_CREDENTIALS_BLOCK``, loaded when a client is built. They are passed to the
  SDKs only: never logged, never in a message, a ``repr``, a pickle or a setting. botocore logs
  signed requests at DEBUG, session token included: once an S3 client exists, log records of
  the AWS libraries have the token masked.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import posixpath
import re
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from reportlake.errors import BadInputError, ConfigurationError

# Attempts per S3 request (the first one included) on throttling, 5xx, resets and timeouts:
# pyarrow's SDK backs off exponentially from tens of milliseconds (about 6 s over all of them),
# botocore's standard mode from 50 ms (1 s after throttling) up to 20 s. Above that, the flow's
# tasks retry whole batches.
S3_MAX_ATTEMPTS = 8
S3_CONNECT_TIMEOUT_S = 5.0
S3_REQUEST_TIMEOUT_S = 60.0
NAME_MAX_BYTES = 255  # the longest file name a local filesystem takes (ext4, xfs, tmpfs)
# Control characters (C0, DEL, C1) and the invisible marks that reorder text on screen.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A session token as botocore and urllib3 log it: a header, a canonical request line, a query.
_SESSION_TOKEN = re.compile(r"(?i)(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)[^'\"\s,}&]+")
_AWS_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")


class UnsafePathError(BadInputError):
    """A name would lead outside the lake or inbox, or is not a usable file name."""

    stage = "fetch"


def check_path_part(part: str) -> list[str]:
    """The segments of one ``part`` of a path (``a/b`` is two); raise if any is unsafe.

    Refused: NUL and other control characters, an absolute part, ``..`` and ``.`` segments
    (also as full-width or other look-alike dots, which NFKC folds to dots), backslashes (a
    separator once the lake is copied to Windows), segments longer than a file name may be.
    Empty segments (``a//b``) are dropped.
    """
    if not isinstance(part, str):
        raise UnsafePathError(f"path part {part!r} is not a string")
    if _UNSAFE_CHARS.search(part):
        raise UnsafePathError(
            f"path part {part!r} contains control characters or text-direction marks"
        )
    if part.startswith(("/", "\\")):
        raise UnsafePathError(f"path part {part!r} is absolute: it would leave the lake")
    segments = [s for s in part.split("/") if s]
    for segment in segments:
        folded = unicodedata.normalize("NFKC", segment)
        if folded in {".", ".."} or "/" in folded or "\\" in folded:
            raise UnsafePathError(
                f"path part {part!r} has a {segment!r} segment, which points outside its folder"
            )
        if len(segment.encode("utf-8")) > NAME_MAX_BYTES:
            raise UnsafePathError(
                f"path segment {segment[:40]!r}... is {len(segment.encode('utf-8'))} bytes long, "
                f"over the {NAME_MAX_BYTES}-byte limit of a file name"
            )
    return segments


@dataclass(frozen=True)
class Location:
    """A filesystem plus a root path inside it (no trailing slash)."""

    fs: pafs.FileSystem
    root: str
    uri: str  # as the user gave it, for messages and provenance
    endpoint: str | None = field(default=None, compare=False)  # S3 endpoint, for messages
    # How an S3 location was resolved (uri, endpoint, region, credentials block): a pickled
    # S3 location is resolved again where it lands, so no key ever travels in a pickle.
    recipe: tuple[str, str | None, str, str | None] | None = field(
        default=None, compare=False, repr=False
    )

    def __reduce__(self) -> tuple[Any, ...]:
        if self.recipe is not None:
            return (_resolve_s3, self.recipe)
        return (Location, (self.fs, self.root, self.uri, self.endpoint))

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def join(self, *parts: str) -> str:
        """``root/part/...``, refusing any part that could lead outside the root."""
        segments = [s for part in parts for s in check_path_part(part)]
        path = posixpath.join(self.root, *segments) if segments else self.root
        if not self.contains(path):  # cannot happen after the checks above; never trust that
            raise UnsafePathError(f"path {path!r} is outside {self.uri}")
        return path

    def contains(self, path: str) -> bool:
        """Whether ``path`` is the root or below it, written without ``.``, ``..`` or ``//``.

        Such segments are refused rather than resolved: on S3 ``a/../b`` is a key of its own,
        which a copy to disk would turn into ``b``.
        """
        if path != posixpath.normpath(path):
            return False
        return path == self.root or path.startswith(self.root.rstrip("/") + "/")

    def uri_of(self, path: str) -> str:
        """The user-facing URI of a path inside this location."""
        if self.is_local:
            return Path(path).as_uri()
        return f"s3://{path}"


@dataclass(frozen=True)
class S3Credentials:
    """Keys for an S3-compatible store; ``repr`` shows none of them."""

    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return "S3Credentials(***)"

    def __reduce__(self) -> Any:  # keys must not travel in pickles (task parameters, results)
        raise TypeError("S3Credentials are not picklable: pass the block name instead")

    def keywords(self, access: str, secret: str, token: str) -> dict[str, str]:
        """The keys as keyword arguments of an SDK that names them ``access``, ``secret``..."""
        keys = {access: self.access_key, secret: self.secret_key}
        if self.session_token:
            keys[token] = self.session_token
        return keys


def s3_credentials(block: str | None) -> S3Credentials | None:
    """The keys in the Prefect ``Secret`` block named ``block``; None without a block.

    The block's value is JSON (a string or an object) with ``aws_access_key_id``,
    ``aws_secret_access_key`` and optionally ``aws_session_token``. Without a block the SDKs
    find credentials themselves (``AWS_*`` variables, profiles, instance roles).
    """
    if not block:
        return None
    return _load_credentials(block)


@functools.lru_cache(maxsize=8)
def _load_credentials(block: str) -> S3Credentials:
    value = _read_secret_block(block)
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigurationError(
                f"Prefect Secret block {block!r} is not JSON: store "
                '{"aws_access_key_id": ..., "aws_secret_access_key": ...}'
            ) from None  # the decoder's message quotes the secret
    if not isinstance(value, dict):
        raise ConfigurationError(f"Prefect Secret block {block!r} must hold a JSON object")
    missing = [k for k in ("aws_access_key_id", "aws_secret_access_key") if not value.get(k)]
    if missing:
        raise ConfigurationError(f"Prefect Secret block {block!r} lacks {', '.join(missing)}")
    token = value.get("aws_session_token")
    return S3Credentials(
        access_key=str(value["aws_access_key_id"]),
        secret_key=str(value["aws_secret_access_key"]),
        session_token=str(token) if token else None,
    )


def _read_secret_block(block: str) -> object:
    """The value of a Prefect ``Secret`` block, through the Prefect API of this process.

    Imported by name when a block is configured: the domain package does not depend on Prefect
    (see the import-linter contract); only this optional credentials path talks to it.
    """
    try:
        secret_type = importlib.import_module("prefect.blocks.system").Secret
        return secret_type.load(block, _sync=True).get()
    except Exception as exc:  # noqa: BLE001 - any failure is the same for the user
        # The type only: a message from deep inside could quote what it was parsing.
        raise ConfigurationError(
            f"could not load the Prefect Secret block {block!r} named by "
            f"REPORTLAKE_S3_CREDENTIALS_BLOCK ({type(exc).__name__}): create it with "
            "Secret(value={...}).save(name) and check PREFECT_API_URL"
        ) from None


def resolve_location(
    uri: str,
    *,
    s3_endpoint_url: str | None = None,
    s3_region: str = "us-east-1",
    credentials_block: str | None = None,
) -> Location:
    """Turn ``./lake``, ``file:///x`` or ``s3://bucket/prefix`` into a :class:`Location`."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigurationError(f"S3 URI {uri!r} has no bucket: use s3://bucket/prefix")
        kwargs: dict[str, Any] = {"region": s3_region}
        if s3_endpoint_url:
            endpoint = check_endpoint(s3_endpoint_url)
            kwargs["endpoint_override"] = endpoint.netloc
            kwargs["scheme"] = endpoint.scheme
        credentials = s3_credentials(credentials_block)
        if credentials is not None:
            kwargs |= credentials.keywords("access_key", "secret_key", "session_token")
        fs = pafs.S3FileSystem(
            **kwargs,
            check_directory_existence_before_creation=False,
            # An object smaller than a part (every original, most Parquet files) then goes up
            # in one PutObject instead of a multipart upload's three requests; a failure is
            # raised when the stream closes, still inside the write's error handling.
            allow_delayed_open=True,
            allow_bucket_creation=False,
            allow_bucket_deletion=False,
            connect_timeout=S3_CONNECT_TIMEOUT_S,
            request_timeout=S3_REQUEST_TIMEOUT_S,
            # The default strategy retries without the standard strategy's retry quota, which
            # runs dry after ~100 retries and then fails every request of a throttled store.
            retry_strategy=pafs.AwsDefaultS3RetryStrategy(max_attempts=S3_MAX_ATTEMPTS),
        )
        root = (parsed.netloc + parsed.path).rstrip("/")
        return Location(
            fs=fs,
            root=root,
            uri=uri,
            endpoint=s3_endpoint_url or f"AWS S3 ({s3_region})",
            recipe=(uri, s3_endpoint_url, s3_region, credentials_block),
        )
    if parsed.scheme in {"", "file"}:
        path = parsed.path if parsed.scheme == "file" else uri
        return Location(fs=pafs.LocalFileSystem(), root=str(Path(path).resolve()), uri=uri)
    try:
        fs, root = pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ConfigurationError(f"unsupported lake/inbox URI {uri!r}: {exc}") from exc
    return Location(fs=fs, root=root.rstrip("/"), uri=uri)


def _resolve_s3(
    uri: str, endpoint: str | None, region: str, credentials_block: str | None
) -> Location:
    return resolve_location(
        uri, s3_endpoint_url=endpoint, s3_region=region, credentials_block=credentials_block
    )


def check_endpoint(url: str) -> Any:
    """The parsed ``REPORTLAKE_S3_ENDPOINT_URL``; ConfigurationError unless ``http(s)://host``."""
    endpoint = urlparse(url)
    if endpoint.scheme not in {"http", "https"} or not endpoint.netloc:
        raise ConfigurationError(
            f"REPORTLAKE_S3_ENDPOINT_URL {url!r} must look like http://host:port"
        )
    if endpoint.username or endpoint.password:
        raise ConfigurationError(
            "REPORTLAKE_S3_ENDPOINT_URL must not carry credentials: use AWS_* variables or "
            "REPORTLAKE_S3_CREDENTIALS_BLOCK"
        )
    return endpoint


@functools.cache
def mask_session_tokens_in_logs() -> None:
    """Mask AWS session tokens in log records of the AWS libraries (botocore logs them at DEBUG).

    Done once per process, by chaining the log record factory: records of other loggers, and
    all records when DEBUG is off (none are made), cost nothing.
    """
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        # logging.makeLogRecord makes a record with no name, then fills it in.
        if isinstance(record.name, str) and record.name.startswith(_AWS_LOGGERS):
            message = record.getMessage()
            masked = _SESSION_TOKEN.sub(r"\1***", message)
            if masked != message:
                record.msg, record.args = masked, None
        return record

    logging.setLogRecordFactory(factory)


def s3_client(
    *, endpoint_url: str | None, region: str, credentials_block: str | None = None
) -> Any:
    """A boto3 S3 client (for listing with ETags and conditional writes, which pyarrow lacks)."""
    import boto3
    from botocore.config import Config

    mask_session_tokens_in_logs()
    if endpoint_url:
        check_endpoint(endpoint_url)
    credentials = s3_credentials(credentials_block)
    keys = (
        credentials.keywords("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
        if credentials is not None
        else {}
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(
            retries={"max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"},
            connect_timeout=S3_CONNECT_TIMEOUT_S,
            read_timeout=S3_REQUEST_TIMEOUT_S,
        ),
        **keys,
    )


def exists(loc: Location, path: str) -> bool:
    return bool(loc.fs.get_file_info(path).type == pafs.FileType.File)


def read_bytes(loc: Location, path: str) -> bytes:
    with loc.fs.open_input_stream(path) as stream:
        return bytes(stream.read())


def write_bytes_atomic(loc: Location, path: str, data: bytes) -> None:
    """Write a whole object so that readers see the old content or the new, never a part."""
    with (
        _naming_failures(loc, path),
        _atomic_output(loc, path) as tmp,
        loc.fs.open_output_stream(tmp) as out,
    ):
        out.write(data)


def write_parquet_atomic(loc: Location, path: str, table: pa.Table) -> None:
    """Write one Parquet file atomically (rename locally; one completed upload on S3)."""
    with _naming_failures(loc, path), _atomic_output(loc, path) as tmp:
        pq.write_table(table, tmp, filesystem=loc.fs, compression="zstd")


@contextmanager
def _naming_failures(loc: Location, path: str) -> Iterator[None]:
    """Say which object could not be written, and where, keeping the error an OSError.

    Callers retry OSErrors as transient; a full disk (errno 28) or an unreachable endpoint
    then reads "... No space left on device (writing file:///lake/reports/...)".
    """
    try:
        yield
    except OSError as exc:
        where = loc.uri_of(path) + (f" via S3 endpoint {loc.endpoint}" if loc.endpoint else "")
        message = f"{exc.strerror or exc} (writing {where})"
        if exc.errno is None:
            raise type(exc)(message) from exc
        raise OSError(exc.errno, message) from exc


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
