"""A resident's PIPL rights over their data: export everything, and deletion (erasure) of their personal data.

Erasure keeps the resident row as an anonymized reference: past bookings (which procurement counted as
delivered services) and the acting-for trail still point at it, but nothing left identifies the person."""

import uuid
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from booking.audit import schemas as audit_schemas
from booking.audit import service as audit
from booking.bookings import schemas as bookings_schemas
from booking.bookings import service as bookings_service
from booking.calls import schemas as calls_schemas
from booking.calls import service as calls_service
from booking.entitlements import schemas as entitlements_schemas
from booking.entitlements import service as entitlements_service
from booking.notifications import repository as notifications_repository
from booking.replacements import repository as replacements_repository
from booking.residents import helpers, merge, repository
from booking.residents import schemas as s
from booking.residents import service as residents_service
from booking.residents.models import ERASED_NAME, without_personal_data
from booking.residents.protection import ID_CARD
from booking.timefmt import LocalDateTime
from booking.urgent import schemas as urgent_schemas
from booking.urgent import service as urgent
from booking.waitlist import schemas as waitlist_schemas
from booking.waitlist import service as waitlist_service
from service_kit.auth import Principal
from service_kit.errors import Conflict
from service_kit.events.contracts import ResidentErased
from service_kit.events.outbox import emit
from service_kit.idempotency import forget_resident
from service_kit.protection import Keyring
from service_kit.timeutil import utcnow

MAX_EXPORTED = 10_000


class ResidentExport(BaseModel):
    """Everything the booking service holds about a resident (PIPL rights of access and portability)."""

    resident: s.Resident
    id_card_number: str | None = Field(description="In full: the export goes only to the resident or an operator.")
    bookings: list[bookings_schemas.Booking]
    acting_for: list[audit_schemas.ActingFor]
    account_links: list[s.ResidentLink] = Field(
        description="App accounts linked to the record by a verified phone, and the consent each link rests on."
    )
    calls: list[calls_schemas.Call] = Field(
        description=(
            "What the hotline recorded of each call about them, the latest first: the reason, the operator's note, "
            "who called, the callback scheduled from it (why, when, how it went) and the urgent call it opened."
        )
    )
    urgent_calls: list[urgent_schemas.UrgentCall] = Field(
        description="Urgent safety calls about them: the note, each step with who and when, and every SMS sent."
    )
    waitlist_entries: list[waitlist_schemas.WaitlistEntry]
    eligibility: list[entitlements_schemas.Eligibility] = Field(
        description="The evidence behind each eligibility tag: what was seen, who verified it, until when."
    )
    exported_at: LocalDateTime


async def export(session: AsyncSession, resident_id: uuid.UUID, *, by: Principal, keyring: Keyring) -> ResidentExport:
    resident = await residents_service.get_visible(session, resident_id, by=by)
    bookings = await bookings_service.all_for_resident(session, resident.id, limit=MAX_EXPORTED)
    trail, _ = await audit.for_resident(session, resident.id, limit=MAX_EXPORTED, offset=0)
    urgent_calls, _ = await urgent.of_resident(session, resident.id, by=by, limit=MAX_EXPORTED, offset=0)
    evidence = await entitlements_service.evidence_for_export(session, resident.id)
    await audit.record(session, by, resident.id, "export")
    return ResidentExport(
        resident=residents_service.to_schema(resident, by),
        id_card_number=keyring.open(ID_CARD, resident.id_card_encrypted) if resident.id_card_encrypted else None,
        bookings=await bookings_service.to_schemas(session, bookings, viewer=by),
        acting_for=trail,
        account_links=await residents_service.links_of(session, resident.id, limit=MAX_EXPORTED),
        calls=await calls_service.for_export(session, resident.id, by=by, limit=MAX_EXPORTED),
        urgent_calls=urgent_calls,
        waitlist_entries=await waitlist_service.for_export(session, resident.id, limit=MAX_EXPORTED),
        eligibility=evidence,
        exported_at=utcnow(),
    )


async def erase(session: AsyncSession, resident_id: uuid.UUID, *, by: Principal) -> None:
    """Erase the resident's personal data. Refused while a booking is still active: it must be cancelled (or
    delivered) first, so no provider is left with a visit to an unknown person; and while an urgent call about
    them is open, so no emergency is left without a name."""
    resident = await residents_service.get_visible(session, resident_id, by=by)
    if await bookings_service.has_active(session, resident.id):
        raise Conflict(
            "Cancel the resident's active bookings before deleting their data.", code="resident_has_active_bookings"
        )
    if await urgent.open_of(session, resident.id) is not None:
        raise Conflict(
            "Resolve the resident's urgent call before deleting their data.", code="resident_has_open_urgent_call"
        )
    now = utcnow()
    values: dict[str, Any] = {**without_personal_data(ERASED_NAME), "erased_at": now, "updated_at": now}
    if resident.account_subject is not None and resident.registered_by == resident.account_subject[:120]:
        values["registered_by"] = "self"
    await repository.update_fields(session, resident.id, values)
    await bookings_service.anonymize_resident(session, resident.id)
    # Nobody acts for an erased resident, and an erased resident acts for nobody.
    for grant in [
        *await repository.active_grants(session, resident_id=resident.id),
        *await repository.active_grants(session, helper_id=resident.id),
    ]:
        await helpers.end_grant(session, grant, by=by.subject, reason="erased", at=now)
    await audit.record(session, by, resident.id, "erase")
    # Their messages (a helper's copy names them), operators' notes (on calls, callbacks and urgent calls), the
    # responses stored under an Idempotency-Key about them (under whoever's scope); then every other service hears
    # it, in this transaction.
    await notifications_repository.forget_resident(session, resident.id)
    await urgent.forget_resident(session, resident.id)
    await calls_service.forget_resident(session, resident.id)
    await replacements_repository.forget_notes(session, resident.id)
    await merge.forget_reasons(session, resident.id)
    await entitlements_service.forget_resident(session, resident.id)
    await forget_resident(session, resident.id)
    await emit(session, ResidentErased(resident_id=resident.id))
