"""The rules of the catalog: who may change an offering, when it is bookable, what other services are told.

Every snapshot announced to other services (published, updated, withdrawn) carries the next ``version``; a
draft is never announced, so editing it changes nothing elsewhere.
"""

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from registry.categories import service as categories_service
from registry.offerings import repository
from registry.offerings.models import Offering, OfferingMode, OfferingStatus, search_band
from registry.offerings.schemas import OfferingCreate, OfferingUpdate
from registry.organizations import service as organizations_service
from registry.organizations.models import OrganizationStatus
from registry.places import service as places_service
from registry.places.models import ServiceCenter
from registry.qualifications import service as qualifications_service
from service_kit.auth import Principal
from service_kit.errors import Conflict, InvalidTransition, NotFound
from service_kit.events.contracts import (
    OfferingPublished,
    OfferingSnapshot,
    OfferingUpdated,
    OfferingWithdrawn,
    ScheduleException,
    WeeklyRule,
)
from service_kit.events.outbox import emit
from service_kit.timeutil import utcnow

S = TypeVar("S", bound=OfferingSnapshot)


def _not_found() -> NotFound:
    return NotFound("No offering with this id.", code="offering_not_found")


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    if "mode" in values:
        values["mode"] = OfferingMode(values["mode"])
    if values.get("center_id") is not None:
        values["center_id"] = uuid.UUID(values["center_id"])
    return values


async def _place(session: AsyncSession, current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Resolve where the offering is after ``changes``: a center lends its point; a new point leaves the center.

    Returns the location columns to write (``lat``, ``lng``, ``center_id``)."""
    place = {name: current[name] for name in ("lat", "lng", "center_id")}
    if changes.get("center_id") is not None:
        center = await places_service.get_center(session, changes["center_id"])
        place.update(lat=center.lat, lng=center.lng, center_id=center.id)
    elif "lat" in changes:
        place.update(lat=changes["lat"], lng=changes["lng"], center_id=None)
    elif "center_id" in changes:
        place["center_id"] = None  # Leaving the center keeps the point where it was.
    radius = changes.get("service_radius_m", current["service_radius_m"])
    if radius is not None and place["lat"] is None:
        raise places_service.invalid(
            "service_radius_m",
            "A service radius is measured from a location; give lat/lng or a center_id.",
            "service_area_needs_location",
        )
    if "service_communities" in changes:
        await places_service.require_communities(session, changes["service_communities"], field="service_communities")
    return place


async def create(session: AsyncSession, data: OfferingCreate, *, by: Principal) -> Offering:
    """A draft offering for ``data.provider_id``, by its own admin or an official."""
    if not organizations_service.may_manage_offerings(by, data.provider_id):
        # A provider acting for another provider learns nothing about it.
        raise NotFound("No organization with this id.", code="organization_not_found")
    provider = await organizations_service.get(session, data.provider_id)
    await categories_service.require_leaf(session, data.category_code)
    values = _columns(data.model_dump(mode="json", exclude={"provider_id"}))
    nowhere = {"lat": None, "lng": None, "center_id": None, "service_radius_m": None}
    values |= await _place(session, nowhere, values)
    values["search_band"] = search_band(values["mode"], values["lat"], values["service_radius_m"])
    offering = Offering(
        provider_id=data.provider_id,
        status=OfferingStatus.draft,
        version=0,
        provider_name=provider.name_zh,
        provider_score=provider.score,
        provider_verified=provider.status == OrganizationStatus.verified,
        **values,
    )
    await repository.add(session, offering)
    await repository.set_service_communities(session, offering.id, offering.service_communities)
    return offering


async def get_visible(session: AsyncSession, offering_id: uuid.UUID, viewer: Principal | None) -> Offering:
    """Published offerings for everyone; drafts and withdrawn ones for staff and the provider's own people."""
    offering = await repository.get(session, offering_id)
    if offering is None:
        raise _not_found()
    if offering.status != OfferingStatus.published and not organizations_service.may_see_unpublished(
        viewer, offering.provider_id
    ):
        raise _not_found()
    return offering


async def list_visible(
    session: AsyncSession,
    viewer: Principal | None,
    *,
    provider_id: uuid.UUID | None,
    category_code: str | None,
    status: OfferingStatus | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Offering], int]:
    visible = repository.visible_to(
        everything=viewer is not None and viewer.is_staff, provider_id=viewer.provider_id if viewer else None
    )
    return await repository.list_page(
        session,
        visible=visible,
        provider_id=provider_id,
        category_code=category_code,
        status=status,
        limit=limit,
        offset=offset,
    )


async def _get_to_manage(session: AsyncSession, offering_id: uuid.UUID, by: Principal) -> Offering:
    offering = await repository.get(session, offering_id)
    if offering is None or not organizations_service.may_manage_offerings(by, offering.provider_id):
        raise _not_found()
    return offering


async def _write(session: AsyncSession, offering: Offering, values: dict[str, Any]) -> Offering:
    if not await repository.update_if_unchanged(
        session, offering.id, status=offering.status, version=offering.version, values=values
    ):
        raise Conflict("The offering was changed meanwhile; reload it and try again.", code="concurrent_update")
    updated = await repository.get(session, offering.id)
    assert updated is not None
    return updated


