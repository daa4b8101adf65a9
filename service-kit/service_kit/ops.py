"""Operations endpoints every service has: dead letters, listed and replayed by an admin."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import func, select, update

from service_kit.auth import Principal, Role, require_roles
from service_kit.db import SessionDep
from service_kit.errors import Conflict, NotFound, error_responses
from service_kit.events.consumer import apply_event
from service_kit.events.envelope import Envelope, MalformedEvent
from service_kit.events.tables import dead_letter
from service_kit.routing import service_router
from service_kit.timeutil import utcnow


class DeadLetter(BaseModel):
    id: uuid.UUID
    consumer: str
    event_id: str
    type: str
    nats_subject: str
    error: str
    deliveries: int
    status: Literal["dead", "replayed"]
    created_at: datetime
    replayed_at: datetime | None
    data: Any = None


class DeadLetterPage(BaseModel):
    items: list[DeadLetter]
    total: int


def _to_model(row: Any) -> DeadLetter:
    payload = bytes(row["payload"])
    try:
        import json

        data = json.loads(payload)
    except ValueError:
        data = payload.decode("utf-8", "replace")
    return DeadLetter(**{k: row[k] for k in DeadLetter.model_fields if k != "data"}, data=data)


Admin = Annotated[Principal, Depends(require_roles(Role.admin))]


def dead_letter_router(service: str) -> APIRouter:
    router = service_router(prefix=f"/api/v1/ops/{service}/dead-letters", tags=["operations"])
    # Every service has these two: their operation ids name the service (listBookingDeadLetters).
    named = service.capitalize()

    @router.get(
        "",
        response_model=DeadLetterPage,
        responses=error_responses(401, 403),
        operation_id=f"list{named}DeadLetters",
    )
    async def list_dead_letters(
        session: SessionDep,
        _admin: Admin,
        status: Literal["dead", "replayed"] | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> DeadLetterPage:
        query = select(dead_letter)
        count = select(func.count()).select_from(dead_letter)
        if status:
            query = query.where(dead_letter.c.status == status)
            count = count.where(dead_letter.c.status == status)
        rows = await session.execute(query.order_by(dead_letter.c.created_at.desc()).limit(limit).offset(offset))
        total = (await session.execute(count)).scalar_one()
        return DeadLetterPage(items=[_to_model(r._mapping) for r in rows], total=total)

    @router.post(
        "/{letter_id}/replay",
        response_model=DeadLetter,
        responses=error_responses(401, 403, 404, 409),
        operation_id=f"replay{named}DeadLetter",
    )
    async def replay_dead_letter(letter_id: uuid.UUID, request: Request, _admin: Admin) -> DeadLetter:
        """Apply the stored event again through its consumer's handler (exactly once, via the inbox)."""
        runtime = request.app.state.runtime
        # Separate short transactions: on SQLite a request-long write transaction would block the replay.
        async with runtime.sessionmaker() as session:
            row = (await session.execute(select(dead_letter).where(dead_letter.c.id == str(letter_id)))).first()
        if row is None:
            raise NotFound("No such dead letter.")
        letter = row._mapping
        if letter["status"] == "replayed":
            raise Conflict("This dead letter was already replayed.", code="already_replayed")
        subscription = next((s for s in runtime.subscriptions if f"{service}-{s.name}" == letter["consumer"]), None)
        try:
            envelope = Envelope.from_message(letter["headers"], bytes(letter["payload"]))
            handler = subscription.handler_for(envelope.type) if subscription else None
            if handler is None:
                raise MalformedEvent(f"no handler for {envelope.type} in {letter['consumer']}")
            await apply_event(runtime.sessionmaker, letter["consumer"], handler, envelope)
        except MalformedEvent as exc:
            raise Conflict(f"The event cannot be applied: {exc}", code="replay_failed") from exc
        except Exception as exc:
            raise Conflict(f"The handler failed again: {type(exc).__name__}: {exc}", code="replay_failed") from exc
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(dead_letter)
                .where(dead_letter.c.id == str(letter_id))
                .values(status="replayed", replayed_at=utcnow())
            )
            row = (await session.execute(select(dead_letter).where(dead_letter.c.id == str(letter_id)))).first()
        assert row is not None
        return _to_model(row._mapping)

    return router
