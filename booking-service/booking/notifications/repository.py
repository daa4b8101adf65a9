"""Every SQL statement of the notifications module."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.notifications.models import (
    Channel,
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    NotificationHelper,
    NotificationPreference,
)

DUE_STATUSES = (DeliveryStatus.pending, DeliveryStatus.deferred, DeliveryStatus.failed)


async def notification_exists(session: AsyncSession, event_id: str, resident_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Notification.id).where(Notification.event_id == event_id, Notification.resident_id == resident_id)
    )
    return found is not None


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> NotificationDelivery | None:
    return await session.get(NotificationDelivery, delivery_id)


async def delivery_of(
    session: AsyncSession, event_id: str, resident_id: uuid.UUID, channel: Channel
) -> NotificationDelivery | None:
    return await session.scalar(
        select(NotificationDelivery).where(
            NotificationDelivery.event_id == event_id,
            NotificationDelivery.resident_id == resident_id,
            NotificationDelivery.channel == channel,
        )
    )


async def sms_of_events(
    session: AsyncSession, resident_id: uuid.UUID, event_ids: Sequence[str]
) -> list[NotificationDelivery]:
    if not event_ids:
        return []
    rows = await session.scalars(
        select(NotificationDelivery)
        .where(
            NotificationDelivery.resident_id == resident_id,
            NotificationDelivery.channel == Channel.sms,
            NotificationDelivery.event_id.in_(list(event_ids)),
        )
        .execution_options(populate_existing=True)
    )
    return list(rows)


def inbox_of(resident_id: uuid.UUID) -> Select[Notification]:
    return (
        select(Notification)
        .where(Notification.resident_id == resident_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )


async def unread_count(session: AsyncSession, resident_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).where(Notification.resident_id == resident_id, Notification.read_at.is_(None))
    )
    return int(count or 0)


async def deliveries_of(session: AsyncSession, notification_ids: Sequence[uuid.UUID]) -> list[NotificationDelivery]:
    if not notification_ids:
        return []
    rows = await session.scalars(
        select(NotificationDelivery)
        .where(NotificationDelivery.notification_id.in_(notification_ids))
        .order_by(NotificationDelivery.channel)
    )
    return list(rows)


async def get_own(session: AsyncSession, notification_id: uuid.UUID, resident_id: uuid.UUID) -> Notification | None:
    return await session.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.resident_id == resident_id)
    )


async def mark_read(session: AsyncSession, notification_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )


async def mark_all_read(session: AsyncSession, resident_id: uuid.UUID, now: datetime) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.resident_id == resident_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def preference(session: AsyncSession, resident_id: uuid.UUID) -> NotificationPreference | None:
    return await session.get(NotificationPreference, resident_id)


async def active_helpers(session: AsyncSession, resident_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(NotificationHelper.helper_resident_id)
        .where(NotificationHelper.resident_id == resident_id, NotificationHelper.active.is_(True))
        .order_by(NotificationHelper.helper_resident_id)
    )
    return list(rows)


async def helper_link(
    session: AsyncSession, resident_id: uuid.UUID, helper_resident_id: uuid.UUID
) -> NotificationHelper | None:
    return await session.get(NotificationHelper, (resident_id, helper_resident_id))


async def due_sms(session: AsyncSession, now: datetime, limit: int) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(NotificationDelivery.id)
        .where(
            NotificationDelivery.channel == Channel.sms,
            NotificationDelivery.status.in_(DUE_STATUSES),
            NotificationDelivery.next_attempt_at <= now,
            or_(NotificationDelivery.lease_until.is_(None), NotificationDelivery.lease_until <= now),
        )
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(limit)
    )
    return list(rows)


async def claim(session: AsyncSession, delivery_id: uuid.UUID, now: datetime, until: datetime) -> bool:
    """Take a due SMS for one send: a guarded write, so of two workers racing for it one wins."""
    result = await session.execute(
        update(NotificationDelivery)
        .where(
            NotificationDelivery.id == delivery_id,
            NotificationDelivery.status.in_(DUE_STATUSES),
            NotificationDelivery.next_attempt_at <= now,
            or_(NotificationDelivery.lease_until.is_(None), NotificationDelivery.lease_until <= now),
        )
        .values(lease_until=until, updated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def finish(session: AsyncSession, delivery_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(
        update(NotificationDelivery).where(NotificationDelivery.id == delivery_id).values(lease_until=None, **values)
    )


async def sent_to_phone_since(session: AsyncSession, phone_key: str, since: datetime) -> int:
    count = await session.scalar(
        select(func.count()).where(
            NotificationDelivery.phone_key == phone_key,
            NotificationDelivery.status == DeliveryStatus.sent,
            NotificationDelivery.sent_at > since,
        )
    )
    return int(count or 0)


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID) -> int:
    """Erasure: the resident's inbox and its deliveries (SMS texts, masked phone), their helpers' copies of their
    messages (which name them), and their choices; how many messages went. A pending SMS goes with them."""
    messages = select(Notification.id).where(
        or_(Notification.resident_id == resident_id, Notification.about_resident_id == resident_id)
    )
    await session.execute(
        delete(NotificationDelivery)
        .where(or_(NotificationDelivery.notification_id.in_(messages), NotificationDelivery.resident_id == resident_id))
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        delete(Notification)
        .where(or_(Notification.resident_id == resident_id, Notification.about_resident_id == resident_id))
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(NotificationPreference).where(NotificationPreference.resident_id == resident_id))
    await session.execute(
        delete(NotificationHelper).where(
            or_(NotificationHelper.resident_id == resident_id, NotificationHelper.helper_resident_id == resident_id)
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
