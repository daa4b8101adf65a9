"""Every SQL statement of the reference projections. Each write is one upsert that keeps the newest state: a
row changes only when the event is not older than what is stored (a higher ``version``, a later time), so a
late or redelivered event never takes a projection back."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from feedback.reference.models import (
    KnownBooking,
    KnownCategory,
    KnownCenter,
    KnownCommunity,
    KnownOffering,
    KnownProvider,
)
from service_kit.db import upsert

Projection = type[KnownCategory | KnownCommunity | KnownCenter | KnownOffering | KnownProvider | KnownBooking]


async def _keep_newest(session: AsyncSession, model: Projection, key: str, order: str, values: dict[str, Any]) -> None:
    statement = upsert(session, model).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[key],
        set_={name: statement.excluded[name] for name in values if name != key},
        where=getattr(model, order) <= statement.excluded[order],
    )
    await session.execute(statement)


async def store_category(session: AsyncSession, **values: Any) -> None:
    await _keep_newest(session, KnownCategory, "code", "version", values)


async def store_community(session: AsyncSession, **values: Any) -> None:
    await _keep_newest(session, KnownCommunity, "code", "version", values)


async def store_center(session: AsyncSession, **values: Any) -> None:
    await _keep_newest(session, KnownCenter, "id", "version", values)


async def store_offering(session: AsyncSession, **values: Any) -> None:
    await _keep_newest(session, KnownOffering, "id", "version", values)


async def store_provider(session: AsyncSession, **values: Any) -> None:
    await _keep_newest(session, KnownProvider, "id", "as_of", values)


async def store_booking(session: AsyncSession, **values: Any) -> None:
    await _keep_newest(session, KnownBooking, "booking_id", "as_of", values)


async def category(session: AsyncSession, code: str) -> KnownCategory | None:
    return await session.get(KnownCategory, code)


async def community(session: AsyncSession, code: str) -> KnownCommunity | None:
    return await session.get(KnownCommunity, code)


async def center(session: AsyncSession, center_id: uuid.UUID) -> KnownCenter | None:
    return await session.get(KnownCenter, center_id)


async def offering(session: AsyncSession, offering_id: uuid.UUID) -> KnownOffering | None:
    return await session.get(KnownOffering, offering_id)


async def provider(session: AsyncSession, provider_id: uuid.UUID) -> KnownProvider | None:
    return await session.get(KnownProvider, provider_id)


async def booking(session: AsyncSession, booking_id: uuid.UUID) -> KnownBooking | None:
    return await session.get(KnownBooking, booking_id)
