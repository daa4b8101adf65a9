"""Every SQL statement of the Open311 facade: reads of complaints and needs by the standard's filters."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.complaints.models import Complaint, ComplaintCategory
from feedback.complaints.repository import UNRESOLVED
from feedback.needs.models import Need, NeedGroup


async def find_complaints(
    session: AsyncSession,
    *,
    ids: Sequence[uuid.UUID] | None,
    categories: Sequence[ComplaintCategory] | None,
    start: datetime | None,
    end: datetime | None,
    status: str | None,
    limit: int,
) -> list[Complaint]:
    where: list[ColumnElement[bool]] = []
    if ids is not None:
        where.append(Complaint.id.in_(ids))
    if categories is not None:
        where.append(Complaint.category.in_(categories) if categories else false())
    if start is not None:
        where.append(Complaint.created_at >= start)
    if end is not None:
        where.append(Complaint.created_at <= end)
    if status == "open":
        where.append(Complaint.status.in_(UNRESOLVED))
    elif status == "closed":
        where.append(Complaint.status.not_in(UNRESOLVED))
    rows = await session.execute(
        select(Complaint).where(*where).order_by(Complaint.created_at.desc(), Complaint.id).limit(limit)
    )
    return list(rows.scalars())


async def find_needs(
    session: AsyncSession,
    *,
    ids: Sequence[uuid.UUID] | None,
    domains: Sequence[str] | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[tuple[Need, int]]:
    """Needs with their group's count."""
    where: list[ColumnElement[bool]] = []
    if ids is not None:
        where.append(Need.id.in_(ids))
    if domains is not None:
        where.append(
            or_(*(or_(Need.category_code == d, Need.category_code.like(f"{d}.%")) for d in domains))
            if domains
            else false()
        )
    if start is not None:
        where.append(Need.created_at >= start)
    if end is not None:
        where.append(Need.created_at <= end)
    rows = await session.execute(
        select(Need, func.coalesce(NeedGroup.count, 1))
        .outerjoin(NeedGroup, NeedGroup.group_key == Need.group_key)
        .where(*where)
        .order_by(Need.created_at.desc(), Need.id)
        .limit(limit)
    )
    return [(need, int(count)) for need, count in rows]
