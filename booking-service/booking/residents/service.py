"""Residents: registration with consent and eligibility, lookup by phone, who may see what."""

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from booking.residents import phones, repository
from booking.residents import schemas as s
from booking.residents.models import Resident
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, NotFound
from service_kit.timeutil import utcnow


async def register(session: AsyncSession, data: s.ResidentCreate, *, by: Principal) -> Resident:
    resident = Resident(
        id=uuid.uuid4(),
        name=data.name,
        phone=phones.normalize(data.phone),
        community_code=data.community_code,
        eligibility_tags=list(data.eligibility_tags),
        consent_version=data.consent.version,
        consent_channel=data.consent.channel,
        consent_at=utcnow(),
        registered_by=by.subject[:120],
    )
    if not await repository.add(session, resident):
        raise Conflict("A resident with this phone number is already registered.", code="phone_taken")
    return resident


def may_see(principal: Principal, resident_id: uuid.UUID) -> bool:
    """Operators and admins see every resident; a resident only themself."""
    return principal.has_any(Role.operator, Role.admin) or principal.resident_id == resident_id


async def get(session: AsyncSession, resident_id: uuid.UUID) -> Resident | None:
    return await repository.get(session, resident_id)


async def get_visible(session: AsyncSession, resident_id: uuid.UUID, *, by: Principal) -> Resident:
    resident = await repository.get(session, resident_id) if may_see(by, resident_id) else None
    if resident is None:
        raise NotFound("No such resident.", code="resident_not_found")
    return resident


async def find_by_phone(session: AsyncSession, raw_phone: str) -> list[Resident]:
    resident = await repository.find_by_phone(session, phones.normalize(raw_phone))
    return [resident] if resident is not None else []


def phone_for(resident: Resident, viewer: Principal) -> str:
    return resident.phone if may_see(viewer, resident.id) else phones.mask(resident.phone)


def to_schema(resident: Resident, viewer: Principal) -> s.Resident:
    return s.Resident(
        id=resident.id,
        name=resident.name,
        phone=phone_for(resident, viewer),
        community_code=resident.community_code,
        eligibility_tags=list(resident.eligibility_tags),
        consent=s.Consent(
            version=resident.consent_version,
            channel=resident.consent_channel,
            recorded_at=resident.consent_at,
        ),
        created_at=resident.created_at,
        updated_at=resident.updated_at,
    )


async def summaries(
    session: AsyncSession, resident_ids: Iterable[uuid.UUID], viewer: Principal
) -> dict[uuid.UUID, s.ResidentSummary]:
    """Residents as shown on bookings, phone masked for viewers who are neither staff nor the resident."""
    return {
        r.id: s.ResidentSummary(id=r.id, name=r.name, phone=phone_for(r, viewer))
        for r in await repository.get_many(session, resident_ids)
    }
