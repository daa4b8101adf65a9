import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.offerings.models import Offering
from registry.organizations.models import (
    ContractStatus,
    Organization,
    OrganizationKind,
    OrganizationStatus,
    OrganizationStatusChange,
    ProviderContract,
    ProviderRating,
)
from service_kit.pagination import fetch_page


async def get(session: AsyncSession, organization_id: uuid.UUID) -> Organization | None:
    return await session.get(Organization, organization_id, populate_existing=True)


async def uscc_taken(session: AsyncSession, uscc: str) -> bool:
    return bool(await session.scalar(select(exists().where(Organization.uscc == uscc))))


async def add(session: AsyncSession, organization: Organization) -> None:
    session.add(organization)
    await session.flush()


def visible_to(*, everything: bool, provider_id: uuid.UUID | None, subject: str | None) -> ColumnElement[bool]:
    """Verified organizations for everyone; all of them for staff; its own to a provider and to its applicant."""
    if everything:
        return true()
    own = [Organization.status == OrganizationStatus.verified]
    if provider_id is not None:
        own.append(Organization.id == provider_id)
    if subject is not None:
        own.append(Organization.applied_by == subject)
    return or_(*own)


async def list_page(
    session: AsyncSession,
    *,
    visible: ColumnElement[bool],
    kind: OrganizationKind | None,
    status: OrganizationStatus | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Organization], int]:
    conditions = [visible]
    if kind is not None:
        conditions.append(Organization.kind == kind)
    if status is not None:
        conditions.append(Organization.status == status)
    query = select(Organization).where(*conditions).order_by(Organization.created_at.desc(), Organization.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def change_status(
    session: AsyncSession, organization_id: uuid.UUID, *, from_status: OrganizationStatus, to_status: OrganizationStatus
) -> bool:
    """The guarded transition: only one of two racing changes from ``from_status`` can win."""
    result = await session.execute(
        update(Organization)
        .where(Organization.id == organization_id, Organization.status == from_status)
        .values(status=to_status)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await copy_provider_facts(session, organization_id)
    return True


async def copy_provider_facts(session: AsyncSession, provider_id: uuid.UUID) -> None:
    """Copy the provider's name, score and standing onto each of its offerings (what the circle filters and ranks
    by, read from the offering row alone). Run in the transaction that changes them; idempotent."""
    provider = select(Organization).where(Organization.id == provider_id).subquery()
    await session.execute(
        update(Offering)
        .where(Offering.provider_id == provider_id)
        .values(
            provider_name=select(provider.c.name_zh).scalar_subquery(),
            provider_score=select(provider.c.score).scalar_subquery(),
            provider_verified=select(provider.c.status == OrganizationStatus.verified).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )


async def add_status_change(session: AsyncSession, change: OrganizationStatusChange) -> None:
    session.add(change)
    await session.flush()


async def list_status_changes(session: AsyncSession, organization_id: uuid.UUID) -> Sequence[OrganizationStatusChange]:
    rows = await session.scalars(
        select(OrganizationStatusChange)
        .where(OrganizationStatusChange.organization_id == organization_id)
        .order_by(OrganizationStatusChange.created_at, OrganizationStatusChange.id)
    )
    return rows.all()


# ------------------------------------------------------------------ standing fed by events


async def record_rating(
    session: AsyncSession, *, rating_id: uuid.UUID, provider_id: uuid.UUID, stars: int, submitted_at: datetime
) -> bool:
    """Remember a rating; False when it was already counted."""
    if await session.get(ProviderRating, rating_id) is not None:
        return False
    session.add(ProviderRating(rating_id=rating_id, provider_id=provider_id, stars=stars, submitted_at=submitted_at))
    await session.flush()
    return True


async def add_to_rating_totals(session: AsyncSession, provider_id: uuid.UUID, stars: int) -> tuple[int, int] | None:
    """Add one rating atomically; returns the new (sum, count), or None when the provider is unknown."""
    row = (
        await session.execute(
            update(Organization)
            .where(Organization.id == provider_id)
            .values(rating_sum=Organization.rating_sum + stars, rating_count=Organization.rating_count + 1)
            .returning(Organization.rating_sum, Organization.rating_count)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return (row.rating_sum, row.rating_count) if row is not None else None


async def set_score(session: AsyncSession, provider_id: uuid.UUID, score: float) -> None:
    await session.execute(
        update(Organization)
        .where(Organization.id == provider_id)
        .values(score=score)
        .execution_options(synchronize_session=False)
    )
    await copy_provider_facts(session, provider_id)


async def get_contract(session: AsyncSession, contract_id: uuid.UUID) -> ProviderContract | None:
    return await session.get(ProviderContract, contract_id)


async def add_contract(session: AsyncSession, contract: ProviderContract) -> None:
    session.add(contract)
    await session.flush()


async def refresh_contract_flag(session: AsyncSession, provider_id: uuid.UUID) -> None:
    """``has_government_contract`` := the provider has at least one active contract."""
    active = (
        exists()
        .where(ProviderContract.provider_id == provider_id, ProviderContract.status == ContractStatus.active)
        .correlate(None)
    )
    has_active = bool(await session.scalar(select(active)))
    await session.execute(
        update(Organization)
        .where(Organization.id == provider_id)
        .values(has_government_contract=has_active)
        .execution_options(synchronize_session=False)
    )
