"""Every SQL statement of the known communities."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.communities.models import KnownCommunity
from service_kit.db import upsert


async def store(session: AsyncSession, **values: Any) -> None:
    """Insert or update a community, never taking it back to an older version (a late or redelivered event)."""
    statement = upsert(session, KnownCommunity).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["code"],
        set_={name: statement.excluded[name] for name in values if name != "code"},
        where=KnownCommunity.version <= statement.excluded["version"],
    )
    await session.execute(statement)


async def get(session: AsyncSession, code: str) -> KnownCommunity | None:
    return await session.get(KnownCommunity, code)


async def many(session: AsyncSession, codes: list[str]) -> list[KnownCommunity]:
    if not codes:
        return []
    return list((await session.execute(select(KnownCommunity).where(KnownCommunity.code.in_(codes)))).scalars().all())


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(KnownCommunity)) or 0)


async def page(session: AsyncSession, *, limit: int, offset: int) -> list[KnownCommunity]:
    query = select(KnownCommunity).order_by(KnownCommunity.code).limit(limit).offset(offset)
    return list((await session.execute(query)).scalars().all())
