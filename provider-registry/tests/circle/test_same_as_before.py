"""The circle on its spatial index finds exactly what the search before it found (``oracle``): the same offerings
in the same order and the same pages, from many random points of a fixed seed, before and after providers and
offerings change. The oracle is kept whole here, its ranking included: a change to the search cannot change it."""

import random
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import uscc

from registry.circle import service
from registry.circle.repository import SqlFilters
from registry.circle.schemas import CircleOffering, Origin, Reach
from registry.circle.service import Filters
from registry.offerings.models import (
    DOOR_TO_DOOR_BANDS,
    WALK_BAND,
    Offering,
    OfferingMode,
    OfferingServiceCommunity,
    OfferingStatus,
    search_band,
)
from registry.offerings.schemas import Offering as OfferingOut
from registry.organizations import repository as organizations_repository
from registry.organizations.models import Organization, OrganizationKind, OrganizationStatus
from registry.places.models import Community
from service_kit.geo import bounding_box, haversine_m
from service_kit.pagination import Pagination

# ------------------------------------------------------------------ the oracle: the search before the index


@dataclass(frozen=True)
class Candidate:
    offering: Offering
    provider_name: str
    provider_score: float


@dataclass(frozen=True)
class Found:
    candidate: Candidate
    reach: Reach
    distance_m: float


def _point(offering: Offering) -> tuple[float, float]:
    if offering.lat is None or offering.lng is None:
        raise ValueError(f"offering {offering.id} has no location")
    return offering.lat, offering.lng


def _rank(found: Found) -> tuple[float, float, str, str]:
    offering = found.candidate.offering
    return (round(found.distance_m), -found.candidate.provider_score, offering.name_zh, str(offering.id))


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


def _select() -> Select[tuple[Offering, str, float]]:
    return select(Offering, Organization.name_zh, Organization.score).join(
        Organization, Organization.id == Offering.provider_id
    )


async def _within_box(
    session: AsyncSession, lat: float, lng: float, radius_m: float, *, band: int, filters: SqlFilters
) -> list[Candidate]:
    box = bounding_box(lat, lng, radius_m)
    rows = await session.execute(
        _select().where(
            *_bookable(filters),
            Offering.search_band == band,
            Offering.lat.between(box.min_lat, box.max_lat),
            Offering.lng.between(box.min_lng, box.max_lng),
        )
    )
    return [Candidate(o, name, score) for o, name, score in rows.all()]


async def _serving_community(session: AsyncSession, community_code: str, *, filters: SqlFilters) -> list[Candidate]:
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


async def _reachable(session: AsyncSession, origin: Origin, *, walk_m: float, filters: Filters) -> list[Found]:
    found: dict[uuid.UUID, Found] = {}
    sql = filters.sql()
    if filters.mode in (None, OfferingMode.at_center):
        for candidate in await _within_box(session, origin.lat, origin.lng, walk_m, band=WALK_BAND, filters=sql):
            offering = candidate.offering
            distance = haversine_m(origin.lat, origin.lng, *_point(offering))
            if distance <= walk_m:
                found[offering.id] = Found(candidate, Reach.walk, distance)
    if filters.mode in (None, OfferingMode.door_to_door):
        for band, bound in enumerate(DOOR_TO_DOOR_BANDS, start=1):
            for candidate in await _within_box(session, origin.lat, origin.lng, bound, band=band, filters=sql):
                offering = candidate.offering
                radius = offering.service_radius_m or 0
                if haversine_m(origin.lat, origin.lng, *_point(offering)) <= radius:
                    found[offering.id] = Found(candidate, Reach.door_to_door, 0.0)
        if origin.community_code is not None:
            for candidate in await _serving_community(session, origin.community_code, filters=sql):
                found[candidate.offering.id] = Found(candidate, Reach.door_to_door, 0.0)
    return [f for f in found.values() if filters.admits(f.candidate.offering)]


