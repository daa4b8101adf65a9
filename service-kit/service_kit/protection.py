"""Personal data at rest: fields sealed with AES-GCM, found again through a keyed blind index (HMAC-SHA256).

One ``Keyring`` per process, made from the settings (``Keyring.from_settings``) and carried by every session the
kit makes (``keyring_of(session)``)::

    stored = keyring.seal(PHONE, "+8613812345678")     # "v2:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>"
    keyring.open(PHONE, stored)                        # "+8613812345678"
    keyring.blind_index(PHONE, "+8613812345678")       # 64 hex digits: the column an exact lookup compares

**Purposes.** Every key is derived (HKDF-SHA256) from a secret of the settings and a ``Purpose`` label, so a phone's
index never equals an ID number's, the index key never decrypts and the encryption key never indexes; the label is
also the ciphertext's associated data, so a value sealed for one purpose does not open as another.

**Keys and rotation.** ``data_key`` seals; the keys in ``data_keys_retired`` still open what they sealed, and the
background job (``resealing``) seals those values again with the current key, in batches, until a retired key
may be dropped from the settings. The stored form names its key (the first 8 hex digits of an HMAC of it), so
opening needs no guess and the job finds stale values with ``NOT LIKE keyring.current_prefix + '%'``. The older
``v1:<base64>`` form (booking's ID numbers before this module) names no key: every known key is tried.

**The blind index key stays** across rotations: ``data_index_key``, or the data key while that is unset (the
settings refuse retired keys without it). Why not one index per key: a unique index column (one resident per phone)
is what makes two registrations of one phone at once fail; with an index per key, a row indexed under the old key
and one under the new would both be accepted while the job runs, and every lookup would try every key. An index
key is rotated by setting a new one and rebuilding the index columns from the opened values, which this module
does not do.

**Models** read a sealed column as plain text through ``Sealed`` (a read-only attribute that opens it with the
keyring of the object's session); writes give the sealed and index columns (``seal``, ``blind_index``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from sqlalchemy import RowMapping, Table, TableClause, and_, event, not_, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, object_session

if TYPE_CHECKING:
    from service_kit.runtime import BackgroundJob, Runtime
    from service_kit.settings import ServiceSettings

log = structlog.get_logger("linli.protection")

# The HKDF salt: booking's, where sealing began; kept so that the ID numbers sealed before still open.
_SALT = b"linli-booking"
_NONCE = 12
# Where a session made by ``service_kit.db.create_sessionmaker`` keeps its keyring (``Session.info``).
KEYRING_INFO = "linli.keyring"


class SealedValueError(ValueError):
    """A stored value that does not open: unknown form, a key the keyring does not hold, or tampered with."""


@dataclass(frozen=True)
class Purpose:
    """What a sealed field holds. ``label`` separates its keys from every other purpose's; ``aad`` (default
    ``linli.<label>``) binds each ciphertext to it."""

    label: str
    aad_override: bytes | None = None

    @property
    def aad(self) -> bytes:
        return self.aad_override or f"linli.{self.label}".encode()


# The purposes of more than one service. A service's own: ``Purpose("its-label")`` (a new label, never reused).
PHONE = Purpose("phone")
PHONE_LAST4 = Purpose("phone-last4")  # index only: the last 4 digits of an E.164 phone
ID_CARD = Purpose("id-card", b"linli.booking.resident.id_card")


def _derive(secret: bytes, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info.encode()).derive(secret)


def _secret(value: SecretStr | str) -> bytes:
    return (value.get_secret_value() if isinstance(value, SecretStr) else value).encode()


@dataclass
class _Key:
    secret: bytes
    _cache: dict[str, bytes] = field(default_factory=dict)

    @cached_property
    def kid(self) -> str:
        return hmac.new(self.secret, b"linli key id", hashlib.sha256).hexdigest()[:8]

    def derived(self, info: str) -> bytes:
        if info not in self._cache:
            self._cache[info] = _derive(self.secret, info)
        return self._cache[info]

    def aead(self, purpose: Purpose) -> AESGCM:
        return AESGCM(self.derived(f"{purpose.label}-encryption"))


class Keyring:
    """The current sealing key, the retired ones that still open, and the blind index key."""

    def __init__(
        self,
        current: SecretStr | str,
        retired: Iterable[SecretStr | str] = (),
        *,
        index_key: SecretStr | str | None = None,
    ) -> None:
        self._current = _Key(_secret(current))
        self._keys = {self._current.kid: self._current}
        for old in retired:
            key = _Key(_secret(old))
            self._keys.setdefault(key.kid, key)
        self._index = _Key(_secret(index_key)) if index_key is not None else self._current

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Keyring:
        return cls(settings.data_key, settings.data_keys_retired, index_key=settings.data_index_key)

    @property
    def current_prefix(self) -> str:
        """How every value sealed with the current key begins."""
        return f"v2:{self._current.kid}:"

    def seal(self, purpose: Purpose, plaintext: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._current.aead(purpose).encrypt(nonce, plaintext.encode(), purpose.aad)
        return self.current_prefix + base64.b64encode(nonce + sealed).decode()

    def open(self, purpose: Purpose, stored: str) -> str:
        """The plain text of ``stored``; ``SealedValueError`` when no known key opens it."""
        version, _, rest = stored.partition(":")
        if version == "v2":
            kid, _, body = rest.partition(":")
            key = self._keys.get(kid)
            if key is None:
                raise SealedValueError(f"sealed with key {kid}, which is not in the keyring")
            candidates = [key]
        elif version == "v1":
            body, candidates = rest, list(self._keys.values())
        else:
            raise SealedValueError("unknown sealed-value version")
        try:
            raw = base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise SealedValueError("the sealed value is not base64") from exc
        for key in candidates:
            try:
                return key.aead(purpose).decrypt(raw[:_NONCE], raw[_NONCE:], purpose.aad).decode()
            except InvalidTag:
                continue
        raise SealedValueError("the sealed value does not open with any key of the keyring")

    def is_current(self, stored: str) -> bool:
        """Whether ``stored`` was sealed with the current key (nothing for the background job to do)."""
        return stored.startswith(self.current_prefix)

    def blind_index(self, purpose: Purpose, value: str) -> str:
        """The keyed hash an exact lookup compares (64 hex digits); the same across data-key rotations."""
        return hmac.new(self._index.derived(f"{purpose.label}-blind-index"), value.encode(), hashlib.sha256).hexdigest()

    def signing_key(self, label: str) -> bytes:
        """A key for signing what leaves Linli and comes back (e.g. a document's link: ``label`` "document-links"):
        derived from the index key, so what was signed stays valid across data-key rotations."""
        return self._index.derived(f"{label}-signing")

    def phone_indexes(self, e164: str) -> tuple[str, str]:
        """A phone's exact index and its last-4-digits index."""
        return self.blind_index(PHONE, e164), self.blind_index(PHONE_LAST4, e164[-4:])


def keyring_of(session: AsyncSession | Session) -> Keyring:
    """The keyring of a session made by ``service_kit.db.create_sessionmaker(engine, keyring=...)``."""
    keyring = session.info.get(KEYRING_INFO)
    if keyring is None:
        raise RuntimeError("this session carries no keyring: make it with create_sessionmaker(engine, keyring=...)")
    return cast(Keyring, keyring)


class Sealed:
    """A model's plain-text view of a sealed column, read only::

        phone_sealed: Mapped[str | None] = mapped_column(String(120))
        phone = Sealed("phone_sealed", PHONE)

    ``instance.phone`` opens ``phone_sealed`` with the keyring of the instance's session (remembered, so a
    detached instance still reads). On the class it is no SQL expression: compare the blind index column instead
    (``Model.phone == x`` raises ``TypeError`` rather than silently comparing nothing)."""

    def __init__(self, column: str, purpose: Purpose) -> None:
        self.column = column
        self.purpose = purpose
        self.name = column

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        _SEALED_MODELS.add(owner)

    def __get__(self, instance: object | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        stored = getattr(instance, self.column)
        if stored is None:
            return None
        state = instance.__dict__
        opened: dict[str, str] = state.setdefault("_linli_opened", {})
        if stored not in opened:
            opened[stored] = _keyring_for(instance).open(self.purpose, stored)
        return opened[stored]

    def __eq__(self, other: object) -> bool:
        raise TypeError(f"{self.name} is sealed: compare its blind index column, not the field")

    __ne__ = __eq__
    __hash__ = object.__hash__


_SEALED_MODELS: set[type] = set()


@event.listens_for(Session, "loaded_as_persistent")
@event.listens_for(Session, "transient_to_pending")
def _remember_keyring(session: Session, instance: object) -> None:
    """An instance with sealed fields keeps its session's keyring: it still opens them once detached."""
    if type(instance) in _SEALED_MODELS and KEYRING_INFO in session.info:
        instance.__dict__["_linli_keyring"] = session.info[KEYRING_INFO]


def _keyring_for(instance: object) -> Keyring:
    session = object_session(instance)
    keyring = session.info.get(KEYRING_INFO) if session is not None else None
    if keyring is not None:
        instance.__dict__["_linli_keyring"] = keyring
        return cast(Keyring, keyring)
    remembered = instance.__dict__.get("_linli_keyring")
    if remembered is None:
        raise RuntimeError("a sealed field is read outside any session that carries a keyring")
    return cast(Keyring, remembered)


# ------------------------------------------------------------------ re-sealing after a rotation


@dataclass(frozen=True)
class SealedColumns:
    """The sealed columns of one model's table, by name, and the purpose each was sealed for."""

    model: type[Any]
    columns: Mapping[str, Purpose]

    @property
    def table(self) -> Table:
        return cast(Table, self.model.__table__)


async def reseal_batch(
    session: AsyncSession, target: SealedColumns, *, after: Any = None, batch: int
) -> tuple[int, Any]:
    """Seal again with the current key the values of up to ``batch`` rows of ``target`` (primary key above
    ``after``) holding one sealed with another key: how many rows changed, and the last primary key looked at
    (None when the table has no more such rows).

    Each row is written only if its sealed values are still those read (a change made meanwhile wins; the row
    is looked at again on the next pass). On PostgreSQL the rows are taken ``FOR UPDATE SKIP LOCKED``, so two
    workers share the work; on SQLite the write transaction serializes them. Run it again and nothing changes."""
    keyring = keyring_of(session)
    (pk,) = target.table.primary_key.columns
    prefix = keyring.current_prefix + "%"
    cols = {name: target.table.c[name] for name in target.columns}
    stale = or_(*(and_(col.is_not(None), not_(col.like(prefix))) for col in cols.values()))
    query = select(pk, *cols.values()).where(stale).order_by(pk).limit(batch)
    if after is not None:
        query = query.where(pk > after)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = (await session.execute(query)).all()
    changed = 0
    for row in rows:
        found = row._mapping
        values: dict[str, str] = {}
        for name, purpose in target.columns.items():
            stored = found[name]
            if stored is None or keyring.is_current(stored):
                continue
            try:
                values[name] = keyring.seal(purpose, keyring.open(purpose, stored))
            except SealedValueError as exc:
                log.error(
                    "sealed value opens with no key", table=target.table.name, id=str(found[pk.name]), error=str(exc)
                )
        if not values:
            continue
        guard = [pk == found[pk.name], *(cols[name] == found[name] for name in values)]
        result = await session.execute(update(target.table).where(*guard).values(**values))
        changed += result.rowcount  # type: ignore[attr-defined]
    last = rows[-1]._mapping[pk.name] if len(rows) == batch else None
    return changed, last


async def reseal(
    sessionmaker: async_sessionmaker[AsyncSession],
    targets: Sequence[SealedColumns],
    *,
    batch: int,
    stopping: asyncio.Event | None = None,
) -> int:
    """One pass over ``targets``: every value sealed with a retired key (or in the old ``v1`` form) sealed again
    with the current one, ``batch`` rows per transaction (the pass ends early, between two, once ``stopping`` is
    set); how many rows changed."""
    changed = 0
    for target in targets:
        after: Any = None
        while stopping is None or not stopping.is_set():
            async with sessionmaker() as session, session.begin():
                done, after = await reseal_batch(session, target, after=after, batch=batch)
            changed += done
            if after is None:
                break
    if changed:
        log.info("sealed again with the current data key", rows=changed)
    return changed


def resealing(targets: Sequence[SealedColumns]) -> BackgroundJob:
    """The background job that re-seals ``targets`` every ``data_reseal_sweep_seconds`` (a service's
    ``background_jobs``): after a data-key rotation, every row ends up sealed with the new key."""

    async def reseal_sealed_data(runtime: Runtime) -> None:
        settings = runtime.settings
        while runtime.running:
            await reseal(runtime.sessionmaker, targets, batch=settings.data_reseal_batch, stopping=runtime.stopping)
            await runtime.sleep(settings.data_reseal_sweep_seconds)

    return reseal_sealed_data


# ------------------------------------------------------------------ migrations


def rewrite_rows(
    connection: Connection,
    table: TableClause,
    key: str,
    write: Callable[[RowMapping], dict[str, Any]],
    *,
    batch: int = 500,
) -> int:
    """For a migration that seals (or opens) a column: every row of ``table`` (read ``batch`` at a time, in the
    order of the unique column ``key``) updated with the values ``write`` gives for it (none: left as it is).
    Works alike on SQLite and PostgreSQL; how many rows were written."""
    column = table.c[key]
    written, last = 0, None
    while True:
        query = select(table).order_by(column).limit(batch)
        if last is not None:
            query = query.where(column > last)
        rows = connection.execute(query).mappings().all()
        for row in rows:
            values = write(row)
            if values:
                connection.execute(update(table).where(column == row[key]).values(**values))
                written += 1
        if len(rows) < batch:
            return written
        last = rows[-1][key]


async def reseal_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    targets: Sequence[SealedColumns],
    *,
    every_seconds: float,
    batch: int,
    stopping: asyncio.Event,
) -> None:
    """``resealing``'s loop for a process without a ``Runtime`` (the gateway's replicas): a pass, then a pause,
    until ``stopping`` is set (never cancelled inside a transaction, see ``service_kit.idle``); a failed pass is
    logged and tried again at the next."""
    while not stopping.is_set():
        try:
            await reseal(sessionmaker, targets, batch=batch, stopping=stopping)
        except Exception as exc:  # the next pass tries again; the server keeps serving
            log.exception("re-sealing failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=every_seconds)
