import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.categories.models import Category
from registry.offerings.models import Offering, OfferingStatus
from registry.organizations.models import Organization, OrganizationStatus
from registry.places.models import Community, ServiceCenter
from service_kit.pagination import fetch_page


def open_offerings() -> list[ColumnElement[bool]]:
    """What open data shows: published offerings of verified providers."""
    return [Offering.status == OfferingStatus.published, Organization.status == OrganizationStatus.verified]


def offering_filters(
    *,
    category_code: str | None,
    organization_id: uuid.UUID | None,
    modified_after: datetime | None,
    with_location: bool = False,
    ids: Sequence[uuid.UUID] | None = None,
) -> list[ColumnElement[bool]]:
    conditions = open_offerings()
    if category_code is not None:
        conditions.append(
            or_(
                Offering.category_code == category_code,
                Offering.category_code.startswith(category_code + ".", autoescape=True),
            )
        )
    if organization_id is not None:
        conditions.append(Offering.provider_id == organization_id)
    if modified_after is not None:
        conditions.append(Offering.updated_at >= modified_after)
    if with_location:
        conditions.append(Offering.lat.is_not(None))
    if ids is not None:
        conditions.append(Offering.id.in_(ids))
    return conditions


async def offerings_page(
    session: AsyncSession, conditions: list[ColumnElement[bool]], *, limit: int, offset: int
) -> tuple[Sequence[tuple[Offering, Organization]], int]:
    base = select(Offering, Organization).join(Organization, Organization.id == Offering.provider_id).where(*conditions)
    total = await session.scalar(
        select(func.count())
        .select_from(Offering)
        .join(Organization, Organization.id == Offering.provider_id)
        .where(*conditions)
    )
    rows = await session.execute(base.order_by(Offering.published_at, Offering.id).limit(limit).offset(offset))
    return [(o, org) for o, org in rows.all()], int(total or 0)


async def organizations_page(session: AsyncSession, *, limit: int, offset: int) -> tuple[Sequence[Organization], int]:
    condition = Organization.status == OrganizationStatus.verified
    query = select(Organization).where(condition).order_by(Organization.created_at, Organization.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def verified_organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization | None:
    organization = await session.get(Organization, organization_id)
    if organization is None or organization.status != OrganizationStatus.verified:
        return None
    return organization


async def categories(session: AsyncSession) -> dict[str, Category]:
    rows = await session.scalars(select(Category).order_by(Category.position, Category.code))
    return {c.code: c for c in rows.all()}


async def communities(session: AsyncSession, codes: set[str]) -> dict[str, Community]:
    if not codes:
        return {}
    rows = await session.scalars(select(Community).where(Community.code.in_(codes)))
    return {c.code: c for c in rows.all()}


async def centers(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, ServiceCenter]:
    if not ids:
        return {}
    rows = await session.scalars(select(ServiceCenter).where(ServiceCenter.id.in_(ids)))
    return {c.id: c for c in rows.all()}
