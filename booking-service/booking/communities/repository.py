"""Every SQL statement of the known communities."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.communities.models import CommunityDutyContact, KnownCommunity
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


async def duty_contact(session: AsyncSession, code: str) -> CommunityDutyContact | None:
    return await session.get(CommunityDutyContact, code, populate_existing=True)


async def set_duty_contact(session: AsyncSession, **values: Any) -> None:
    statement = upsert(session, CommunityDutyContact).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["community_code"],
        set_={name: statement.excluded[name] for name in values if name != "community_code"},
    )
    await session.execute(statement)


async def duty_contacts(session: AsyncSession) -> list[tuple[KnownCommunity, CommunityDutyContact | None]]:
    query = (
        select(KnownCommunity, CommunityDutyContact)
        .outerjoin(CommunityDutyContact, CommunityDutyContact.community_code == KnownCommunity.code)
        .order_by(KnownCommunity.code)
    )
    return [(community, contact) for community, contact in (await session.execute(query)).all()]