async def update(session: AsyncSession, offering_id: uuid.UUID, data: OfferingUpdate, *, by: Principal) -> Offering:
    """Change an offering; a published one announces its new snapshot (``offering.updated``)."""
    offering = await _get_to_manage(session, offering_id, by)
    changes = _columns(data.changes())
    if "category_code" in changes:
        await categories_service.require_leaf(session, changes["category_code"])
    if changes.keys() & {"lat", "lng", "center_id", "service_radius_m", "service_communities"}:
        current = {name: getattr(offering, name) for name in ("lat", "lng", "center_id", "service_radius_m")}
        changes |= await _place(session, current, changes)
    if changes.keys() & {"mode", "lat", "center_id", "service_radius_m"}:
        changes["search_band"] = search_band(
            changes.get("mode", offering.mode),
            changes.get("lat", offering.lat),
            changes.get("service_radius_m", offering.service_radius_m),
        )
    changed = {name: value for name, value in changes.items() if getattr(offering, name) != value}
    if not changed:
        return offering
    announce = offering.status == OfferingStatus.published
    if announce:
        changed["version"] = offering.version + 1
    offering = await _write(session, offering, changed)
    if "service_communities" in changed:
        await repository.set_service_communities(session, offering.id, offering.service_communities)
    if announce:
        await emit(session, await _snapshot(session, offering, OfferingUpdated))
    return offering


async def publish(session: AsyncSession, offering_id: uuid.UUID, *, by: Principal) -> Offering:
    """Make a draft (or a withdrawn offering) bookable; only a verified provider's offerings may be."""
    offering = await _get_to_manage(session, offering_id, by)
    if offering.status not in (OfferingStatus.draft, OfferingStatus.withdrawn):
        raise InvalidTransition(f"An offering that is {offering.status} cannot be published.")
    provider = await organizations_service.get(session, offering.provider_id)
    if provider.status != OrganizationStatus.verified:
        raise Conflict(
            f"The provider is {provider.status}; only a verified provider can publish offerings.",
            code="provider_not_verified",
        )
    required = await categories_service.required_qualification(session, offering.category_code)
    if required is not None:
        await qualifications_service.require_valid(session, offering.provider_id, required)
    offering = await _write(
        session,
        offering,
        {"status": OfferingStatus.published, "version": offering.version + 1, "published_at": utcnow()},
    )
    await emit(session, await _snapshot(session, offering, OfferingPublished))
    return offering


async def withdraw(session: AsyncSession, offering_id: uuid.UUID, *, by: Principal) -> Offering:
    """Stop taking bookings for a published offering (bookings already made are booking-service's to settle)."""
    offering = await _get_to_manage(session, offering_id, by)
    if offering.status != OfferingStatus.published:
        raise InvalidTransition(f"An offering that is {offering.status} cannot be withdrawn.")
    offering = await _write(session, offering, {"status": OfferingStatus.withdrawn, "version": offering.version + 1})
    await emit(session, await _snapshot(session, offering, OfferingWithdrawn))
    return offering


async def follow_center(session: AsyncSession, center: ServiceCenter, *, moved: bool) -> int:
    """A service center was renamed, given a new address or moved: the offerings given there are where it is now
    (``moved``), and each one other services know of (published or withdrawn; a draft is never announced) is
    announced again at its next version with the center's name, address and point, in the center's transaction.
    Booking's lists then name the center as it is called now. The number announced."""
    if moved:
        await repository.move_to_center(session, center.id, lat=center.lat, lng=center.lng)
    announced = 0
    for listed in await repository.at_center(session, center.id):
        if listed.status == OfferingStatus.draft:
            continue
        # Not a guarded write: an offering edited at the same moment must not make the center's change fail. The
        # offering is read again after taking its version, so the snapshot is the one at that version.
        await repository.next_version(session, listed.id)
        offering = await repository.get(session, listed.id)
        if offering is None or offering.status == OfferingStatus.draft:
            continue
        # ``offering.updated`` whatever its status: a withdrawn offering was not withdrawn again (a provider's
        # system subscribed to ``offering.withdrawn`` hears nothing twice); the snapshot's ``status`` says it.
        await emit(session, await _snapshot(session, offering, OfferingUpdated))
        announced += 1
    return announced


async def _snapshot(session: AsyncSession, offering: Offering, event: type[S]) -> S:
    provider = await organizations_service.get(session, offering.provider_id)
    center = await places_service.get_center(session, offering.center_id) if offering.center_id else None
    return event(
        offering_id=offering.id,
        provider_id=offering.provider_id,
        provider_name=provider.name_zh,
        category_code=offering.category_code,
        name_zh=offering.name_zh,
        name_en=offering.name_en,
        mode=offering.mode.value,
        price_fen=offering.price_fen,
        duration_minutes=offering.duration_minutes,
        capacity_per_slot=offering.capacity_per_slot,
        timezone=offering.timezone,
        weekly_rules=tuple(WeeklyRule.model_validate(r) for r in offering.weekly_rules),
        exceptions=tuple(ScheduleException.model_validate(e) for e in offering.exceptions),
        target_groups=tuple(offering.target_groups),
        auto_confirm=offering.auto_confirm,
        status=offering.status.value,
        version=offering.version,
        latitude=offering.lat,
        longitude=offering.lng,
        service_radius_m=offering.service_radius_m,
        service_communities=tuple(offering.service_communities),
        place_name=center.name_zh if center else None,
        place_address=center.address if center else None,
    )
