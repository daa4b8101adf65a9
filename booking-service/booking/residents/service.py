"""Residents: registration with consent and eligibility, lookup, corrections, who may see what, and the app
accounts linked to them by a verified phone (one person, one record: a phone or ID number is on one record)."""

import re
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import ric

from booking.audit import service as audit
from booking.communities import service as communities_service
from booking.residents import pinyin, repository
from booking.residents import schemas as s
from booking.residents.models import Resident, ResidentLink
from booking.residents.protection import ID_CARD, mask_id_card, normalize_id_card
from service_kit import phones
from service_kit.auth import Principal, Role, TokenVerifier
from service_kit.errors import Conflict, FieldProblems, Forbidden, NotFound, Unauthorized, ValidationFailed
from service_kit.protection import Keyring
from service_kit.timeutil import utcnow

_TAKEN = {
    "phone": ("A resident with this phone number is already registered.", "phone_taken"),
    "id_card": ("A resident with this ID number is already registered.", "id_card_taken"),
    "account": ("This account is already registered as a resident.", "already_registered"),
}


def _already_registered() -> Conflict:
    return Conflict(
        "This phone's resident is already registered: sign in again to reach the record.", code="already_registered"
    )


def _registers_self(principal: Principal) -> bool:
    return not principal.has_any(Role.operator, Role.admin) and principal.has_any(Role.resident)


def verified_phone(principal: Principal) -> str | None:
    """The phone the caller's issuer verified (the gateway's phone-code sign-in), in E.164; None when none."""
    raw = principal.verified_phone
    if raw is None:
        return None
    try:
        return phones.normalize(raw)
    except ValidationFailed:
        return None


async def with_own_resident(session: AsyncSession, principal: Principal) -> Principal:
    """The caller as this service serves them.

    A resident whose token carries no ``resident_id`` is the record linked to their account (``sub``). A token
    that names a record and the verified phone it was issued for acts for that record only while the record
    still has that phone: a token issued before the phone changed (or before a wrong number was corrected) is
    401 ``resident_token_outdated``, and the next refresh names the phone's current record, if any."""
    if not principal.has_any(Role.resident) or principal.has_any(Role.operator, Role.admin):
        return principal
    phone = verified_phone(principal)
    if principal.resident_id is None:
        resident = await repository.find_by_account(session, principal.subject)
        if resident is None or (phone is not None and resident.phone != phone):
            return principal
        return principal.model_copy(update={"resident_id": resident.id})
    if phone is not None:
        resident = await repository.get(session, principal.resident_id)
        if resident is not None and resident.erased_at is None and resident.phone != phone:
            raise Unauthorized(
                "This sign-in was for a phone the resident record no longer has; sign in again.",
                code="resident_token_outdated",
            )
    return principal


def _check_self_registration(by: Principal, data: s.ResidentCreate, consent: s.ConsentCreate, phone: str) -> None:
    """A resident registers themself only with the phone they proved, consenting in the app, with no tags."""
    proved = verified_phone(by)
    if proved is None or proved != phone:
        raise Forbidden(
            "phone: a resident registers themself only with the phone they signed in with (verified by a code).",
            code="phone_not_verified",
        )
    if consent.channel != "app":
        message = "a resident registering themself consents in the app: channel app."
        raise ValidationFailed(
            f"consent.channel: {message}",
            code="consent_channel_not_app",
            errors=[{"field": "consent.channel", "in": "body", "message": message, "type": "consent_channel_not_app"}],
        )
    if data.eligibility_tags:
        raise Forbidden(
            "Eligibility tags are recorded by an operator who checked them.", code="eligibility_by_operator"
        )


