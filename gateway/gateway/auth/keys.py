"""The issuer's Ed25519 signing keys: PEM files, generated once when missing, published as JWKs.

The current key is the configured file (``gateway-signing-key.pem``). Rotating moves it aside as
``<stem>.retired-<unix time>-<kid>.pem`` in the same folder and puts a new key in its place. A retired key
no longer signs, but stays published in the JWKS until every token it signed has expired; then the next
rotation deletes it. Every gateway replica reads the same folder, and reloads it when it changes."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service_kit.auth import GATEWAY_SUBJECT

ALGORITHM = "EdDSA"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey

    @property
    def public_x(self) -> str:
        raw = self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return _b64url(raw)

    @property
    def kid(self) -> str:
        """The RFC 7638 thumbprint: stable for a key, different for the next one."""
        canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": self.public_x}, separators=(",", ":"))
        return _b64url(hashlib.sha256(canonical.encode()).digest())

    def public_jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": self.public_x, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def sign_call(self, issuer: str, audience: str, scope: str, *, seconds: int = 60) -> str:
        """The gateway's own token for a call to a service (subject ``linli-gateway``, one ``gateway:`` scope, a
        minute long): only the gateway's keys make such a scope count (service_kit.auth.require_gateway)."""
        now = datetime.now(UTC)
        return self.sign(
            {
                "iss": issuer,
                "aud": audience,
                "sub": GATEWAY_SUBJECT,
                "iat": int(now.timestamp()),
                "exp": int((now + timedelta(seconds=seconds)).timestamp()),
                "jti": str(uuid.uuid4()),
                "roles": [],
                "scope": scope,
            }
        )


def _read(path: Path) -> SigningKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return SigningKey(key)


def _new_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(folder: Path, pem: bytes) -> str:
    """A new private file (mode 0600) in ``folder`` holding ``pem``, fsynced; returns its path."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".signing-key-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


def load_or_create(path: Path, *, create: bool = True) -> SigningKey:
    """Read the key at ``path``; when it is missing and ``create`` is allowed, generate one.

    The new key is written to a private temporary file and linked into place, so two gateways starting
    at once both end up with the same key (the second link fails and that process reads the first key)."""
    if path.exists():
        return _read(path)
    if not create:
        raise FileNotFoundError(f"the gateway's signing key {path} is missing")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = _write_private(path.parent, _new_pem())
    try:
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return _read(path)


@dataclass(frozen=True)
class RetiredKey:
    key: SigningKey
    retired_at: datetime


@dataclass(frozen=True)
class Keyring:
    """The key that signs, and the retired keys whose tokens may still be alive."""

    current: SigningKey
    retired: tuple[RetiredKey, ...] = ()

    def verifying_keys(self, now: datetime, keep_for: timedelta) -> list[SigningKey]:
        """The current key, then each retired key still within ``keep_for`` of its retirement, newest first."""
        alive = [
            r for r in sorted(self.retired, key=lambda r: r.retired_at, reverse=True) if r.retired_at + keep_for > now
        ]
        return [self.current, *(r.key for r in alive)]

    def jwks(self, now: datetime, keep_for: timedelta) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self.verifying_keys(now, keep_for)]}

    @property
    def kids(self) -> tuple[str, ...]:
        return (self.current.kid, *(r.key.kid for r in self.retired))


_RETIRED = re.compile(r"\.retired-(\d+)-[A-Za-z0-9_-]+\.pem$")


def _retired_files(path: Path) -> list[tuple[Path, datetime]]:
    found = []
    for candidate in path.parent.glob(f"{path.stem}.retired-*.pem"):
        if match := _RETIRED.search(candidate.name):
            found.append((candidate, datetime.fromtimestamp(int(match.group(1)), UTC)))
    return found


def load_keyring(path: Path, *, create: bool = True) -> Keyring:
    current = load_or_create(path, create=create)
    retired = tuple(RetiredKey(_read(file), retired_at) for file, retired_at in _retired_files(path))
    return Keyring(current=current, retired=retired)


def rotate(path: Path, *, now: datetime, keep_for: timedelta) -> Keyring:
    """Retire the current key, sign with a new one from now on, and delete retired keys nobody needs any more.

    Rotations are serialized by a lock file, so two at once retire both keys instead of losing one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path.parent / f".{path.stem}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = load_or_create(path)
        retired_name = f"{path.stem}.retired-{int(now.timestamp())}-{current.kid[:16]}.pem"
        with contextlib.suppress(FileExistsError):
            os.link(path, path.parent / retired_name)
        tmp = _write_private(path.parent, _new_pem())
        os.replace(tmp, path)
        for file, retired_at in _retired_files(path):
            if retired_at + keep_for <= now:
                file.unlink(missing_ok=True)
    return load_keyring(path, create=False)
