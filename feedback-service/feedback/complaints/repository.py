"""Every SQL statement of the complaints module."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.complaints.models import AssigneeKind, Complaint, ComplaintStatus, ComplaintStep
from service_kit.db import add_unless_taken
from service_kit.pagination import Pagination, fetch_page

# Statuses in which the complaint still waits for a resolution.
UNRESOLVED = (
    ComplaintStatus.submitted,
    ComplaintStatus.acknowledged,
    ComplaintStatus.investigating,
    ComplaintStatus.reopened,
)


def ack_breached(now: datetime) -> ColumnElement[bool]:
    return and_(Complaint.status == ComplaintStatus.submitted, Complaint.ack_due_at < now)


def resolve_breached(now: datetime) -> ColumnElement[bool]:
    return and_(Complaint.status.in_(UNRESOLVED), Complaint.resolve_due_at < now)


def overdue(now: datetime) -> ColumnElement[bool]:
    return or_(ack_breached(now), resolve_breached(now))


def visible_to_provider(provider_id: uuid.UUID) -> ColumnElement[bool]:
    """A provider sees the complaints about it and those assigned to it."""
    return or_(
        Complaint.provider_id == provider_id,
        and_(Complaint.assignee_kind == AssigneeKind.provider, Complaint.assignee_id == str(provider_id)),
    )


async def counts_by_severity(session: AsyncSession, where: ColumnElement[bool]) -> list[tuple[str, int]]:
    """How many complaints of each severity meet ``where`` (``ack_breached(now)``, ``resolve_breached(now)``)."""
    query = select(Complaint.severity, func.count()).where(where).group_by(Complaint.severity)
    return [(severity, count) for severity, count in await session.execute(query)]


async def insert_complaint(session: AsyncSession, complaint: Complaint) -> bool:
    """Insert ``complaint``; False when its reference is already another's (the unique index decides, even
    between two filings racing for the same number), the transaction going on without it."""
    return await add_unless_taken(session, complaint)


async def add_step(session: AsyncSession, step: ComplaintStep) -> ComplaintStep:
    session.add(step)
    await session.flush()
    return step


async def get(session: AsyncSession, complaint_id: uuid.UUID) -> Complaint | None:
    return await session.get(Complaint, complaint_id)


async def refresh(session: AsyncSession, complaint: Complaint) -> Complaint:
    await session.refresh(complaint)
    return complaint


async def transition(
    session: AsyncSession,
    complaint_id: uuid.UUID,
    *,
    from_statuses: Sequence[ComplaintStatus],
    values: dict[str, Any],
    also: ColumnElement[bool] | None = None,
) -> bool:
    """The guarded write: the change happens only if the complaint is still in one of ``from_statuses`` (and
    ``also`` holds), so of two racing transitions exactly one wins."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(Complaint)
            .where(
                Complaint.id == complaint_id, Complaint.status.in_(from_statuses), also if also is not None else true()
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1


async def steps_of(session: AsyncSession, complaint_id: uuid.UUID, *, internal: bool) -> list[ComplaintStep]:
    query = select(ComplaintStep).where(ComplaintStep.complaint_id == complaint_id)
    if not internal:
        query = query.where(ComplaintStep.internal == false())
    rows = await session.execute(query.order_by(ComplaintStep.created_at, ComplaintStep.id))
    return list(rows.scalars())


async def list_complaints(
    session: AsyncSession, *, where: Sequence[ColumnElement[bool]], page: Pagination
) -> tuple[list[Complaint], int]:
    query = select(Complaint).where(*where).order_by(Complaint.created_at.desc(), Complaint.id)
    rows, total = await fetch_page(session, query, limit=page.limit, offset=page.offset)
    return list(rows), total


async def unescalated_breaches(session: AsyncSession, now: datetime, *, limit: int) -> list[Complaint]:
    """Complaints with a breached deadline whose breach has not been escalated yet."""
    rows = await session.execute(
        select(Complaint)
        .where(
            or_(
                and_(ack_breached(now), Complaint.ack_escalated_at.is_(None)),
                and_(resolve_breached(now), Complaint.resolve_escalated_at.is_(None)),
            )
        )
        .order_by(Complaint.created_at, Complaint.id)
        .limit(limit)
    )
    return list(rows.scalars())


async def mark_escalated(session: AsyncSession, complaint_id: uuid.UUID, *, column: str, now: datetime) -> bool:
    """Set ``ack_escalated_at`` or ``resolve_escalated_at`` unless already set: a breach is escalated once,
    even with two sweeps running at the same moment."""
    marker = getattr(Complaint, column)
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(Complaint)
            .where(Complaint.id == complaint_id, marker.is_(None))
            .values({column: now, "updated_at": now})
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1


async def complaint_counts(session: AsyncSession, *, column: str, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Complaints per provider (``column="provider_id"``) or per offering, for the scores."""
    key = getattr(Complaint, column)
    rows = await session.execute(select(key, func.count()).where(key.in_(ids)).group_by(key))
    return {subject: int(n) for subject, n in rows}


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID, *, erased_text: str) -> None:
    """What a resident's complaints say of them: the steps' notes, the description, attachments, address and
    position."""
    theirs = select(Complaint.id).where(Complaint.resident_id == resident_id)
    await session.execute(
        update(ComplaintStep)
        .where(ComplaintStep.complaint_id.in_(theirs))
        .values(note=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Complaint)
        .where(Complaint.resident_id == resident_id)
        .values(description=erased_text, attachments=[], address=None, lat=None, long=None)
        .execution_options(synchronize_session=False)
    )