def _id_card_fields(raw: str | None, keyring: Keyring) -> dict[str, Any]:
    if raw is None:
        return {"id_card_encrypted": None, "id_card_index": None, "id_card_masked": None}
    number = normalize_id_card(raw)
    return {
        "id_card_encrypted": keyring.seal(ID_CARD, number),
        "id_card_index": keyring.blind_index(ID_CARD, number),
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


def _emergency_fields(contact: s.EmergencyContactIn | None, problems: FieldProblems) -> dict[str, Any]:
    if contact is None:
        return {"emergency_contact_name": None, "emergency_contact_phone": None, "emergency_contact_relation": None}
    phone = None
    # An emergency contact's bad phone is that field's problem, not the resident's own phone's.
    with problems.field("emergency_contact.phone"):
        phone = phones.normalize(contact.phone)
    return {
        "emergency_contact_name": contact.name,
        "emergency_contact_phone": phone,
        "emergency_contact_relation": contact.relation,
    }


async def register(session: AsyncSession, data: s.ResidentCreate, *, by: Principal, keyring: Keyring) -> Resident:
    """An operator registers a caller, or a resident registers themself with the phone they signed in with: the
    new record is then linked to the token's ``sub`` (``account_subject``) and takes the token's ``resident_id``
    (the gateway's identity, while the phone had no record), so the tokens the gateway issues point at it.

    A phone and an ID number are on one record at most, even when registrations race (unique keys decide)."""
    account_subject: str | None = None
    resident_id = uuid.uuid4()
    # Every bad field at once: the phone, the ID number (and the birth date it gives), the community, the
    # emergency contact's phone.
    problems = FieldProblems()
    phone = ""
    birth_date: date | None = None
    with problems.field("phone"):
        phone = phones.normalize(data.phone)
    with problems.field("id_card_number"):
        birth_date = _birth_date(data.birth_date, data.id_card_number)
    if data.community_code is not None:
        with problems.field("community_code"):
            await communities_service.require_known(session, data.community_code)
    emergency = _emergency_fields(data.emergency_contact, problems)
    with problems.field("consent"):
        if data.consent is None:
            raise ValidationFailed("consent: the resident's consent is required.", code="consent_required")
    problems.raise_any()
    consent = data.consent
    if consent is None:  # noted above, so never reached: mypy's narrowing
        raise ValidationFailed("consent: the resident's consent is required.", code="consent_required")
    self_registration = _registers_self(by)
    if self_registration:
        _check_self_registration(by, data, consent, phone)
        if by.resident_id is not None:
            existing = await repository.get(session, by.resident_id)
            if existing is None:
                resident_id = by.resident_id
            elif existing.erased_at is None:
                raise _already_registered()
            # else: their earlier record was erased and stays an anonymized reference under that id; the new one
            # takes a new id, which their next sign-in or refresh names.
        elif await repository.find_by_account(session, by.subject) is not None:
            raise _already_registered()
        if await repository.find_by_phone(session, phone) is not None:
            # Their phone's record exists (an operator registered them since they signed in): it is theirs, and
            # their next sign-in or refresh names it.
            raise _already_registered()
        account_subject = by.subject[:160]
    now = utcnow()
    values: dict[str, Any] = dict(
        id=resident_id,
        name=data.name,
        phone=phone,
        community_code=data.community_code,
        eligibility_tags=list(data.eligibility_tags),
        birth_date=birth_date,
        address=data.address,
        access_notes=data.access_notes,
        consent_purpose=consent.purpose,
        consent_version=consent.version,
        consent_channel=consent.channel,
        consent_at=now,
        registered_by=by.subject[:120],
        account_subject=account_subject,
        **_id_card_fields(data.id_card_number, keyring),
        **_position_fields(data.position),
        **emergency,
    )
    resident = Resident(**repository.sealed_values(keyring, values))
    taken = await repository.add(session, resident)
    if taken is not None:
        if self_registration and taken != "id_card":
            raise _already_registered()  # the same resident registering twice at once, or an operator just now
        holder = await _holder(session, taken, phone, data, by=by, keyring=keyring)
        raise Conflict(_TAKEN[taken][0], code=_TAKEN[taken][1], **holder)
    if account_subject is not None:
        await _record_link(session, resident, account_subject, "self_registration", consent.version, now)
    await audit.record(session, by, resident.id, "register")
    return resident


_TAKEN_FIELDS = {"phone": "phone", "id_card": "id_card_number"}


async def _holder(
    session: AsyncSession, taken: str, phone: str, data: s.ResidentCreate, *, by: Principal, keyring: Keyring
) -> dict[str, Any]:
    """For the staff who register a caller: the field already taken and the resident who has it, so the operator
    opens that record instead of registering the caller twice. A resident registering themself learns neither."""
    field = _TAKEN_FIELDS.get(taken)
    if field is None:
        return {}
    extra: dict[str, Any] = {
        "errors": [{"field": field, "in": "body", "message": _TAKEN[taken][0], "type": _TAKEN[taken][1]}]
    }
    if not by.has_any(Role.operator, Role.admin):
        return extra
    if taken == "phone":
        holder = await repository.find_by_phone(session, phone)
    else:
        assert data.id_card_number is not None
        index = keyring.blind_index(ID_CARD, normalize_id_card(data.id_card_number))
        holder = await repository.find_by_id_card_index(session, index)
    if holder is not None:
        extra["existing_resident_id"] = str(holder.id)
    return extra


async def _record_link(
    session: AsyncSession, resident: Resident, subject: str, how: str, app_consent: str | None, at: datetime
) -> None:
    version, source = (app_consent, "app") if app_consent else (resident.consent_version, "registration")
    await repository.add_link(
        session,
        ResidentLink(
            id=uuid.uuid4(),
            resident_id=resident.id,
            account_subject=subject,
            how=how,
            consent_version=version,
            consent_source=source,
            at=at,
        ),
    )


async def link_verified_phone(session: AsyncSession, data: s.ResidentLinkRequest) -> Resident | None:
    """The gateway has just verified ``data.phone`` for the app account ``data.account_subject``: the record of
    that phone, now linked to that account (and to no other record), or None when the phone has none.

    The phone is the proof: the record is the person's whom the operator registered with it. A new link, or a
    new privacy-notice version accepted in the app, is written to the record's link trail; the record's own
    consent (from its registration) is left as it was."""
    resident = await repository.find_by_phone(session, phones.normalize(data.phone))
    if resident is None or resident.erased_at is not None:
        return None
    subject = data.account_subject[:160]
    now = utcnow()
    if await repository.link_account(session, resident.id, subject):
        await _record_link(session, resident, subject, "phone_sign_in", data.consent_version, now)
    elif data.consent_version is not None:
        last = await repository.last_link(session, resident.id, subject)
        if last is None or (last.consent_source, last.consent_version) != ("app", data.consent_version):
            await _record_link(session, resident, subject, "phone_sign_in", data.consent_version, now)
    return resident


async def links_of(session: AsyncSession, resident_id: uuid.UUID, *, limit: int) -> list[s.ResidentLink]:
    return [
        s.ResidentLink.model_validate(link) for link in await repository.links_of(session, resident_id, limit=limit)
    ]


def as_registered(principal: Principal, resident: Resident) -> Principal:
    """The caller as it stands after registering ``resident``: a self-registered resident is now them."""
    if resident.account_subject is not None and resident.account_subject == principal.subject[:160]:
        return principal.model_copy(update={"resident_id": resident.id})
    return principal


async def _check_phone_proof(proof: str | None, phone: str, *, by: Principal, verifier: TokenVerifier) -> None:
    """A resident changes their phone only to one they have just verified (the gateway's proof, theirs)."""
    if proof is None:
        raise Forbidden(
            "phone: a resident changes their phone only to one they have just verified: send phone_proof "
            "(POST /api/v1/auth/otp/proof) with it.",
            code="phone_not_verified",
        )
    try:
        proved = await verifier.verify_phone_proof(proof)
    except Unauthorized as exc:
        raise Forbidden("phone_proof: not a valid proof, or expired.", code="phone_proof_invalid") from exc
    if proved.subject != by.subject:
        raise Forbidden("phone_proof: this proof is someone else's.", code="phone_proof_invalid")
    try:
        proved_phone = phones.normalize(proved.phone_number)
    except ValidationFailed:
        proved_phone = None
    if proved_phone != phone:
        raise Forbidden("phone: not the phone the proof verified.", code="phone_not_verified")


async def correct(
    session: AsyncSession,
    resident_id: uuid.UUID,
    data: s.ResidentUpdate,
    *,
    by: Principal,
    keyring: Keyring,
    verifier: TokenVerifier,
) -> Resident:
    """Correct a resident's data (the resident themself, or an operator); eligibility only an operator; a new
    phone, when the resident changes it, only one they have just verified. Whatever is refused changes nothing."""
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
        phone = phones.normalize(data.phone)
        if phone != resident.phone:
            if not by.has_any(Role.operator, Role.admin):
                await _check_phone_proof(data.phone_proof, phone, by=by, verifier=verifier)
            values["phone"] = phone
            # The app account was linked through the old phone: the new phone's sign-in links again.
            values["account_subject"] = None
    if sent.get("community_code") is not None and sent["community_code"] != resident.community_code:
        await communities_service.require_known(session, sent["community_code"])
    for field in ("community_code", "address", "access_notes"):
        if field in sent:
            values[field] = sent[field]
    if "id_card_number" in sent:
        values.update(_id_card_fields(data.id_card_number, keyring))
    if "id_card_number" in sent or "birth_date" in sent:
        given = data.birth_date if "birth_date" in sent else resident.birth_date
        if "id_card_number" in sent:
            values["birth_date"] = _birth_date(given, data.id_card_number)
        elif resident.id_card_encrypted is not None:
            values["birth_date"] = _birth_date(given, keyring.open(ID_CARD, resident.id_card_encrypted))
        else:
            values["birth_date"] = given
    if "position" in sent:
        values.update(_position_fields(data.position))
    if "emergency_contact" in sent:
        problems = FieldProblems()
        values.update(_emergency_fields(data.emergency_contact, problems))
        problems.raise_any()
    if values:
        values["updated_at"] = utcnow()
        taken = await repository.update_fields(session, resident.id, values)
        if taken is not None:
            raise Conflict(_TAKEN[taken][0], code=_TAKEN[taken][1])
    await audit.record(session, by, resident.id, "correct")
    return await get_visible(session, resident_id, by=by)


async def set_eligibility_tags(session: AsyncSession, resident_id: uuid.UUID, tags: Iterable[str]) -> None:
    """The resident's eligibility tags once an operator recorded (or removed) the evidence of one."""
    await repository.update_fields(
        session, resident_id, {"eligibility_tags": sorted(set(tags)), "updated_at": utcnow()}
    )


def may_see(principal: Principal, resident_id: uuid.UUID) -> bool:
    """Operators and admins see every resident; a resident only themself."""
    return principal.has_any(Role.operator, Role.admin) or principal.resident_id == resident_id


async def get(session: AsyncSession, resident_id: uuid.UUID) -> Resident | None:
    """A resident who can still be booked for (not erased, not merged into another record)."""
    resident = await repository.get(session, resident_id)
    if resident is None or resident.erased_at is not None or resident.merged_into_id is not None:
        return None
    return resident


async def get_visible(session: AsyncSession, resident_id: uuid.UUID, *, by: Principal) -> Resident:
    """The resident, for someone who may see them. A merged duplicate is 404 ``resident_merged`` naming the
    record it was merged into (``survivor_id``), for those who may see that record."""
    found = await repository.get(session, resident_id)
    if found is not None and found.merged_into_id is not None and may_see(by, found.merged_into_id):
        raise NotFound(
            "This record was merged into another one.", code="resident_merged", survivor_id=str(found.merged_into_id)
        )
    resident = await get(session, resident_id) if may_see(by, resident_id) else None
    if resident is None:
        raise NotFound("No such resident.", code="resident_not_found")
    return resident


async def find_signed_in_by_phone(session: AsyncSession, phone: str) -> Resident | None:
    """The record of ``phone`` if its resident has signed in to the app with it (an app account is linked)."""
    resident = await repository.find_by_phone(session, phone)
    if resident is None or resident.erased_at is not None or resident.account_subject is None:
        return None
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


async def ids_by_phone(session: AsyncSession, raw: str) -> Select[uuid.UUID]:
    """Residents (as an id subquery) by a whole phone number (any usual form) or by its last 4 to 10 digits."""
    raw = raw.strip()
    if PHONE_SUFFIX.fullmatch(raw):
        return await repository.ids_by_phone(session, suffix=raw)
    return await repository.ids_by_phone(session, exact=phones.normalize(raw))


def reachable_ids() -> Select[uuid.UUID]:
    return repository.reachable_ids()


async def find_by_id_card(session: AsyncSession, raw: str, *, by: Principal, keyring: Keyring) -> list[Resident]:
    resident = await repository.find_by_id_card_index(session, keyring.blind_index(ID_CARD, normalize_id_card(raw)))
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
        access_notes=resident.access_notes,
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
        r.id: summary_of(r, viewer) for r in await repository.get_many(session, resident_ids) if r.erased_at is None
    }


