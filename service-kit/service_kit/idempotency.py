"""``Idempotency-Key`` on POST: a retry gets the first response, a reused key with another body is refused.

The key is scoped to the caller (the verified token's subject, or anonymous) and the route. A reservation is committed
before the request runs, so a concurrent duplicate gets 409 while the first is running. The request's own unit
of work (``SessionDep``) is then committed *together with* the stored response, in one transaction: a replica
killed at any moment leaves either both (a retry replays the response) or neither (a retry runs the request
again, once the dead reservation is older than ``idempotency_stale_seconds``). A request that answered 5xx
releases its key so the client can retry.

A stored response may hold personal data, so it keeps only what a replay needs (status, ``Content-Type``,
``Location``, the body), sealed with the service's data key (``service_kit.protection``), and names the
resident it is about: the one the endpoint names with ``about_resident``, else the answer's ``resident_id`` (an
operator booking for a caller, a helper for a parent), else the calling resident's own record. Erasing the
resident deletes every record about them, under whoever's scope (``forget_resident``). A record lives
``idempotency_retention_seconds`` (24 h): the worker purges older ones (``purge_expired``), and a key older than
that is free even before the purge, so a retry after it runs as a new request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypedDict

from sqlalchemy import bindparam, delete, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.auth import Principal, TokenVerifier
from service_kit.db import UNIT_OF_WORK, UpsertOnce, UTCDateTime, execute_alone
from service_kit.errors import PROBLEM_JSON, Conflict, LinliError, ValidationFailed, problem_response
from service_kit.events.tables import idempotency_record
from service_kit.protection import Keyring, Purpose, SealedValueError
from service_kit.timeutil import utcnow

MAX_KEY_LENGTH = 255
# Where an endpoint names the resident its response is about (``about_resident``), in the request's state.
ABOUT_RESIDENT = "linli.idempotency.about_resident"


STORED_RESPONSE = Purpose("idempotency-response")


class Sealer(Protocol):
    """Seals a stored response at rest and opens it again."""

    def seal(self, plaintext: bytes) -> bytes: ...

    def open(self, sealed: bytes) -> bytes: ...


class KeyringSealer:
    """A stored response sealed with the service's data key (``service_kit.protection``, its own purpose). Records
    live 24 h, so a rotation needs no re-sealing: the retired key opens them until they are purged."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def seal(self, plaintext: bytes) -> bytes:
        return self.keyring.seal(STORED_RESPONSE, base64.b64encode(plaintext).decode("ascii")).encode("ascii")

    def open(self, sealed: bytes) -> bytes:
        return base64.b64decode(self.keyring.open(STORED_RESPONSE, sealed.decode("ascii")))


def about_resident(state: Any, resident_id: uuid.UUID | None) -> None:
    """Name the resident a request's response is about (``request.state``), so that erasing them deletes the
    response stored under its ``Idempotency-Key`` whoever sent it. Without it, the answer's own ``resident_id``
    names them, or else the caller's own record (see ``_about``)."""
    setattr(state, ABOUT_RESIDENT, resident_id)