async def oracle_search(
    session: AsyncSession, origin: Origin, *, minutes: int, speed_m_per_min: float, filters: Filters
) -> list[CircleOffering]:
    """The search as it was: a B-tree range per search band (latitude, then longitude), joined to
    ``organization`` for the provider's standing, name and score."""
    found = sorted(await _reachable(session, origin, walk_m=minutes * speed_m_per_min, filters=filters), key=_rank)
    return [
        CircleOffering(
            offering=OfferingOut.model_validate(f.candidate.offering),
            provider_name=f.candidate.provider_name,
            provider_score=f.candidate.provider_score,
            reach=f.reach,
            distance_m=round(f.distance_m),
            walk_minutes=round(f.distance_m / speed_m_per_min, 1),
        )
        for f in found
    ]


# ------------------------------------------------------------------ the comparison

JIAHE = (39.7295, 116.1520)
SPREAD = (0.05, 0.065)  # about 5.5 km either way
CATEGORIES = ["elderly.meal_table", "elderly.home_care", "children.education"]
RADII = [50, 300, 500, 501, 1_000, 2_000, 3_000, 5_000, 10_000]
FILTERS = [
    Filters(),
    Filters(category_code="elderly"),
    Filters(free_only=True),
    Filters(mode=OfferingMode.at_center),
    Filters(mode=OfferingMode.door_to_door),
    Filters(target_group="80+", open_on=date(2026, 11, 30)),
]


def _uscc(rng: random.Random) -> str:
    base = "91110111" + "".join(rng.choices("0123456789ABCDEFGHJKLMNPQRTUWXY", k=9))
    return base + uscc.calc_check_digit(base)


async def _fill(session: AsyncSession, rng: random.Random) -> list[uuid.UUID]:
    """Offerings of 30 providers (some not verified) around 时代家和; many share a site, a name or a score, so
    that the order at equal distance is put to the test."""
    providers = [uuid.uuid4() for _ in range(30)]
    statuses = (
        [OrganizationStatus.verified] * 24 + [OrganizationStatus.applied] * 3 + [OrganizationStatus.suspended] * 3
    )
    await session.execute(
        insert(Organization),
        [
            {
                "id": p,
                "name_zh": f"服务商{i % 20}",
                "kind": OrganizationKind.commercial,
                "uscc": _uscc(rng),
                "status": statuses[i],
                "applied_by": "test",
                "score": rng.choice([3.5, 4.0, 4.0, 4.25, 4.8]),
            }
            for i, p in enumerate(providers)
        ],
    )
    sites = [(JIAHE[0] + rng.uniform(-1, 1) * SPREAD[0], JIAHE[1] + rng.uniform(-1, 1) * SPREAD[1]) for _ in range(400)]
    rows: list[dict[str, Any]] = []
    for i in range(3_000):
        mode = rng.choice(
            [OfferingMode.at_center, OfferingMode.at_center, OfferingMode.door_to_door, OfferingMode.online]
        )
        lat, lng = rng.choice(sites) if rng.random() < 0.9 else (None, None)
        radius = rng.choice(RADII) if mode == OfferingMode.door_to_door and rng.random() < 0.95 else None
        rows.append(
            {
                "id": uuid.uuid4(),
                "provider_id": rng.choice(providers),
                "category_code": rng.choice(CATEGORIES),
                "name_zh": f"服务{i % 50}",
                "mode": mode,
                "price_fen": rng.choice([0, 1500]),
                "duration_minutes": 60,
                "capacity_per_slot": 10,
                "weekly_rules": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in rng.sample(range(7), 3)],
                "target_groups": rng.choice([[], ["80+"], ["living_alone"]]),
                "status": rng.choice([OfferingStatus.published] * 8 + [OfferingStatus.draft, OfferingStatus.withdrawn]),
                "lat": lat,
                "lng": lng,
                "service_radius_m": radius,
                "search_band": search_band(mode, lat, radius),
            }
        )
    await session.execute(insert(Offering), rows)
    # Door-to-door offerings that serve the communities near 时代家和 by name, not only by radius.
    communities = (
        await session.scalars(
            select(Community.code).where(Community.lat.between(JIAHE[0] - 0.05, JIAHE[0] + 0.05)).limit(5)
        )
    ).all()
    door = [r["id"] for r in rows if r["mode"] == OfferingMode.door_to_door]
    await session.execute(
        insert(OfferingServiceCommunity),
        [{"offering_id": o, "community_code": c} for c in communities for o in rng.sample(door, 20)],
    )
    # Offerings inserted in bulk, as the registry's own writes never do, get their provider's facts here.
    for provider in providers:
        await organizations_repository.copy_provider_facts(session, provider)
    await session.execute(text("ANALYZE"))
    return providers