def summary_of(resident: Resident, viewer: Principal) -> s.ResidentSummary:
    """``summaries``' entry for a resident already at hand (not erased)."""
    return s.ResidentSummary(id=resident.id, name=resident.name, phone=phone_for(resident, viewer))


async def visit_areas(session: AsyncSession, resident_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, s.VisitArea]:
    """Where residents live as a provider plans its rounds: the community and its street, never the address."""
    residents = [r for r in await repository.get_many(session, resident_ids) if r.community_code is not None]
    communities = await communities_service.by_code(session, (r.community_code or "" for r in residents))
    areas = {}
    for r in residents:
        community = communities.get(r.community_code or "")
        areas[r.id] = s.VisitArea(
            community_code=r.community_code or "",
            community_name=community.name_zh if community else None,
            street_code=community.street_code if community else None,
        )
    return areas


async def erased_among(session: AsyncSession, resident_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Those of ``resident_ids`` whose record is erased (the gateway's reconciliation of its app accounts)."""
    return await repository.erased_among(session, resident_ids)


async def get_to_message(session: AsyncSession, resident_id: uuid.UUID) -> Resident | None:
    """The resident a message is about to be written for, unless erased. Read under a share lock, so a message
    written at the moment of her erasure is never left behind it: either the erasure waits for the message's
    transaction and deletes the message, or the message's transaction sees her erased."""
    resident = await repository.get_shared(session, resident_id)
    return None if resident is None or resident.erased_at is not None else resident


# What the console's one search box was given: a whole phone (11 digits, or any usual form with +86, spaces or
# dashes), the last 4 to 10 digits of one, an ID number (17 digits and a digit or X), letters (a name's pinyin or
# its initials), or anything else (the start of a name, or part of an address).
_PHONE_LIKE = re.compile(r"\+?[\d\s()-]{11,20}")
_ID_CARD_LIKE = re.compile(r"\d{17}[\dXx]")
_LETTERS = re.compile(r"[A-Za-z][A-Za-z\s]*")


async def search(
    session: AsyncSession, raw: str, *, by: Principal, keyring: Keyring, limit: int, offset: int
) -> tuple[list[Resident], int]:
    """The residents an operator's search finds, each lookup audited as the single-key searches are."""
    typed = raw.strip()
    compact = re.sub(r"[\s()-]", "", typed)
    found: list[Resident]
    if _ID_CARD_LIKE.fullmatch(compact):
        found = await find_by_id_card(session, compact, by=by, keyring=keyring)
        return found[offset : offset + limit], len(found)
    if PHONE_SUFFIX.fullmatch(compact):
        return await find_by_phone_suffix(session, compact, by=by, limit=limit, offset=offset)
    if _PHONE_LIKE.fullmatch(typed):
        found = await find_by_phone(session, compact, by=by)
        return found[offset : offset + limit], len(found)
    if _LETTERS.fullmatch(typed):
        residents, total = await repository.search_by_name_key(
            session, pinyin.as_key(typed), limit=limit, offset=offset
        )
    else:
        residents, total = await repository.search_by_text(session, typed, limit=limit, offset=offset)
    for r in residents:
        await audit.record(session, by, r.id, "lookup")
    return list(residents), total
