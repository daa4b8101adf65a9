import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.qualifications.models import Qualification, StaffMember
from service_kit.pagination import fetch_page


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
    query = select(Qualification).where(condition).order_by(Qualification.valid_until, Qualification.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def expiring(
    session: AsyncSession, *, today: date, until: date, limit: int, offset: int
) -> tuple[Sequence[Qualification], int]:
    """Qualifications still valid today that end on or before ``until``, soonest first."""
    conditions = [Qualification.valid_until >= today, Qualification.valid_until <= until]
    query = select(Qualification).where(*conditions).order_by(Qualification.valid_until, Qualification.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def get_staff(session: AsyncSession, staff_id: uuid.UUID) -> StaffMember | None:
    return await session.get(StaffMember, staff_id, populate_existing=True)


async def list_staff(
    session: AsyncSession, organization_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[StaffMember], int]:
    condition = StaffMember.organization_id == organization_id
    query = select(StaffMember).where(condition).order_by(StaffMember.name, StaffMember.id)
    return await fetch_page(session, query, limit=limit, offset=offset)
