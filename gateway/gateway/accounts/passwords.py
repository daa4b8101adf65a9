"""Argon2id password hashes (pwdlib's recommended parameters), computed off the event loop."""

import asyncio
from functools import cache

from pwdlib import PasswordHash

_hasher = PasswordHash.recommended()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches; and a new hash when the stored one uses outdated parameters."""
    return await asyncio.to_thread(_hasher.verify_and_update, password, password_hash)


@cache
def _decoy_hash() -> str:
    return _hasher.hash("linli-decoy-password")


async def spend_verification_time(password: str) -> None:
    """Verify against a decoy so an unknown username costs as long as a wrong password (no user enumeration)."""
    await asyncio.to_thread(_hasher.verify, password, _decoy_hash())
