"""The circle's queries: a bounding box on the indexed (status, lat, lng) columns first, exact distance after."""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.offerings.models import Offering, OfferingMode, OfferingServiceCommunity, OfferingStatus
from registry.organizations.models import Organization, OrganizationStatus
from service_kit.geo import bounding_box


@dataclass(frozen=True)
class Candidate:
    offering: Offering
    provider_name: str
    provider_score: float


@dataclass(frozen=True)
class SqlFilters:
    category_code: str | None = None
    free_only: bool = False


def _bookable(filters: SqlFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        Offering.status == OfferingStatus.published,
        Organization.status == OrganizationStatus.verified,
    ]
    if filters.category_code is not None:
        conditions.append(
            or_(
                Offering.category_code == filters.category_code,
                Offering.category_code.startswith(filters.category_code + ".", autoescape=True),
            )
        )
    if filters.free_only:
        conditions.append(Offering.price_fen == 0)
    return conditions


def _select() -> Select[Offering, str, float]:
    return select(Offering, Organization.name_zh, Organization.score).join(
        Organization, Organization.id == Offering.provider_id
    )


def within_box_query(
    lat: float, lng: float, radius_m: float, *, band: int, filters: SqlFilters
) -> Select[Offering, str, float]:
    """Published offerings of search ``band`` located inside the bounding box of ``radius_m`` around the point
    (the index ``ix_offering_circle`` on status, search_band, lat, lng answers it)."""
    box = bounding_box(lat, lng, radius_m)
    return _select().where(
        *_bookable(filters),
        Offering.search_band == band,
        Offering.lat.between(box.min_lat, box.max_lat),
        Offering.lng.between(box.min_lng, box.max_lng),
    )


async def within_box(
    session: AsyncSession, lat: float, lng: float, radius_m: float, *, band: int, filters: SqlFilters
) -> list[Candidate]:
    rows = await session.execute(within_box_query(lat, lng, radius_m, band=band, filters=filters))
    return [Candidate(o, name, score) for o, name, score in rows.all()]


async def serving_community(session: AsyncSession, community_code: str, *, filters: SqlFilters) -> list[Candidate]:
    """Published door-to-door offerings that list ``community_code`` in their service area."""
    rows = await session.execute(
        _select()
        .join(OfferingServiceCommunity, OfferingServiceCommunity.offering_id == Offering.id)
        .where(
            OfferingServiceCommunity.community_code == community_code,
            Offering.mode == OfferingMode.door_to_door,
            *_bookable(filters),
        )
    )
    return [Candidate(o, name, score) for o, name, score in rows.all()]
