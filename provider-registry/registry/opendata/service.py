"""The registry's catalog as HSDS 3.0 objects. Only public facts leave: published offerings of verified
providers, their categories, places and prices; no phone numbers, no staff, no residents.

Identifiers: services are offerings and organizations are providers (their own UUIDs); locations are service
centers (their UUIDs) or an offering's own point; taxonomy terms are categories. Ids Linli has no UUID for are
UUIDv5 names under one namespace, so they are the same on every export.
"""

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.categories.models import Category
from registry.circle import repository as circle_repository
from registry.offerings.models import Offering, OfferingMode
from registry.opendata import repository
from registry.organizations.models import Organization, OrganizationKind
from registry.places import service as places_service
from registry.places.models import Community, ServiceCenter
from service_kit.errors import NotFound, ValidationFailed
from service_kit.geo import haversine_m
from service_kit.timeutil import as_aware

HSDS_VERSION = "3.0"
HSDS_PROFILE = "https://docs.openreferral.org/en/3.0/"
NAMESPACE = uuid.UUID("5d0c6f4e-9a57-4e0b-8d1c-7b1f3e2a9c40")
TAXONOMY_ID = uuid.uuid5(NAMESPACE, "taxonomy:linli-categories")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
KIND_ZH = {
    OrganizationKind.public_welfare: "公益性社会组织",
    OrganizationKind.commercial: "商业性组织",
    OrganizationKind.startup: "创业型组织",
}


def _id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts)))


def term_id(code: str) -> str:
    return _id("taxonomy_term", code)


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    """HSDS fields are typed without null: a fact Linli does not have is left out."""
    return {k: v for k, v in obj.items() if v is not None}


def timestamp(value: datetime) -> str:
    return as_aware(value).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class HsdsPage:
    contents: list[dict[str, Any]]
    total_items: int
    page_number: int
    per_page: int

    def render(self) -> dict[str, Any]:
        total_pages = max(1, math.ceil(self.total_items / self.per_page))
        return {
            "total_items": self.total_items,
            "total_pages": total_pages,
            "page_number": self.page_number,
            "size": len(self.contents),
            "first_page": self.page_number == 1,
            "last_page": self.page_number >= total_pages,
            "empty": not self.contents,
            "contents": self.contents,
        }


@dataclass(frozen=True)
class Context:
    """What the offerings of one page refer to, loaded once for the page."""

    categories: dict[str, Category]
    communities: dict[str, Community]
    centers: dict[uuid.UUID, ServiceCenter]


async def _context(session: AsyncSession, offerings: Sequence[Offering]) -> Context:
    return Context(
        categories=await repository.categories(session),
        communities=await repository.communities(session, {c for o in offerings for c in o.service_communities}),
        centers=await repository.centers(session, {o.center_id for o in offerings if o.center_id is not None}),
    )


# ------------------------------------------------------------------ mapping


def organization(org: Organization) -> dict[str, Any]:
    return _clean(
        {
            "id": str(org.id),
            "name": org.name_zh,
            "alternate_name": org.name_en,
            "description": f"{KIND_ZH[org.kind]}：{org.name_zh}",
            "legal_status": KIND_ZH[org.kind],
            "tax_id": org.uscc,
        }
    )


def taxonomy() -> dict[str, Any]:
    return {
        "id": str(TAXONOMY_ID),
        "name": "邻里服务分类 Linli service categories",
        "description": "The two-level taxonomy of community services in Fangshan, by stable code.",
        "version": "1",
    }


def taxonomy_term(category: Category) -> dict[str, Any]:
    return _clean(
        {
            "id": term_id(category.code),
            "code": category.code,
            "name": category.name_zh,
            "description": category.name_en,
            "parent_id": term_id(category.parent_code) if category.parent_code else None,
            "taxonomy": "Linli",
            "taxonomy_id": str(TAXONOMY_ID),
            "language": "zh-CN",
        }
    )


def _fees(offering: Offering) -> str:
    return "免费" if offering.price_fen == 0 else f"{offering.price_fen / 100:.2f}元/次"


def service(offering: Offering, org: Organization) -> dict[str, Any]:
    return _clean(
        {
            "id": str(offering.id),
            "organization_id": str(org.id),
            "name": offering.name_zh,
            "alternate_name": offering.name_en,
            "description": offering.description or offering.name_zh,
            "status": "active",
            "fees_description": _fees(offering),
            "eligibility_description": offering.eligibility_description,
            "required_documents": [
                {
                    "id": _id("required_document", offering.id, document),
                    "service_id": str(offering.id),
                    "document": document,
                }
                for document in offering.required_documents
            ],
            "last_modified": timestamp(offering.updated_at),
            "organization": organization(org),
        }
    )


def location(offering: Offering, org: Organization, ctx: Context) -> dict[str, Any]:
    center = ctx.centers.get(offering.center_id) if offering.center_id else None
    if center is not None:
        return _clean(
            {
                "id": str(center.id),
                "location_type": "physical",
                "organization_id": str(center.operator_id) if center.operator_id else None,
                "name": center.name_zh,
                "alternate_name": center.name_en,
                "latitude": center.lat,
                "longitude": center.lng,
            }
        )
    return {
        "id": _id("location", offering.id),
        "location_type": "physical",
        "organization_id": str(org.id),
        "name": offering.name_zh,
        "latitude": offering.lat,
        "longitude": offering.lng,
    }


def service_at_location(offering: Offering, org: Organization, ctx: Context) -> dict[str, Any]:
    place = location(offering, org, ctx)
    return {
        "id": _id("service_at_location", offering.id),
        "service_id": str(offering.id),
        "location_id": place["id"],
        "location": place,
        "service": service(offering, org),
    }


