"""Urgent safety calls: a resident may be in danger (a fall; someone living alone does not answer). The operator
opens one from the resident's card; in the same transaction it is escalated to the resident's emergency contact
and to the duty phone of the resident's community (an SMS each, sent at any hour, each written once whatever the
retries); then it is marked ``contacted`` (someone reached the resident) and ``resolved``, with who and when."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from booking.calls import repository as calls_repository
from booking.calls.models import CallRecord
from booking.calls.reasons import URGENT_OUTCOME
from booking.communities import service as communities
from booking.communities.models import CommunityDutyContact, KnownCommunity
from booking.notifications import service as notifications
from booking.notifications.models import NotificationDelivery
from booking.residents import service as residents
from booking.urgent import repository
from booking.urgent import schemas as s
from booking.urgent.models import UrgentCall, escalation_event
from service_kit.auth import Principal
from service_kit.errors import Conflict, FieldProblems, InvalidTransition, NotFound
from service_kit.phones import mask, normalize

RECIPIENTS: tuple[s.Recipient, ...] = ("emergency_contact", "community_duty")
# The state each step moves the call on from.
STEPS = {"contacted": "opened", "resolved": "contacted"}


async def open_call(
    session: AsyncSession, resident_id: uuid.UUID, data: s.UrgentCallCreate, *, by: Principal, now: datetime
) -> s.UrgentCall:
    """Open the resident's urgent call and escalate it; 409 ``urgent_call_open`` (naming it) while one is open."""
    resident = await residents.get_visible(session, resident_id, by=by)
    already = await repository.open_of(session, resident.id)
    if already is not None:
        raise Conflict(
            "This resident already has an urgent call open: work that one.",
            code="urgent_call_open",
            urgent_call_id=str(already.id),
        )
    community = await communities.get(session, resident.community_code) if resident.community_code else None
    duty = await communities.duty_contact(session, community.code) if community else None
    relation = resident.emergency_contact_relation
    call = UrgentCall(
        id=uuid.uuid4(),
        resident_id=resident.id,
        open_resident_id=resident.id,
        reason=data.reason,
        note=data.note,
        status="opened",
        contact_name=(
            f"{resident.emergency_contact_name}（{relation}）" if relation else resident.emergency_contact_name
        ),
        community_code=community.code if community else None,
        community_name=(f"{community.name_zh} {duty.name}" if duty else community.name_zh) if community else None,
        opened_by=by.subject,
        opened_by_name=by.name,
        opened_at=now,
    )
    await repository.add(session, call)
    # The call that opened it is on the card's timeline like every other call, and counts in the shift's
    # handover: one record, linking the urgent call (whose note, state and escalation the timeline shows).
    await calls_repository.add(
        session,
        CallRecord(
            id=uuid.uuid4(),
            resident_id=resident.id,
            reason="safety",
            note="",
            caller_kind="other",
            outcome_kind=URGENT_OUTCOME,
            outcome_id=call.id,
            operator=by.subject,
            operator_name=by.name,
            at=now,
        ),
    )
    reason = s.REASONS[data.reason]
    await notifications.message_phone(
        session,
        about_resident_id=resident.id,
        recipient="emergency_contact",
        phone=resident.emergency_contact_phone,
        kind="urgent_contact",
        values={"name": resident.name, "reason": reason},
        event_id=escalation_event(call.id, "emergency_contact"),
        now=now,
    )
    await notifications.message_phone(
        session,
        about_resident_id=resident.id,
        recipient="community_duty",
        phone=duty.phone if duty else None,
        kind="urgent_community",
        values={
            "community": community.name_zh if community else "",
            "name": resident.name,
            "reason": reason,
            "address": resident.address or "未登记",
        },
        event_id=escalation_event(call.id, "community_duty"),
        now=now,
    )
    return (await _shown(session, [call], by))[0]


async def step(
    session: AsyncSession, call_id: uuid.UUID, to: str, data: s.Step, *, by: Principal, now: datetime
) -> s.UrgentCall:
    """``contacted`` (from ``opened``) or ``resolved`` (from ``contacted``); another state is 409
    ``invalid_transition`` naming the call's ``state``."""
    call = await repository.get(session, call_id)
    if call is None:
        raise NotFound("No such urgent call.", code="urgent_call_not_found")
    await residents.get_visible(session, call.resident_id, by=by)
    expected = STEPS[to]
    values: dict[str, object] = {
        "status": to,
        f"{to}_by": by.subject,
        f"{to}_by_name": by.name,
        f"{to}_at": now,
        f"{to}_note": data.note,
    }
    if to == "resolved":
        values["open_resident_id"] = None
    if call.status != expected or not await repository.step(session, call.id, expected, values):
        current = await repository.get(session, call_id)
        raise InvalidTransition(
            f"This urgent call is {current.status if current else call.status}: it cannot be marked {to} now.",
            state=current.status if current else call.status,
        )
    updated = await repository.get(session, call.id)
    assert updated is not None
    return (await _shown(session, [updated], by))[0]


