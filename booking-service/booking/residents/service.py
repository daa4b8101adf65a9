"""Residents: registration with consent and eligibility, lookup, corrections, who may see what."""

import re
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import ric

from booking.audit import service as audit
from booking.residents import phones, repository
from booking.residents import schemas as s
from booking.residents.models import Resident
from booking.residents.protection import Protector, mask_id_card, normalize_id_card
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from service_kit.timeutil import utcnow

_TAKEN = {
    "phone": ("A resident with this phone number is already registered.", "phone_taken"),
    "id_card": ("A resident with this ID number is already registered.", "id_card_taken"),
    "account": ("This account is already registered as a resident.", "already_registered"),
}


def _registers_self(principal: Principal) -> bool:
    return not principal.has_any(Role.operator, Role.admin) and principal.has_any(Role.resident)


async def with_own_resident(session: AsyncSession, principal: Principal) -> Principal:
    """Fill in ``resident_id`` for a resident who registered themself and whose token does not carry it yet."""
    if principal.resident_id is not None or not principal.has_any(Role.resident):
        return principal
    resident = await repository.find_by_account(session, principal.subject)
    if resident is None:
        return principal
    return principal.model_copy(update={"resident_id": resident.id})


def _id_card_fields(raw: str | None, protector: Protector) -> dict[str, Any]:
    if raw is None:
        return {"id_card_encrypted": None, "id_card_index": None, "id_card_masked": None}
    number = normalize_id_card(raw)
    return {
        "id_card_encrypted": protector.encrypt(number),
        "id_card_index": protector.blind_index(number),
        "id_card_masked": mask_id_card(number),
    }


def _birth_date(given: date | None, id_card_raw: str | None) -> date | None:
    """The birth date, taken from the ID number when not given; a contradiction is refused."""
    if id_card_raw is None:
        return given
    from_id: date = ric.get_birth_date(normalize_id_card(id_card_raw))
    if given is not None and given != from_id:
        raise ValidationFailed("birth_date: differs from the ID number's birth date.", code="birth_date_mismatch")
    return from_id


def _position_fields(position: s.Position | None) -> dict[str, Any]:
    if position is None:
        return {"latitude": None, "longitude": None}
    return {"latitude": position.latitude, "longitude": position.longitude}


def _emergency_fields(contact: s.EmergencyContactIn | None) -> dict[str, Any]:
    if contact is None:
        return {"emergency_contact_name": None, "emergency_contact_phone": None, "emergency_contact_relation": None}
    return {
        "emergency_contact_name": contact.name,
        "emergency_contact_phone": phones.normalize(contact.phone),
        "emergency_contact_relation": contact.relation,
    }


async def register(session: AsyncSession, data: s.ResidentCreate, *, by: Principal, protector: Protector) -> Resident:
    """An operator registers a caller, or a resident registers themself: the new resident is then linked to the
    token's ``sub`` (``account_subject``), and later tokens of that account act as that resident."""
    account_subject: str | None = None
    resident_id = uuid.uuid4()
    if _registers_self(by):
        # A resident signed in at the gateway by phone code already has an identity (its resident_id claim):
        # the record takes that id, so the tokens the gateway issues point at it from then on.
        if by.resident_id is not None:
            if await repository.get(session, by.resident_id) is not None:
                raise Conflict(_TAKEN["account"][0], code=_TAKEN["account"][1])
            resident_id = by.resident_id
        elif await repository.find_by_account(session, by.subject) is not None:
            raise Conflict(_TAKEN["account"][0], code=_TAKEN["account"][1])
        if data.eligibility_tags:
            raise Forbidden(
                "Eligibility tags are recorded by an operator who checked them.", code="eligibility_by_operator"
            )
        account_subject = by.subject[:160]
    resident = Resident(
        id=resident_id,
        name=data.name,
        phone=phones.normalize(data.phone),
        community_code=data.community_code,
        eligibility_tags=list(data.eligibility_tags),
        birth_date=_birth_date(data.birth_date, data.id_card_number),
        address=data.address,
        consent_purpose=data.consent.purpose,
        consent_version=data.consent.version,
        consent_channel=data.consent.channel,
        consent_at=utcnow(),
        registered_by=by.subject[:120],
        account_subject=account_subject,
        **_id_card_fields(data.id_card_number, protector),
        **_position_fields(data.position),
        **_emergency_fields(data.emergency_contact),
    )
    taken = await repository.add(session, resident)
    if taken is not None:
        raise Conflict(_TAKEN[taken][0], code=_TAKEN[taken][1])
    await audit.record(session, by, resident.id, "register")
    return resident


def as_registered(principal: Principal, resident: Resident) -> Principal:
    """The caller as it stands after registering ``resident``: a self-registered resident is now them."""
    if resident.account_subject is not None and resident.account_subject == principal.subject[:160]:
        return principal.model_copy(update={"resident_id": resident.id})
    return principal