def service_full(offering: Offering, org: Organization, ctx: Context) -> dict[str, Any]:
    sid = str(offering.id)
    schedules = [
        {
            "id": _id("schedule", offering.id, i),
            "service_id": sid,
            "freq": "WEEKLY",
            "wkst": "MO",
            "byday": WEEKDAYS[rule["weekday"]],
            "opens_at": rule["start"],
            "closes_at": rule["end"],
            "timezone": 8,
            "description": f"{rule['start']}–{rule['end']} ({offering.timezone})",
        }
        for i, rule in enumerate(offering.weekly_rules)
    ]
    areas: list[dict[str, Any]] = []
    if offering.mode == OfferingMode.door_to_door and offering.service_radius_m is not None:
        areas.append(
            {
                "id": _id("service_area", offering.id, "radius"),
                "service_id": sid,
                "name": f"服务半径{offering.service_radius_m}米",
                "description": f"Within {offering.service_radius_m} m of ({offering.lat}, {offering.lng}).",
            }
        )
    for code in offering.service_communities:
        community = ctx.communities.get(code)
        areas.append(
            _clean(
                {
                    "id": _id("service_area", offering.id, code),
                    "service_id": sid,
                    "name": community.name_zh if community else code,
                    "description": f"房山区 {community.name_zh}" if community else None,
                }
            )
        )
    category = ctx.categories[offering.category_code]
    attributes = [
        {
            "id": _id("attribute", offering.id, category.code),
            "link_id": sid,
            "taxonomy_term_id": term_id(category.code),
            "link_type": "service_category",
            "link_entity": "service",
            "taxonomy_term": taxonomy_term(category),
        }
    ]
    sals = []
    if offering.lat is not None:
        place = location(offering, org, ctx)
        sals.append(
            {
                "id": _id("service_at_location", offering.id),
                "service_id": sid,
                "location_id": place["id"],
                "location": place,
            }
        )
    return {
        **service(offering, org),
        "cost_options": [
            {
                "id": _id("cost_option", offering.id),
                "service_id": sid,
                "option": "每次服务",
                "currency": "CNY",
                "amount": offering.price_fen / 100,
            }
        ],
        "schedules": schedules,
        "service_areas": areas,
        "attributes": attributes,
        "service_at_locations": sals,
    }


# ------------------------------------------------------------------ queries


def _invalid(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", code=code, errors=[{"field": field, "in": "query", "message": message, "type": code}]
    )


@dataclass(frozen=True)
class ServiceFilters:
    taxonomy_term_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    modified_after: datetime | None = None
    proximity_m: int | None = None
    lat: float | None = None
    lng: float | None = None
    community_code: str | None = None


async def _category_of_term(session: AsyncSession, term: uuid.UUID | None) -> str | None:
    if term is None:
        return None
    for code in await repository.categories(session):
        if term_id(code) == str(term):
            return code
    raise _invalid("taxonomy_term_id", "No such taxonomy term.", "unknown_taxonomy_term")


async def _near(session: AsyncSession, filters: ServiceFilters) -> list[uuid.UUID] | None:
    """Offerings located within ``proximity`` metres of the point or community (index-backed, then exact)."""
    if filters.proximity_m is None:
        return None
    if filters.community_code is not None:
        community = await places_service.get_community(session, filters.community_code)
        lat, lng = community.lat, community.lng
    elif filters.lat is not None and filters.lng is not None:
        lat, lng = filters.lat, filters.lng
    else:
        raise _invalid("proximity", "proximity needs lat and lng, or a community_code.", "proximity_needs_origin")
    return [
        o.id
        for o in await circle_repository.located_within(session, lat, lng, filters.proximity_m)
        if o.lat is not None and o.lng is not None and haversine_m(lat, lng, o.lat, o.lng) <= filters.proximity_m
    ]


async def services(
    session: AsyncSession, filters: ServiceFilters, *, page: int, per_page: int, located_only: bool = False
) -> tuple[Sequence[tuple[Offering, Organization]], int, Context]:
    conditions = repository.offering_filters(
        category_code=await _category_of_term(session, filters.taxonomy_term_id),
        organization_id=filters.organization_id,
        modified_after=as_aware(filters.modified_after) if filters.modified_after else None,
        with_location=located_only,
        ids=await _near(session, filters),
    )
    rows, total = await repository.offerings_page(session, conditions, limit=per_page, offset=(page - 1) * per_page)
    return rows, total, await _context(session, [o for o, _ in rows])


async def service_by_id(session: AsyncSession, service_id: uuid.UUID) -> dict[str, Any]:
    rows, _ = await repository.offerings_page(
        session,
        repository.offering_filters(category_code=None, organization_id=None, modified_after=None, ids=[service_id]),
        limit=1,
        offset=0,
    )
    if not rows:
        raise NotFound("No published service with this id.", code="service_not_found")
    offering, org = rows[0]
    return service_full(offering, org, await _context(session, [offering]))


async def organization_by_id(session: AsyncSession, organization_id: uuid.UUID) -> dict[str, Any]:
    org = await repository.verified_organization(session, organization_id)
    if org is None:
        raise NotFound("No verified organization with this id.", code="organization_not_found")
    rows, _ = await repository.offerings_page(
        session,
        repository.offering_filters(category_code=None, organization_id=org.id, modified_after=None),
        limit=500,
        offset=0,
    )
    return {**organization(org), "services": [service(o, org) for o, _ in rows]}
