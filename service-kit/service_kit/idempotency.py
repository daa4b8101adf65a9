"""``Idempotency-Key`` on POST: a retry gets the first response, a reused key with another body is refused.

The key is scoped to the caller (the token's subject, or anonymous) and the route. The record is written
before the request runs (a concurrent duplicate then gets 409) and completed with the response; a request
that failed with a 5xx or crashed releases its key so the client can retry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import jwt
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.errors import PROBLEM_JSON, Conflict, LinliError, ValidationFailed
from service_kit.events.tables import idempotency_record
from service_kit.timeutil import utcnow

STALE_AFTER = timedelta(minutes=2)
MAX_KEY_LENGTH = 255


def _scope_of(headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        try:
            # The route verifies the token; here the subject only partitions keys between callers.
            claims = jwt.decode(auth[7:].strip(), options={"verify_signature": False})
            return f"sub:{claims.get('sub', '')}"[:120]
        except jwt.PyJWTError:
            return "invalid-token"
    return "anonymous"


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, sessionmaker: Callable[[], async_sessionmaker[AsyncSession]]) -> None:
        self.app = app
        self.get_sessionmaker = sessionmaker

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
        caller = _scope_of(headers)
        path = scope["path"]
        request_hash = hashlib.sha256(path.encode() + b"\n" + body).hexdigest()
        sessionmaker = self.get_sessionmaker()
        if not await self._reserve(sessionmaker, caller, key, path, request_hash):
            return await self._replay(sessionmaker, send, caller, key, path, request_hash)

        status = 500
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        held: list[Message] = []

        async def replay_body() -> Message:
            nonlocal body
            chunk, body = body, b""
            return {"type": "http.request", "body": chunk, "more_body": False}

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

        try:
            await self.app(scope, replay_body, capture)
        finally:
            async with sessionmaker() as session, session.begin():
                record = (idempotency_record.c.scope == caller) & (idempotency_record.c.key == key)
                if status >= 500:
                    await session.execute(delete(idempotency_record).where(record))
                else:
                    kept = {
                        k.decode("latin-1"): v.decode("latin-1")
                        for k, v in response_headers
                        if k.lower() in (b"content-type", b"location")
                    }
                    await session.execute(
                        update(idempotency_record)
                        .where(record)
                        .values(
                            status="done",
                            response_status=status,
                            response_headers=kept,
                            response_body=b"".join(chunks),
                        )
                    )
        for message in held:
            await send(message)

    async def _reserve(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        caller: str,
        key: str,
        path: str,
        request_hash: str,
    ) -> bool:
        try:
            async with sessionmaker() as session, session.begin():
                await session.execute(
                    delete(idempotency_record).where(
                        idempotency_record.c.scope == caller,
                        idempotency_record.c.key == key,
                        idempotency_record.c.status == "in_progress",
                        idempotency_record.c.created_at < utcnow() - STALE_AFTER,
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
                        created_at=utcnow(),
                    )
                )
            return True
        except IntegrityError:
            return False

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