async def _compare(session: AsyncSession, rng: random.Random, searches: int) -> int:
    session.expire_all()
    found = 0
    for i in range(searches):
        point = (JIAHE[0] + rng.uniform(-1, 1) * SPREAD[0], JIAHE[1] + rng.uniform(-1, 1) * SPREAD[1])
        origin = await service.locate(session, lat=point[0], lng=point[1], community_code=None)
        filters = FILTERS[i % len(FILTERS)]
        minutes = rng.choice([5, 15, 30])
        search = {"minutes": minutes, "speed_m_per_min": 80, "filters": filters}
        old = [
            o.model_dump()
            for o in await oracle_search(session, origin, minutes=minutes, speed_m_per_min=80, filters=filters)
        ]
        # Every page in turn, and the one past the end: each is the oracle's slice, each says the same total.
        limit = rng.choice([7, 20, 200])
        for offset in range(0, len(old) + limit, limit):
            page = Pagination(limit=limit, offset=offset)
            items, total = await service.search(
                session, origin, minutes=minutes, speed_m_per_min=80, filters=filters, page=page
            )
            assert total == len(old), (origin, search)
            assert [o.model_dump() for o in items] == old[offset : offset + limit], (origin, search, page)
        found += len(old)
    return found


async def test_the_indexed_circle_finds_what_the_old_search_found(session: AsyncSession) -> None:
    rng = random.Random(21)
    providers = await _fill(session, rng)
    assert await _compare(session, rng, 150) > 150 * 10

    # Providers change standing and score, offerings are withdrawn, published, moved: the index follows.
    verified = providers[:24]
    assert await organizations_repository.change_status(
        session, verified[0], from_status=OrganizationStatus.verified, to_status=OrganizationStatus.suspended
    )
    assert await organizations_repository.change_status(
        session, providers[24], from_status=OrganizationStatus.applied, to_status=OrganizationStatus.verified
    )
    await organizations_repository.set_score(session, verified[1], 4.9)
    await organizations_repository.set_score(session, verified[2], 3.1)
    ids = (await session.scalars(select(Offering.id).order_by(Offering.id))).all()
    for offering_id in rng.sample(ids, 100):
        await session.execute(
            update(Offering)
            .where(Offering.id == offering_id)
            .values(status=rng.choice([OfferingStatus.published, OfferingStatus.withdrawn]))
        )
    for offering_id in rng.sample(ids, 100):
        offering = await session.get(Offering, offering_id)
        assert offering is not None
        lat = JIAHE[0] + rng.uniform(-1, 1) * SPREAD[0]
        radius = offering.service_radius_m if offering.mode == OfferingMode.door_to_door else None
        await session.execute(
            update(Offering)
            .where(Offering.id == offering_id)
            .values(
                lat=lat,
                lng=JIAHE[1] + rng.uniform(-1, 1) * SPREAD[1],
                search_band=search_band(offering.mode, lat, radius),
            )
        )
    assert await _compare(session, rng, 100) > 100 * 10
