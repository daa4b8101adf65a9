"""Every SQL statement about calls for proposals and their applications."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.calls.models import Application, ApplicationStatus, Call, CallStatus
from procurement.guarded import move_if
from service_kit.pagination import fetch_page


async def add(session: AsyncSession, row: Call | Application) -> None:
    session.add(row)
    await session.flush()


async def get_call(session: AsyncSession, call_id: uuid.UUID) -> Call | None:
    return await session.get(Call, call_id, populate_existing=True)


async def street_of_call(session: AsyncSession, call_id: uuid.UUID) -> str | None:
    return await session.scalar(select(Call.street_code).where(Call.id == call_id))


async def list_calls(
    session: AsyncSession,
    *,
    statuses: Sequence[CallStatus] | None,
    street_code: str | None,
    status: CallStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[Call], int]:
    """A page of calls, latest deadline first: of ``statuses`` when given, of one street's when ``street_code``."""
    conditions: list[Any] = []
    if statuses is not None:
        conditions.append(Call.status.in_(statuses))
    if street_code is not None:
        conditions.append(Call.street_code == street_code)
    if status is not None:
        conditions.append(Call.status == status)
    query = select(Call).where(*conditions).order_by(Call.deadline.desc(), Call.id)
    rows, total = await fetch_page(session, query, limit=limit, offset=offset)
    return list(rows), total


async def move_call(session: AsyncSession, call_id: uuid.UUID, from_status: CallStatus, **values: Any) -> bool:
    """One guarded UPDATE: whether the call was still ``from_status`` (and now has ``values``)."""
    return await move_if(session, Call, call_id, from_status, **values)


async def refresh_status(session: AsyncSession, call: Call) -> None:
    await session.refresh(call, ["status"])


async def get_application(session: AsyncSession, application_id: uuid.UUID) -> Application | None:
    return await session.get(Application, application_id, populate_existing=True)


async def live_application_exists(session: AsyncSession, call_id: uuid.UUID, provider_id: uuid.UUID) -> bool:
    """Whether the provider has an application to the call it has not withdrawn."""
    live = await session.scalar(
        select(func.count())
        .select_from(Application)
        .where(
            Application.call_id == call_id,
            Application.provider_id == provider_id,
            Application.status != ApplicationStatus.withdrawn,
        )
    )
    return bool(live)


async def list_applications(
    session: AsyncSession,
    call_id: uuid.UUID,
    *,
    live_only: bool = False,
    provider_id: uuid.UUID | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Application], int]:
    """A page of the call's applications (``live_only``: those not withdrawn; ``provider_id``: that provider's),
    ranked first (best rank first), then in the order they came."""
    conditions: list[Any] = [Application.call_id == call_id]
    if live_only:
        conditions.append(Application.status != ApplicationStatus.withdrawn)
    if provider_id is not None:
        conditions.append(Application.provider_id == provider_id)
    query = (
        select(Application)
        .where(*conditions)
        .order_by(Application.rank.is_(None), Application.rank, Application.submitted_at, Application.id)
    )
    rows, total = await fetch_page(session, query, limit=limit, offset=offset)
    return list(rows), total


async def move_application(
    session: AsyncSession, application_id: uuid.UUID, from_status: ApplicationStatus, **values: Any
) -> bool:
    """One guarded UPDATE: whether the application was still ``from_status`` (and now has ``values``)."""
    return await move_if(session, Application, application_id, from_status, **values)


async def applications_in(session: AsyncSession, call_id: uuid.UUID, status: ApplicationStatus) -> list[Application]:
    result = await session.execute(
        select(Application).where(Application.call_id == call_id, Application.status == status)
    )
    return list(result.scalars().all())


async def update_application(session: AsyncSession, application_id: uuid.UUID, **values: Any) -> None:
    await session.execute(update(Application).where(Application.id == application_id).values(**values))


async def approved_for_call(session: AsyncSession, call_id: uuid.UUID) -> list[Application]:
    result = await session.execute(
        select(Application)
        .where(Application.call_id == call_id, Application.status == ApplicationStatus.approved)
        .order_by(Application.rank.is_(None), Application.rank, Application.id)
    )
    return list(result.scalars().all())