async def correct(
    session: AsyncSession, resident_id: uuid.UUID, data: s.ResidentUpdate, *, by: Principal, protector: Protector
) -> Resident:
    """Correct a resident's data (the resident themself, or an operator); eligibility only an operator."""
    resident = await get_visible(session, resident_id, by=by)
    sent = data.sent()
    values: dict[str, Any] = {}
    for required in ("name", "phone"):
        if required in sent and sent[required] is None:
            raise ValidationFailed(f"{required}: cannot be cleared.", code="validation_error")
    if "eligibility_tags" in sent:
        if not by.has_any(Role.operator, Role.admin):
            raise Forbidden(
                "Eligibility tags are recorded by an operator who checked them.", code="eligibility_by_operator"
            )
        values["eligibility_tags"] = list(sent["eligibility_tags"] or [])
    if "name" in sent:
        values["name"] = data.name
    if "phone" in sent and data.phone is not None:
        values["phone"] = phones.normalize(data.phone)
    for field in ("community_code", "address"):
        if field in sent:
            values[field] = sent[field]
    if "id_card_number" in sent:
        values.update(_id_card_fields(data.id_card_number, protector))
    if "id_card_number" in sent or "birth_date" in sent:
        given = data.birth_date if "birth_date" in sent else resident.birth_date
        if "id_card_number" in sent:
            values["birth_date"] = _birth_date(given, data.id_card_number)
        elif resident.id_card_encrypted is not None:
            values["birth_date"] = _birth_date(given, protector.decrypt(resident.id_card_encrypted))
        else:
            values["birth_date"] = given
    if "position" in sent:
        values.update(_position_fields(data.position))
    if "emergency_contact" in sent:
        values.update(_emergency_fields(data.emergency_contact))
    if values:
        values["updated_at"] = utcnow()
        taken = await repository.update_fields(session, resident.id, values)
        if taken is not None:
            raise Conflict(_TAKEN[taken][0], code=_TAKEN[taken][1])
    await audit.record(session, by, resident.id, "correct")
    return await get_visible(session, resident_id, by=by)


def may_see(principal: Principal, resident_id: uuid.UUID) -> bool:
    """Operators and admins see every resident; a resident only themself."""
    return principal.has_any(Role.operator, Role.admin) or principal.resident_id == resident_id


async def get(session: AsyncSession, resident_id: uuid.UUID) -> Resident | None:
    """A resident who can still be booked for (not erased)."""
    resident = await repository.get(session, resident_id)
    return resident if resident is not None and resident.erased_at is None else None


async def get_visible(session: AsyncSession, resident_id: uuid.UUID, *, by: Principal) -> Resident:
    resident = await get(session, resident_id) if may_see(by, resident_id) else None
    if resident is None:
        raise NotFound("No such resident.", code="resident_not_found")
    return resident


async def view(session: AsyncSession, resident_id: uuid.UUID, *, by: Principal) -> Resident:
    resident = await get_visible(session, resident_id, by=by)
    await audit.record(session, by, resident.id, "view")
    return resident


async def find_by_phone(session: AsyncSession, raw_phone: str, *, by: Principal) -> list[Resident]:
    resident = await repository.find_by_phone(session, phones.normalize(raw_phone))
    found = [resident] if resident is not None else []
    for r in found:
        await audit.record(session, by, r.id, "lookup")
    return found


async def find_by_phone_suffix(
    session: AsyncSession, digits: str, *, by: Principal, limit: int, offset: int
) -> tuple[list[Resident], int]:
    residents, total = await repository.find_by_phone_suffix(session, digits, limit=limit, offset=offset)
    for r in residents:
        await audit.record(session, by, r.id, "lookup")
    return list(residents), total


PHONE_SUFFIX = re.compile(r"\d{4,10}")


def ids_by_phone(raw: str) -> Select[uuid.UUID]:
    """Residents (as an id subquery) by a whole phone number (any usual form) or by its last 4 to 10 digits."""
    raw = raw.strip()
    if PHONE_SUFFIX.fullmatch(raw):
        return repository.ids_by_phone(suffix=raw)
    return repository.ids_by_phone(exact=phones.normalize(raw))


def reachable_ids() -> Select[uuid.UUID]:
    return repository.reachable_ids()


async def find_by_id_card(session: AsyncSession, raw: str, *, by: Principal, protector: Protector) -> list[Resident]:
    resident = await repository.find_by_id_card_index(session, protector.blind_index(normalize_id_card(raw)))
    found = [resident] if resident is not None else []
    for r in found:
        await audit.record(session, by, r.id, "lookup")
    return found


def phone_for(resident: Resident, viewer: Principal) -> str:
    phone = resident.phone or ""
    return phone if may_see(viewer, resident.id) else phones.mask(phone)


def to_schema(resident: Resident, viewer: Principal) -> s.Resident:
    position = None
    if resident.latitude is not None and resident.longitude is not None:
        position = s.Position(latitude=resident.latitude, longitude=resident.longitude)
    emergency = None
    if resident.emergency_contact_name and resident.emergency_contact_phone:
        emergency = s.EmergencyContact(
            name=resident.emergency_contact_name,
            phone=resident.emergency_contact_phone,
            relation=resident.emergency_contact_relation,
        )
    return s.Resident(
        id=resident.id,
        name=resident.name,
        phone=phone_for(resident, viewer),
        community_code=resident.community_code,
        eligibility_tags=list(resident.eligibility_tags),
        id_card_number=resident.id_card_masked,
        birth_date=resident.birth_date,
        address=resident.address,
        position=position,
        emergency_contact=emergency,
        consent=s.Consent(
            purpose=resident.consent_purpose,
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
    """Residents as shown on bookings, phone masked for viewers who are neither staff nor the resident; an
    erased resident is not shown (the booking keeps only the anonymized ``resident_id``)."""
    return {
        r.id: s.ResidentSummary(id=r.id, name=r.name, phone=phone_for(r, viewer))
        for r in await repository.get_many(session, resident_ids)
        if r.erased_at is None
    }
