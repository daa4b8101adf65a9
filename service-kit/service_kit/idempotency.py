"""``Idempotency-Key`` on POST: a retry gets the first response, a reused key with another body is refused.

The key is scoped to the caller (the verified token's subject, or anonymous) and the route. A reservation is committed
before the request runs, so a concurrent duplicate gets 409 while the first is running. The request's own unit
of work (``SessionDep``) is then committed *together with* the stored response, in one transaction: a replica
killed at any moment leaves either both (a retry replays the response) or neither (a retry runs the request
again, once the dead reservation is older than ``idempotency_stale_seconds``). A request that answered 5xx
releases its key so the client can retry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypedDict

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.auth import TokenVerifier
from service_kit.db import UNIT_OF_WORK
from service_kit.errors import PROBLEM_JSON, Conflict, LinliError, ValidationFailed
from service_kit.events.tables import idempotency_record
from service_kit.timeutil import utcnow

MAX_KEY_LENGTH = 255


async def _scope_of(scope: Scope, headers: dict[str, str]) -> str:
    """Whose key this is: the *verified* subject of the bearer token, or anonymous. A token that does not verify
    is refused here, before any stored response is looked up: otherwise an unsigned token naming a victim's
    subject, sent straight to a service with the victim's key and body, would be answered with the victim's
    stored response."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "anonymous"
    verifier: TokenVerifier = scope["app"].state.token_verifier
    principal = await verifier.verify(token.strip())  # Unauthorized (401) when it does not verify
    return f"sub:{principal.subject}"[:120]


class UnitOfWork(TypedDict):
    session: AsyncSession | None


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        stale_after: Callable[[], timedelta] = lambda: timedelta(seconds=30),
    ) -> None:
        self.app = app
        self.get_sessionmaker = sessionmaker
        self.get_stale_after = stale_after

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
        caller = await _scope_of(scope, headers)
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
        scope.setdefault("state", {})[UNIT_OF_WORK] = unit
        record = (
            (idempotency_record.c.scope == caller)
            & (idempotency_record.c.key == key)
            & (idempotency_record.c.created_at == reserved_at)  # still ours: not taken over as stale
        )
        completed = False
        try:
            await self.app(scope, replay_body, capture)
            if status < 500:
                completed = await self._complete(unit, sessionmaker, record, path, status, response_headers, chunks)
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
            .values(status="done", response_status=status, response_headers=kept, response_body=body)
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
        the key is taken. A reservation older than the stale limit belongs to a request that died."""
        now = utcnow()
        try:
            async with sessionmaker() as session, session.begin():
                await session.execute(
                    delete(idempotency_record).where(
                        idempotency_record.c.scope == caller,
                        idempotency_record.c.key == key,
                        idempotency_record.c.status == "in_progress",
                        idempotency_record.c.created_at < now - self.get_stale_after(),
                    )
                )
                await session.execute(
                    insert(idempotency_record).values(
                        scope=caller,
                        key=key,
                        method="POST",
                        path=path[:500],
                        request_hash=request_hash,
                        status="in_progress",
                        created_at=now,
                    )
                )
            return now
        except IntegrityError:
            return None

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
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (record["response_headers"] or {}).items()]
        headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": record["response_status"], "headers": headers})
        await send({"type": "http.response.body", "body": record["response_body"] or b""})


async def _send_problem(send: Send, problem: dict[str, Any]) -> None:
    body = json.dumps(problem, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem["status"],
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


Middleware = Callable[[Scope, Receive, Send], Awaitable[None]]
