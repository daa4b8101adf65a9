"""Every SQL statement of the acting-for audit trail."""

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.audit.models import ActingFor
from service_kit.pagination import fetch_page


async def add(session: AsyncSession, row: dict[str, Any]) -> None:
    await session.execute(_INSERT, row)


async def add_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(_INSERT, rows)


# Written by every booking: an insert into the table, built once (the ORM's bulk insert has nothing to add here);
# the id comes from the column's default.
_INSERT = insert(cast(Table, ActingFor.__table__))


async def list_for_resident(
    session: AsyncSession, resident_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[ActingFor], int]:
    condition = ActingFor.resident_id == resident_id
    query = select(ActingFor).where(condition).order_by(ActingFor.at.desc(), ActingFor.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def move_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> None:
    for column in (ActingFor.resident_id, ActingFor.helper_resident_id):
        await session.execute(
            update(ActingFor)
            .where(column == from_id)
            .values({column: to_id})
            .execution_options(synchronize_session=False)
        )
