import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.webhooks.models import (
    AttemptTrigger,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from service_kit.pagination import fetch_page


async def add_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    session.add(endpoint)
    await session.flush()


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
    return await session.get(WebhookEndpoint, endpoint_id, populate_existing=True)


async def count_endpoints(session: AsyncSession, organization_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.organization_id == organization_id)
    )
    return int(total or 0)


async def list_endpoints(
    session: AsyncSession, organization_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[WebhookEndpoint], int]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.organization_id == organization_id)
    return await fetch_page(
        session, query.order_by(WebhookEndpoint.created_at, WebhookEndpoint.id), limit=limit, offset=offset
    )


async def enabled_endpoints(session: AsyncSession, organization_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
    rows = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.organization_id == organization_id, WebhookEndpoint.enabled.is_(True)
        )
    )
    return rows.all()


async def delete_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


async def disable_endpoint(session: AsyncSession, endpoint_id: uuid.UUID, *, reason: str, at: datetime) -> bool:
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, disabled_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def add_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(WebhookDelivery), rows)


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    return await session.get(WebhookDelivery, delivery_id, populate_existing=True)


async def list_deliveries(
    session: AsyncSession, endpoint_id: uuid.UUID, *, status: DeliveryStatus | None, limit: int, offset: int
) -> tuple[Sequence[WebhookDelivery], int]:
    conditions = [WebhookDelivery.endpoint_id == endpoint_id]
    if status is not None:
        conditions.append(WebhookDelivery.status == status)
    query = select(WebhookDelivery).where(*conditions)
    return await fetch_page(
        session, query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id), limit=limit, offset=offset
    )


async def attempts_of(session: AsyncSession, delivery_ids: Sequence[uuid.UUID]) -> Sequence[WebhookAttempt]:
    if not delivery_ids:
        return []
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
    )
    return rows.all()


async def request_redelivery(session: AsyncSession, delivery_id: uuid.UUID, *, at: datetime) -> bool:
    """Queue one more attempt of a finished delivery; False when it is still pending."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status.in_([DeliveryStatus.delivered, DeliveryStatus.failed]),
        )
        .values(status=DeliveryStatus.pending, trigger=AttemptTrigger.manual, next_attempt_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


# ------------------------------------------------------------------ the sender's statements


async def claim_due(
    session: AsyncSession, *, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[dict[str, Any]]:
    """Lease up to ``limit`` due deliveries of enabled endpoints to ``owner``, and return them with their endpoint.

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets replicas claim disjoint rows; on SQLite the write lock taken
    by ``BEGIN IMMEDIATE`` serializes claims. A lease that expired (its sender died) can be claimed again."""
    claimable = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.pending,
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
            WebhookEndpoint.enabled.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(claimable))
        .values(lease_owner=owner, lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    rows = await session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.endpoint_id,
            WebhookDelivery.payload,
            WebhookDelivery.attempt_count,
            WebhookDelivery.trigger,
            WebhookEndpoint.url,
            WebhookEndpoint.secret_sealed,
            WebhookEndpoint.previous_secret_sealed,
            WebhookEndpoint.previous_secret_until,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.lease_owner == owner,
            WebhookDelivery.lease_until > now,
            WebhookDelivery.status == DeliveryStatus.pending,
        )
        .order_by(WebhookDelivery.next_attempt_at)
    )
    return [dict(r._mapping) for r in rows]


async def finish_attempt(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    *,
    owner: str,
    attempt_count: int,
    values: dict[str, Any],
) -> bool:
    """Record the outcome of the attempt ``owner`` made, only while it still holds the lease on that attempt."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.lease_owner == owner,
            WebhookDelivery.attempt_count == attempt_count,
            WebhookDelivery.status == DeliveryStatus.pending,
        )
        .values(
            attempt_count=attempt_count + 1,
            trigger=AttemptTrigger.scheduled,
            lease_owner=None,
            lease_until=None,
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def add_attempt(session: AsyncSession, attempt: dict[str, Any]) -> None:
    await session.execute(insert(WebhookAttempt), [attempt])


async def purge_finished(session: AsyncSession, *, before: datetime) -> None:
    """Drop delivered and failed deliveries created before ``before``; their attempts go with them."""
    old = select(WebhookDelivery.id).where(
        WebhookDelivery.status != DeliveryStatus.pending, WebhookDelivery.created_at < before
    )
    await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old)))
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(old)))
