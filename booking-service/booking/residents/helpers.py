"""Family helpers: a resident authorises a relative's own resident account to act for them.

A helper is a resident account in its own right (the relative signed in with their phone). The resident grants
in the app, or an operator grants on the resident's word and records how they consented. While the grant is
active the helper's own token reaches the resident's bookings: the helper names the resident the way any request
names one (``resident_id`` in the body or the query) and booking admits it only for an active grant; without one
the answer is the one for a resident that does not exist (404). The resident, an operator, or the helper stepping
down revokes it. Each grant and revocation emits ``resident.helper_granted`` / ``.helper_revoked`` (feedback keeps
who may file complaints and needs for whom from them); whatever a helper does for the resident is in the
resident's acting-for trail with the helper's id."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from booking.audit import service as audit
from booking.residents import repository
from booking.residents import schemas as s
from booking.residents import service as residents_service
from booking.residents.models import HelperGrant
from service_kit import phones
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, NotFound, ValidationFailed
from service_kit.events.contracts import ResidentHelperGranted, ResidentHelperRevoked
from service_kit.events.outbox import emit
from service_kit.timeutil import utcnow


def _invalid(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", code=code, errors=[{"field": field, "in": "body", "message": message, "type": code}]
    )


def _is_staff(by: Principal) -> bool:
    return by.has_any(Role.operator, Role.admin)


def may_act_as_helper(by: Principal) -> bool:
    """A resident's own token (no staff role) that names a resident record: what may be someone's helper."""
    return not _is_staff(by) and by.has_any(Role.resident) and by.resident_id is not None


async def helper_grant_for(session: AsyncSession, by: Principal, resident_id: uuid.UUID) -> HelperGrant | None:
    """The active grant that lets the caller act for ``resident_id`` as their helper; None when there is none
    (or the caller is the resident themself, or staff)."""
    if not may_act_as_helper(by) or by.resident_id == resident_id:
        return None
    assert by.resident_id is not None
    return await repository.active_grant(session, resident_id, by.resident_id)


async def require_helper(session: AsyncSession, by: Principal, resident_id: uuid.UUID) -> HelperGrant:
    """The caller's active grant for ``resident_id``; 404 as for a resident that does not exist otherwise."""
    grant = await helper_grant_for(session, by, resident_id)
    if grant is None:
        raise NotFound("No such resident.", code="resident_not_found")
    return grant


async def grant(
    session: AsyncSession, resident_id: uuid.UUID, data: s.HelperGrantCreate, *, by: Principal
) -> s.HelperGrant:
    resident = await residents_service.get_visible(session, resident_id, by=by)
    if _is_staff(by):
        if data.consent_channel is None:
            raise _invalid(
                "consent_channel",
                "an operator records how the resident consented: phone, walk_in or paper.",
                "consent_required",
            )
        channel: str = data.consent_channel
    else:
        if data.consent_channel is not None:
            raise _invalid(
                "consent_channel",
                "a resident authorises a helper in the app: send no channel.",
                "consent_channel_not_app",
            )
        channel = "app"
    try:
        helper_phone = phones.normalize(data.helper_phone)
    except ValidationFailed as exc:
        raise _invalid("helper_phone", "not a phone number.", "invalid_phone") from exc
    helper = await residents_service.find_signed_in_by_phone(session, helper_phone)
    if helper is None:
        raise _invalid(
            "helper_phone",
            "no resident account has signed in with this phone: the relative signs in to the app with it first.",
            "helper_not_signed_in",
        )
    if helper.id == resident.id:
        raise _invalid("helper_phone", "this is the resident's own phone.", "helper_is_self")
    now = utcnow()
    grant = HelperGrant(
        id=uuid.uuid4(),
        resident_id=resident.id,
        helper_resident_id=helper.id,
        relation=data.relation,
        consent_channel=channel,
        granted_by=by.subject[:160],
        granted_at=now,
    )
    if not await repository.add_grant(session, grant):
        raise Conflict("This relative already acts for the resident.", code="helper_already_granted")
    await audit.record(session, by, resident.id, "grant_helper")
    await emit(
        session,
        ResidentHelperGranted(
            grant_id=grant.id, resident_id=resident.id, helper_resident_id=helper.id, occurred_at=now
        ),
    )
    return (await to_schemas(session, [grant], viewer=by))[0]