async def of_resident(
    session: AsyncSession, resident_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[s.UrgentCall], int]:
    resident = await residents.get_visible(session, resident_id, by=by)
    calls, total = await repository.of_resident(session, resident.id, limit=limit, offset=offset)
    return await _shown(session, calls, by), total


async def still_open(
    session: AsyncSession, *, by: Principal, limit: int, offset: int
) -> tuple[list[s.UrgentCall], int]:
    calls, total = await repository.still_open(session, limit=limit, offset=offset)
    return await _shown(session, calls, by), total


async def shown_by_ids(
    session: AsyncSession, call_ids: Sequence[uuid.UUID], *, by: Principal
) -> dict[uuid.UUID, s.UrgentCall]:
    """The urgent calls of these ids as the card shows them (the call timeline's)."""
    calls = await repository.get_many(session, call_ids)
    return {shown.id: shown for shown in await _shown(session, calls, by)}


async def open_of(session: AsyncSession, resident_id: uuid.UUID) -> UrgentCall | None:
    return await repository.open_of(session, resident_id)


async def move_to_resident(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> int | None:
    """A merged duplicate's urgent calls become the survivor's (the card's timeline shows them): how many moved, or
    None when both have an open call (one open call per resident: an operator resolves one first)."""
    if await repository.open_of(session, from_id) is not None and await repository.open_of(session, to_id) is not None:
        return None
    return await repository.move_resident(session, from_id, to_id)


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID) -> None:
    await repository.forget_resident(session, resident_id)


async def opened_by_operator(
    session: AsyncSession, since: datetime, until: datetime
) -> dict[str, tuple[str | None, int]]:
    """Per operator (subject): their name and how many urgent calls they opened in the shift."""
    return await repository.opened_by_operator(session, since, until)


async def _shown(session: AsyncSession, calls: Sequence[UrgentCall], by: Principal) -> list[s.UrgentCall]:
    people = await residents.summaries(session, {c.resident_id for c in calls}, by)
    shown = []
    for call in calls:
        events = [escalation_event(call.id, r) for r in RECIPIENTS]
        sent = await notifications.deliveries_by_event(session, call.resident_id, events)
        escalations = [
            _escalation(recipient, call, sent.get(escalation_event(call.id, recipient))) for recipient in RECIPIENTS
        ]
        shown.append(
            s.UrgentCall.model_validate(
                {
                    **{k: getattr(call, k) for k in s.UrgentCall.model_fields if hasattr(call, k)},
                    "resident": people.get(call.resident_id),
                    "escalations": escalations,
                }
            )
        )
    return shown


def _escalation(recipient: s.Recipient, call: UrgentCall, delivery: NotificationDelivery | None) -> s.Escalation:
    name = call.contact_name if recipient == "emergency_contact" else call.community_name
    if delivery is None:
        return s.Escalation(
            to=recipient, name=name, phone_masked=None, status="suppressed", reason="no_phone", text=None
        )
    phone = delivery.to_phone
    return s.Escalation(
        to=recipient,
        name=name,
        phone_masked=mask(phone) if phone else None,
        status=delivery.status.value,
        reason=delivery.reason,
        text=delivery.text,
    )


# ---------------------------------------------------------------- the communities' duty phones


async def duty_contacts(session: AsyncSession) -> list[s.DutyContact]:
    return [_duty(community, contact) for community, contact in await communities.duty_contacts(session)]


async def set_duty_contact(
    session: AsyncSession, code: str, data: s.DutyContactIn, *, by: Principal, now: datetime
) -> s.DutyContact:
    """Keep a community's duty phone (422 ``invalid_phone`` on ``phone``; 404 for a community the gazetteer does
    not name)."""
    problems = FieldProblems()
    with problems.field("phone"):
        phone = normalize(data.phone)
    problems.raise_any()
    contact = await communities.set_duty_contact(session, code, name=data.name, phone=phone, by=by, now=now)
    community = await communities.get(session, code)
    assert community is not None
    return _duty(community, contact)


def _duty(community: KnownCommunity, contact: CommunityDutyContact | None) -> s.DutyContact:
    return s.DutyContact(
        community_code=community.code,
        community_name=community.name_zh,
        name=contact.name if contact else None,
        phone_masked=mask(contact.phone) if contact else None,
        updated_by_name=contact.updated_by_name if contact else None,
        updated_at=contact.updated_at if contact else None,
    )
