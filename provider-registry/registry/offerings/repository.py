import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.offerings.models import Offering, OfferingServiceCommunity, OfferingStatus
from service_kit.pagination import fetch_page


async def get(session: AsyncSession, offering_id: uuid.UUID) -> Offering | None:
    return await session.get(Offering, offering_id, populate_existing=True)


async def add(session: AsyncSession, offering: Offering) -> None:
    session.add(offering)
    await session.flush()


def visible_to(*, everything: bool, provider_id: uuid.UUID | None) -> ColumnElement[bool]:
    """Published offerings for everyone; all for staff; all of its own to a provider."""
    if everything:
        return true()
    if provider_id is None:
        return Offering.status == OfferingStatus.published
    return or_(Offering.status == OfferingStatus.published, Offering.provider_id == provider_id)


async def list_page(
    session: AsyncSession,
    *,
    visible: ColumnElement[bool],
    provider_id: uuid.UUID | None,
    category_code: str | None,
    status: OfferingStatus | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Offering], int]:
    conditions = [visible]
    if provider_id is not None:
        conditions.append(Offering.provider_id == provider_id)
    if category_code is not None:
        # A top-level code selects its leaves too: ``elderly`` finds ``elderly.meal_table``.
        conditions.append(
            or_(
                Offering.category_code == category_code,
                Offering.category_code.startswith(category_code + ".", autoescape=True),
            )
        )
    if status is not None:
        conditions.append(Offering.status == status)
    query = select(Offering).where(*conditions).order_by(Offering.created_at.desc(), Offering.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def update_if_unchanged(
    session: AsyncSession, offering_id: uuid.UUID, *, status: OfferingStatus, version: int, values: dict[str, Any]
) -> bool:
    """Write ``values`` only if the offering is still in ``status`` at ``version``: of two racing changes one
    wins, and no version is announced twice."""
    result = await session.execute(
        update(Offering)
        .where(Offering.id == offering_id, Offering.status == status, Offering.version == version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def set_service_communities(session: AsyncSession, offering_id: uuid.UUID, codes: Sequence[str]) -> None:
    """Mirror the offering's served communities into the table the circle finds them through."""
    await session.execute(delete(OfferingServiceCommunity).where(OfferingServiceCommunity.offering_id == offering_id))
    if codes:
        await session.execute(
            insert(OfferingServiceCommunity), [{"offering_id": offering_id, "community_code": c} for c in codes]
        )


async def move_to_center(session: AsyncSession, center_id: uuid.UUID, *, lat: float, lng: float) -> None:
    """Offerings given at a service center are where the center is."""
    await session.execute(
        update(Offering)
        .where(Offering.center_id == center_id)
        .values(lat=lat, lng=lng)
        .execution_options(synchronize_session=False)
    )


async def at_center(session: AsyncSession, center_id: uuid.UUID) -> Sequence[Offering]:
    """The offerings given at a service center, each as it is now (drafts too: the caller decides)."""
    result = await session.execute(
        select(Offering)
        .where(Offering.center_id == center_id)
        .order_by(Offering.id)
        .execution_options(populate_existing=True)
    )
    return result.scalars().all()


async def next_version(session: AsyncSession, offering_id: uuid.UUID) -> None:
    """Take the offering's next version whatever it is now: the database serializes it with any racing change of
    the offering (whose own guarded write then finds the version moved, and loses)."""
    await session.execute(
        update(Offering)
        .where(Offering.id == offering_id)
        .values(version=Offering.version + 1)
        .execution_options(synchronize_session=False)
    )