async def revoke(session: AsyncSession, resident_id: uuid.UUID, grant_id: uuid.UUID, *, by: Principal) -> s.HelperGrant:
    """End a grant: the resident, an operator, or the helper stepping down. Anyone else: 404."""
    found = await repository.get_grant(session, grant_id)
    if found is None or found.resident_id != resident_id:
        raise NotFound("No such helper grant.", code="helper_grant_not_found")
    if _is_staff(by):
        reason = "operator"
    elif by.has_any(Role.resident) and by.resident_id == found.resident_id:
        reason = "resident"
    elif by.has_any(Role.resident) and by.resident_id == found.helper_resident_id:
        reason = "helper"
    else:
        raise NotFound("No such helper grant.", code="helper_grant_not_found")
    now = utcnow()
    await end_grant(session, found, by=by.subject, reason=reason, at=now)
    await audit.record(session, by, found.resident_id, "revoke_helper")
    await session.refresh(found)
    return (await to_schemas(session, [found], viewer=by))[0]


async def end_grant(session: AsyncSession, grant: HelperGrant, *, by: str, reason: str, at: datetime) -> None:
    """Revoke ``grant`` by a guarded write and announce it; 409 when it had ended already."""
    values = {"revoked_at": at, "revoked_by": by[:160], "revoked_reason": reason}
    if not await repository.revoke_grant(session, grant.id, values):
        raise Conflict("This helper no longer acts for the resident.", code="helper_grant_revoked")
    await emit(
        session,
        ResidentHelperRevoked(
            grant_id=grant.id,
            resident_id=grant.resident_id,
            helper_resident_id=grant.helper_resident_id,
            occurred_at=at,
        ),
    )


async def helpers_of(session: AsyncSession, resident_id: uuid.UUID, *, by: Principal) -> list[s.HelperGrant]:
    """Who acts for the resident now (the resident, or an operator)."""
    resident = await residents_service.get_visible(session, resident_id, by=by)
    grants = await repository.active_grants(session, resident_id=resident.id)
    await audit.record(session, by, resident.id, "list_helpers")
    return await to_schemas(session, list(grants), viewer=by)


async def helping(session: AsyncSession, resident_id: uuid.UUID, *, by: Principal) -> list[s.HelperGrant]:
    """Whom the resident acts for as a helper (the helper themself, or an operator): where the relative's app
    finds the ids it books with."""
    helper = await residents_service.get_visible(session, resident_id, by=by)
    grants = await repository.active_grants(session, helper_id=helper.id)
    return await to_schemas(session, list(grants), viewer=by)


async def to_schemas(session: AsyncSession, grants: list[HelperGrant], *, viewer: Principal) -> list[s.HelperGrant]:
    ids = {g.resident_id for g in grants} | {g.helper_resident_id for g in grants}
    # Phones masked for anyone but staff and the person themself (a resident sees their helper's name).
    people = await residents_service.summaries(session, ids, viewer)
    return [
        s.HelperGrant(
            id=g.id,
            resident_id=g.resident_id,
            helper_resident_id=g.helper_resident_id,
            relation=g.relation,
            helper=people.get(g.helper_resident_id),
            resident=people.get(g.resident_id),
            consent_channel=g.consent_channel,
            granted_at=g.granted_at,
            revoked_at=g.revoked_at,
            revoked_reason=g.revoked_reason,
        )
        for g in grants
    ]


async def helper_labels(
    session: AsyncSession, pairs: set[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], s.HelperLabel]:
    """How each (resident, helper) pair is shown on the resident's bookings: the helper's name, masked phone and
    what the resident calls them (from their latest grant, even once revoked). An erased helper shows nothing."""
    grants = await repository.latest_grants(session, pairs)
    people = {r.id: r for r in await repository.get_many(session, {h for _, h in pairs})}
    labels = {}
    for pair in pairs:
        helper = people.get(pair[1])
        grant = grants.get(pair)
        visible = helper is not None and helper.erased_at is None and helper.merged_into_id is None
        labels[pair] = s.HelperLabel(
            resident_id=pair[1],
            name=helper.name if visible and helper is not None else None,
            phone=phones.mask(helper.phone) if visible and helper is not None and helper.phone else None,
            relation=grant.relation if grant is not None else None,
        )
    return labels