async def _caller_of(scope: Scope, headers: dict[str, str]) -> tuple[str, Principal | None]:
    """Whose key this is: the *verified* subject of the bearer token, or anonymous. A token that does not verify
    is refused here, before any stored response is looked up: otherwise an unsigned token naming a victim's
    subject, sent straight to a service with the victim's key and body, would be answered with the victim's
    stored response."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "anonymous", None
    verifier: TokenVerifier = scope["app"].state.token_verifier
    principal = await verifier.verify(token.strip())  # Unauthorized (401) when it does not verify
    return f"sub:{principal.subject}"[:120], principal


class UnitOfWork(TypedDict):
    session: AsyncSession | None


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        stale_after: Callable[[], timedelta] = lambda: timedelta(seconds=30),
        retention: Callable[[], timedelta] = lambda: timedelta(hours=24),
        sealer: Callable[[], Sealer] | None = None,
    ) -> None:
        self.app = app
        self.get_sessionmaker = sessionmaker
        self.get_stale_after = stale_after
        self.get_retention = retention
        self.get_sealer = sealer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        try:
            await self._handle(scope, receive, send, headers, key)
        except LinliError as exc:
            await _send_problem(send, exc.to_problem(scope["path"]))

    async def _handle(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], key: str) -> None:
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ValidationFailed(
                "Idempotency-Key must be 1–255 printable characters.", code="invalid_idempotency_key"
            )
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        caller, principal = await _caller_of(scope, headers)
        path = scope["path"]
        request_hash = hashlib.sha256(path.encode() + b"\n" + body).hexdigest()
        sessionmaker = self.get_sessionmaker()
        reserved_at = await self._reserve(sessionmaker, caller, key, path, request_hash)
        if reserved_at is None:
            return await self._replay(sessionmaker, send, caller, key, path, request_hash)

        status = 500
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        held: list[Message] = []

        replayed = False

        async def replay_body() -> Message:
            # The body once, then the client's own channel (a streaming response listens there for a disconnect).
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            # Held back until the record is complete: a client retrying the moment it reads the response must
            # find the stored response, not a request "still in progress".
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            held.append(message)

        unit: UnitOfWork = {"session": None}
        state = scope.setdefault("state", {})
        state[UNIT_OF_WORK] = unit
        state.pop(ABOUT_RESIDENT, None)
        record = (
            (idempotency_record.c.scope == caller)
            & (idempotency_record.c.key == key)
            & (idempotency_record.c.created_at == reserved_at)  # still ours: not taken over as stale
        )
        completed = False
        try:
            await self.app(scope, replay_body, capture)
            if status < 500:
                about = _about(state, principal, response_headers, chunks)
                completed = await self._complete(
                    unit, sessionmaker, record, path, status, response_headers, chunks, about=about
                )
        finally:
            if unit["session"] is not None:
                await unit["session"].close()
            if not completed:
                # A 5xx, a crash of the handler, or a lost reservation: nothing of the request was committed;
                # the key is free for the client's retry.
                async with sessionmaker() as session, session.begin():
                    await session.execute(delete(idempotency_record).where(record))
        if not completed and status < 500:
            raise Conflict(
                "The request took too long and was taken over by a retry; its outcome is the retry's.",
                code="idempotency_superseded",
            )
        wake: Callable[[], None] | None = getattr(getattr(scope.get("app"), "state", None), "wake_relay", None)
        if wake is not None:
            wake()
        for message in held:
            await send(message)

    async def _complete(
        self,
        unit: UnitOfWork,
        sessionmaker: async_sessionmaker[AsyncSession],
        record: Any,
        path: str,
        status: int,
        response_headers: list[tuple[bytes, bytes]],
        chunks: list[bytes],
        *,
        about: uuid.UUID | None,
    ) -> bool:
        """Store the response in the request's own transaction and commit both; False when the reservation
        is no longer ours (the request outlived the stale limit and a retry took the key over).

        A ``Cache-Control: no-store`` response (a secret shown once) is not kept: a retry is told so."""
        kept = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in response_headers
            if k.lower() in (b"content-type", b"location")
        }
        body = b"".join(chunks)
        if any(k.lower() == b"cache-control" and b"no-store" in v.lower() for k, v in response_headers):
            problem = Conflict(
                "The first answer to this request held a secret shown only once, so it was not kept; the request "
                "did succeed. Replace the secret (rotate it) if that answer was lost.",
                code="response_not_replayable",
            ).to_problem(path)
            status, kept, body = 409, {"content-type": PROBLEM_JSON}, json.dumps(problem, ensure_ascii=False).encode()
        session = unit["session"] or sessionmaker()
        unit["session"] = session
        done = await session.execute(
            update(idempotency_record)
            .where(record, idempotency_record.c.status == "in_progress")
            .values(
                status="done",
                response_status=status,
                response_headers=kept,
                response_body=self._seal(body),
                resident_id=about,
            )
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            return False
        await session.commit()
        return True

    async def _reserve(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        caller: str,
        key: str,
        path: str,
        request_hash: str,
    ) -> datetime | None:
        """Reserve the key (committed at once, so a concurrent duplicate sees it); its time, or None when
        the key is taken. A reservation older than the stale limit belongs to a request that died, and any key past
        the retention is free whether or not the purge has run yet: such a record is taken over in place.

        One statement sent alone (``execute_alone``), built once: on PostgreSQL one round trip, where a delete of
        the stale record and an insert in a transaction took four."""
        now = utcnow()
        engine = sessionmaker.kw["bind"]
        row = {
            "scope": caller,
            "key": key,
            "method": "POST",
            "path": path[:500],
            "request_hash": request_hash,
            "status": "in_progress",
            "created_at": now,
            "stale_before": now - self.get_stale_after(),
            "expired_before": now - self.get_retention(),
        }
        taken = await execute_alone(sessionmaker, _RESERVE.statement(engine.dialect.name), row)
        return now if taken else None

    async def _replay(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        send: Send,
        caller: str,
        key: str,
        path: str,
        request_hash: str,
    ) -> None:
        async with sessionmaker() as session:
            row = (
                await session.execute(
                    select(idempotency_record).where(
                        idempotency_record.c.scope == caller, idempotency_record.c.key == key
                    )
                )
            ).first()
        if row is None:
            raise Conflict(
                "The request with this Idempotency-Key is being retried; try again.", code="idempotency_retry"
            )
        record: Any = row._mapping
        if record["request_hash"] != request_hash:
            raise ValidationFailed(
                "This Idempotency-Key was used with a different request.", code="idempotency_key_reused"
            )
        if record["status"] != "done":
            raise Conflict("A request with this Idempotency-Key is still in progress.", code="idempotency_in_progress")
        try:
            body = self._open(record["response_body"] or b"")
        except SealedValueError:
            # Sealed with a data key since dropped from the keyring (retired too early, or lost).
            raise Conflict(
                "The first answer to this request can no longer be read back; the request did succeed. "
                "Look up what it made (list it) instead of retrying.",
                code="response_not_replayable",
            ) from None
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (record["response_headers"] or {}).items()]
        headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": record["response_status"], "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _seal(self, body: bytes) -> bytes:
        return self.get_sealer().seal(body) if self.get_sealer is not None and body else body

    def _open(self, stored: bytes) -> bytes:
        if self.get_sealer is None or not stored.startswith(SEALED_PREFIX):
            return stored  # stored before responses were sealed (a JSON body never starts so)
        return self.get_sealer().open(stored)


# How a sealed record begins (``service_kit.protection``'s form); a JSON body never does.
SEALED_PREFIX = b"v2:"


def _about(
    state: dict[str, Any], principal: Principal | None, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> uuid.UUID | None:
    """The resident a response is about: the one the endpoint named (``about_resident``); else the ``resident_id``
    of the JSON answer (a booking, a complaint, a grant made by an operator or a helper for the resident); else
    the caller's own record."""
    if ABOUT_RESIDENT in state:
        named: uuid.UUID | None = state[ABOUT_RESIDENT]
        return named
    if any(k.lower() == b"content-type" and b"json" in v.lower() for k, v in headers):
        try:
            answer = json.loads(b"".join(chunks))
            return uuid.UUID(str(answer["resident_id"]))
        except (ValueError, TypeError, KeyError):
            pass
    return principal.resident_id if principal is not None else None


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID) -> int:
    """Delete every stored response about the resident, under whoever's scope it was stored (their own, an
    operator's, a helper's): part of erasing them, in the erasure's transaction. The number deleted."""
    result = await session.execute(delete(idempotency_record).where(idempotency_record.c.resident_id == resident_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge_expired(session: AsyncSession, retention: timedelta, *, now: datetime | None = None) -> int:
    """Delete the records older than ``retention`` (their keys are free already); the number deleted."""
    cutoff = (now or utcnow()) - retention
    result = await session.execute(delete(idempotency_record).where(idempotency_record.c.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _send_problem(send: Send, problem: dict[str, Any]) -> None:
    # Rendered as every refusal is (problem+json; on /open311 the GeoReport error list).
    response = problem_response(problem)
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


Middleware = Callable[[Scope, Receive, Send], Awaitable[None]]


# A key's reservation: a new record, or one taken over when its request died (in progress past the stale limit) or
# its retention has run out; nothing when the key is live (RETURNING returns no row).
_RESERVE = UpsertOnce(
    idempotency_record,
    lambda insert: insert.on_conflict_do_update(
        index_elements=[idempotency_record.c.scope, idempotency_record.c.key],
        set_={
            **{name: insert.excluded[name] for name in ("method", "path", "request_hash", "status", "created_at")},
            **{name: null() for name in ("response_status", "response_headers", "response_body", "resident_id")},
        },
        where=(
            (idempotency_record.c.status == "in_progress")
            & (idempotency_record.c.created_at < bindparam("stale_before", type_=UTCDateTime()))
        )
        | (idempotency_record.c.created_at < bindparam("expired_before", type_=UTCDateTime())),
    ).returning(idempotency_record.c.created_at),
)
