import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.places.models import Community, ServiceCenter, Street
from service_kit.geo import bounding_box
from service_kit.pagination import fetch_page


async def add(session: AsyncSession, place: Street | Community | ServiceCenter) -> None:
    session.add(place)
    await session.flush()


async def get_street(session: AsyncSession, code: str) -> Street | None:
    return await session.get(Street, code, populate_existing=True)


async def get_community(session: AsyncSession, code: str) -> Community | None:
    return await session.get(Community, code, populate_existing=True)


async def get_center(session: AsyncSession, center_id: uuid.UUID) -> ServiceCenter | None:
    return await session.get(ServiceCenter, center_id, populate_existing=True)


async def existing_community_codes(session: AsyncSession, codes: Sequence[str]) -> set[str]:
    if not codes:
        return set()
    rows = await session.scalars(select(Community.code).where(Community.code.in_(codes)))
    return set(rows.all())


async def list_streets(session: AsyncSession, *, limit: int, offset: int) -> tuple[Sequence[Street], int]:
    return await fetch_page(session, select(Street).order_by(Street.code), limit=limit, offset=offset)


async def list_communities(
    session: AsyncSession, *, street_code: str | None, limit: int | None = None, offset: int = 0
) -> tuple[Sequence[Community], int]:
    conditions = [] if street_code is None else [Community.street_code == street_code]
    total = await session.scalar(select(func.count()).select_from(Community).where(*conditions))
    query = select(Community).where(*conditions).order_by(Community.code).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = await session.scalars(query)
    return rows.all(), int(total or 0)


async def communities_near(session: AsyncSession, lat: float, lng: float, radius_m: float) -> Sequence[Community]:
    """Communities whose centroid lies in the bounding box of ``radius_m`` around the point (index-backed)."""
    box = bounding_box(lat, lng, radius_m)
    rows = await session.scalars(
        select(Community).where(
            Community.lat.between(box.min_lat, box.max_lat), Community.lng.between(box.min_lng, box.max_lng)
        )
    )
    return rows.all()


async def list_centers(
    session: AsyncSession, *, operator_id: uuid.UUID | None, limit: int, offset: int
) -> tuple[Sequence[ServiceCenter], int]:
    conditions = [] if operator_id is None else [ServiceCenter.operator_id == operator_id]
    query = select(ServiceCenter).where(*conditions).order_by(ServiceCenter.name_zh, ServiceCenter.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def centers_serving(session: AsyncSession, community_code: str) -> Sequence[ServiceCenter]:
    # The served list is a small JSON array and centers are few (one per few communities): filtered here.
    rows = await session.scalars(select(ServiceCenter).order_by(ServiceCenter.name_zh))
    return [c for c in rows.all() if community_code in c.communities]
