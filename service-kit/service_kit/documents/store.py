"""Where documents' bytes live: content-addressed, by their sha256.

``FileStore`` keeps each content once under a directory (a volume in production: ``LINLI_DOCUMENTS_DIR``), at
``ab/cd/<sha256>``; the same bytes uploaded twice are stored once. A read checks the content against its name, so
a file damaged on the volume is never served as if it were the document."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path


class DamagedContent(RuntimeError):
    """Stored bytes no longer match their checksum."""


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 checksum")
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
        data = self.path_of(sha256).read_bytes()
        if checksum(data) != sha256:
            raise DamagedContent(f"stored content {sha256} does not match its checksum")
        return data
