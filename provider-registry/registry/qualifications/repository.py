import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.qualifications.models import Qualification, StaffMember


async def add(session: AsyncSession, row: Qualification | StaffMember) -> None:
    session.add(row)
    await session.flush()


async def of_kind(session: AsyncSession, organization_id: uuid.UUID, kind: str) -> Sequence[Qualification]:
    rows = await session.scalars(
        select(Qualification).where(Qualification.organization_id == organization_id, Qualification.kind == kind)
    )
    return rows.all()


async def list_for(
    session: AsyncSession, organization_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[Qualification], int]:
    condition = Qualification.organization_id == organization_id
    total = await session.scalar(select(func.count()).select_from(Qualification).where(condition))
    rows = await session.scalars(
        select(Qualification)
        .where(condition)
        .order_by(Qualification.valid_until, Qualification.id)
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), int(total or 0)


async def expiring(
    session: AsyncSession, *, today: date, until: date, limit: int, offset: int
) -> tuple[Sequence[Qualification], int]:
    """Qualifications still valid today that end on or before ``until``, soonest first."""
    conditions = [Qualification.valid_until >= today, Qualification.valid_until <= until]
    total = await session.scalar(select(func.count()).select_from(Qualification).where(*conditions))
    rows = await session.scalars(
        select(Qualification)
        .where(*conditions)
        .order_by(Qualification.valid_until, Qualification.id)
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), int(total or 0)


async def get_staff(session: AsyncSession, staff_id: uuid.UUID) -> StaffMember | None:
    return await session.get(StaffMember, staff_id, populate_existing=True)


async def list_staff(
    session: AsyncSession, organization_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[StaffMember], int]:
    condition = StaffMember.organization_id == organization_id
    total = await session.scalar(select(func.count()).select_from(StaffMember).where(condition))
    rows = await session.scalars(
        select(StaffMember).where(condition).order_by(StaffMember.name, StaffMember.id).limit(limit).offset(offset)
    )
    return rows.all(), int(total or 0)
