"""Where documents' bytes live: content-addressed, by their sha256.

Two stores with one interface (``Store``: ``put`` answers the content's sha256, ``get`` answers the content of
one), chosen by ``LINLI_DOCUMENTS_STORE`` (``store_from_settings``):

- ``FileStore`` (``file``, the default) keeps each content once under a directory (a volume in production:
  ``LINLI_DOCUMENTS_DIR``), at ``ab/cd/<sha256>``;
- ``S3Store`` (``s3``) keeps it in a bucket of an S3-compatible object store (``LINLI_DOCUMENTS_S3_*``), under the
  key ``<service>/ab/cd/<sha256>``, through aiobotocore (botocore's asyncio client).

In both the same bytes uploaded twice are stored once, and a read checks the content against its name
(``DamagedContent`` otherwise), so content damaged on the volume or in the bucket is never served as if it were
the document. A checksum stored nowhere is ``FileNotFoundError`` in both."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from service_kit.errors import DependencyUnavailable

log = structlog.get_logger("linli.documents")

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

    from service_kit.settings import ServiceSettings


class DamagedContent(RuntimeError):
    """Stored bytes no longer match their checksum."""


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 checksum")
    return sha256


def _verified(data: bytes, sha256: str) -> bytes:
    if checksum(data) != sha256:
        raise DamagedContent(f"stored content {sha256} does not match its checksum")
    return data


class Store(Protocol):
    async def put(self, data: bytes) -> str:
        """Store ``data`` (once) and answer its sha256."""

    async def get(self, sha256: str) -> bytes:
        """The content named ``sha256``, checked against it."""


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        _checked(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, data: bytes) -> str:
        """Store ``data`` (once) and answer its sha256."""
        return await asyncio.to_thread(self._put, data)

    async def get(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self._get, sha256)

    def _put(self, data: bytes) -> str:
        sha256 = checksum(data)
        path = self.path_of(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed into place: a reader never sees half a file, and two uploads of the same
        # bytes at once each rename a whole copy onto the same name.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return sha256

    def _get(self, sha256: str) -> bytes:
        return _verified(self.path_of(sha256).read_bytes(), sha256)


class S3Store:
    """Documents in a bucket of an S3-compatible object store (AWS S3, MinIO, Ceph RGW, a cloud's OSS/COS with
    its S3 API). ``credentials`` (access key id, secret) None: botocore's own chain (``AWS_*`` variables, a
    pod's web identity). A client is opened per operation on one session (which caches the API model): documents
    are uploaded and downloaded a few times a minute, and a client bound to no event loop survives app restarts
    and test loops alike."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        credentials: tuple[str, str] | None = None,
        addressing_style: str = "path",
        timeout_seconds: float = 10.0,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self.credentials = credentials
        # botocore is imported by a store that uses it, not by every service's start (a tenth of a second or more
        # of each process's start, on every machine where documents are files).
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        self.config = AioConfig(
            s3={"addressing_style": addressing_style},
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            retries={"max_attempts": 3, "mode": "standard"},
            # The content is checked by its sha256 on every read; botocore's own CRC is asked only when needed.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.session = get_session()

    def key_of(self, sha256: str) -> str:
        _checked(sha256)
        return f"{self.prefix}/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Any]:
        options: dict[str, Any] = {"region_name": self.region, "endpoint_url": self.endpoint_url, "config": self.config}
        if self.credentials is not None:
            options["aws_access_key_id"], options["aws_secret_access_key"] = self.credentials
        async with self.session.create_client("s3", **options) as client:
            yield client

    async def put(self, data: bytes) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        sha256 = checksum(data)
        key = self.key_of(sha256)
        try:
            async with self.client() as s3:
                try:
                    await s3.head_object(Bucket=self.bucket, Key=key)
                    return sha256  # stored already: the same bytes are kept once
                except ClientError as exc:
                    if _status(exc) != 404:
                        raise
                # An object appears whole or not at all; two uploads of the same bytes at once write one object.
                await s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/octet-stream")
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc
        return sha256

    async def get(self, sha256: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.key_of(sha256)
        try:
            async with self.client() as s3:
                try:
                    answer = await s3.get_object(Bucket=self.bucket, Key=key)
                except ClientError as exc:
                    if _status(exc) == 404:
                        raise FileNotFoundError(f"no stored content {sha256}") from exc
                    raise
                async with answer["Body"] as body:
                    data: bytes = await body.read()
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable(exc) from exc
        return _verified(data, sha256)


def _unavailable(error: Exception) -> DependencyUnavailable:
    """An object store that cannot be reached or refuses Linli (its credentials, its bucket) is an outage for the
    caller: 503, to retry; the cause is in the log, not in the answer."""
    log.warning("document store unavailable", error=repr(error))
    return DependencyUnavailable(
        "The document store cannot be reached; try again shortly.", code="document_store_unavailable", retry_after=5
    )


def _status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def store_from_settings(service: str, settings: ServiceSettings) -> FileStore | S3Store:
    """The store ``LINLI_DOCUMENTS_STORE`` names, for ``service``'s documents (a directory or a key prefix of its
    own)."""
    if settings.documents_store == "s3":
        assert settings.documents_s3_bucket is not None  # the settings refuse s3 without a bucket
        key, secret = settings.documents_s3_access_key_id, settings.documents_s3_secret_access_key
        return S3Store(
            settings.documents_s3_bucket,
            service,
            endpoint_url=settings.documents_s3_endpoint_url,
            region=settings.documents_s3_region,
            credentials=(key.get_secret_value(), secret.get_secret_value()) if key and secret else None,
            addressing_style=settings.documents_s3_addressing_style,
        )
    root = settings.documents_dir or Path(settings.var_dir) / "documents"
    return FileStore(root / service)
