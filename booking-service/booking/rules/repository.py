"""Every SQL statement of the booking rules."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from booking.rules.models import BookingRule
from service_kit.db import upsert
from service_kit.timeutil import utcnow


async def get(session: AsyncSession, offering_id: uuid.UUID) -> BookingRule | None:
    return await session.get(BookingRule, offering_id, populate_existing=True)


async def put(session: AsyncSession, offering_id: uuid.UUID, values: dict[str, Any]) -> None:
    table = BookingRule.__table__
    now = utcnow()
    statement = upsert(session, table).values(offering_id=offering_id, created_at=now, updated_at=now, **values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.offering_id], set_={**values, "updated_at": now}
    )
    await session.execute(statement)
