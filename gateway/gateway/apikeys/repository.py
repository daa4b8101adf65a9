"""Every SQL statement of the API keys."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.apikeys.models import ApiKey
from service_kit.pagination import fetch_page


async def add(session: AsyncSession, key: ApiKey) -> ApiKey:
    session.add(key)
    await session.flush()
    return key


async def page(
    session: AsyncSession, *, kind: str | None, provider_id: uuid.UUID | None, limit: int, offset: int
) -> tuple[Sequence[ApiKey], int]:
    """The keys, newest first, of ``kind`` and of the provider ``provider_id`` (None: any), and how many in all."""
    query = select(ApiKey)
    if kind is not None:
        query = query.where(ApiKey.kind == kind)
    if provider_id is not None:
        query = query.where(ApiKey.provider_id == provider_id)
    query = query.order_by(ApiKey.created_at.desc(), ApiKey.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def get(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    return (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalar_one_or_none()


async def record_use(session: AsyncSession, key_id: uuid.UUID, now: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
