"""The gazetteer's rules: officials keep streets, communities and service centers; everyone may read them."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.offerings import service as offerings_service
from registry.organizations import service as organizations_service
from registry.places import repository
from registry.places.models import Community, ServiceCenter, Street, StreetKind
from registry.places.schemas import (
    CommunityCreate,
    CommunityUpdate,
    ServiceCenterCreate,
    ServiceCenterUpdate,
    StreetCreate,
    StreetUpdate,
)
from registry.reference import service as reference
from service_kit.errors import Conflict, NotFound, ValidationFailed

# What an offering's snapshot copies from its center.
PLACE_OF_OFFERINGS = ("name_zh", "address", "lat", "lng")


def invalid(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", code=code, errors=[{"field": field, "in": "body", "message": message, "type": code}]
    )


async def get_street(session: AsyncSession, code: str) -> Street:
    street = await repository.get_street(session, code)
    if street is None:
        raise NotFound("No street or town with this code.", code="street_not_found")
    return street


async def get_community(session: AsyncSession, code: str) -> Community:
    community = await repository.get_community(session, code)
    if community is None:
        raise NotFound("No community with this code.", code="community_not_found")
    return community


async def get_center(session: AsyncSession, center_id: uuid.UUID) -> ServiceCenter:
    center = await repository.get_center(session, center_id)
    if center is None:
        raise NotFound("No service center with this id.", code="service_center_not_found")
    return center


async def require_communities(session: AsyncSession, codes: Sequence[str], *, field: str) -> None:
    """Every code names a community of the gazetteer (422 naming the unknown ones otherwise)."""
    unknown = sorted(set(codes) - await repository.existing_community_codes(session, codes))
    if unknown:
        raise invalid(field, f"No community {', '.join(unknown)}.", "unknown_community")


async def add_street(session: AsyncSession, data: StreetCreate) -> Street:
    if await repository.get_street(session, data.code) is not None:
        raise Conflict("A street or town with this code exists.", code="street_exists")
    street = Street(**data.model_dump(mode="json") | {"kind": StreetKind(data.kind)})
    await repository.add(session, street)
    return street


async def update_street(session: AsyncSession, code: str, data: StreetUpdate) -> Street:
    street = await get_street(session, code)
    _apply(street, data.changes())
    if "kind" in data.model_fields_set and data.kind is not None:
        street.kind = StreetKind(data.kind)
    await session.flush()
    return street


async def list_streets(session: AsyncSession, *, limit: int, offset: int) -> tuple[Sequence[Street], int]:
    return await repository.list_streets(session, limit=limit, offset=offset)


async def add_community(session: AsyncSession, data: CommunityCreate) -> Community:
    await get_street(session, data.street_code)
    if data.code.split(".", 1)[0] != data.street_code:
        raise invalid("code", f"A community of {data.street_code!r} has a code starting with it.", "code_mismatch")
    if await repository.get_community(session, data.code) is not None:
        raise Conflict("A community with this code exists.", code="community_exists")
    community = Community(**data.model_dump(mode="json"), **reference.ANNOUNCED_AT_FIRST_VERSION)
    await repository.add(session, community)
    await reference.created(session, community)
    return community


async def update_community(session: AsyncSession, code: str, data: CommunityUpdate) -> Community:
    community = await get_community(session, code)
    _apply(community, data.changes())
    await session.flush()
    await reference.changed(session, community)
    return community


async def list_communities(
    session: AsyncSession, *, street_code: str | None, limit: int, offset: int
) -> tuple[Sequence[Community], int]:
    if street_code is not None:
        await get_street(session, street_code)
    return await repository.list_communities(session, street_code=street_code, limit=limit, offset=offset)


async def add_center(session: AsyncSession, data: ServiceCenterCreate) -> ServiceCenter:
    if data.operator_id is not None:
        await organizations_service.get(session, data.operator_id)
    await require_communities(session, data.communities, field="communities")
    center = ServiceCenter(
        **data.model_dump(mode="json") | {"operator_id": data.operator_id}, **reference.ANNOUNCED_AT_FIRST_VERSION
    )
    await repository.add(session, center)
    await reference.created(session, center)
    return center


async def update_center(session: AsyncSession, center_id: uuid.UUID, data: ServiceCenterUpdate) -> ServiceCenter:
    """Change a center. When it is renamed, gets a new address or moves, the offerings given there follow: they
    are where it is, and other services are told their new place (``offerings_service.follow_center``)."""
    center = await get_center(session, center_id)
    before = {name: getattr(center, name) for name in PLACE_OF_OFFERINGS}
    changes = data.changes()
    if data.operator_id is not None:
        await organizations_service.get(session, data.operator_id)
        changes["operator_id"] = data.operator_id
    if data.communities is not None:
        await require_communities(session, data.communities, field="communities")
    _apply(center, changes)
    await session.flush()
    await reference.changed(session, center)
    changed = {name for name, value in before.items() if getattr(center, name) != value}
    if changed:
        await offerings_service.follow_center(session, center, moved=bool(changed & {"lat", "lng"}))
    return center


async def list_centers(
    session: AsyncSession, *, operator_id: uuid.UUID | None, limit: int, offset: int
) -> tuple[Sequence[ServiceCenter], int]:
    return await repository.list_centers(session, operator_id=operator_id, limit=limit, offset=offset)


def _apply(place: Street | Community | ServiceCenter, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(place, name, value)
