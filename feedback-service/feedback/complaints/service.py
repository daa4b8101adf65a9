"""The rules of complaints: who files what, the workflow and who may move it, the SLA and its escalation.

Workflow (a table, every move a guarded write):

    submitted ─acknowledge─► acknowledged ─investigate─► investigating ─resolve─► resolved ─close─► closed
                                   └───────────────resolve──────────────────────────┘   │            │
    reopened ◄──────────────── reopen (the complainant, within 7 days of the resolution) ┴────────────┘
    reopened ─investigate─► investigating

Deadlines are set when a complaint is filed (and the resolution deadline again when it is reopened), from
``Settings.complaint_ack_hours`` / ``complaint_resolve_hours`` by severity. A sweep escalates each breach once.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar, cast

import structlog
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.communities import street_of
from feedback.complaints import references, repository
from feedback.complaints.models import (
    AssigneeKind,
    Channel,
    ComplaintStatus,
    StepAction,
    TargetKind,
)
from feedback.complaints.models import Complaint as ComplaintModel
from feedback.complaints.models import ComplaintStep as StepModel
from feedback.complaints.schemas import Assignment, Complaint, ComplaintCreate, ComplaintDetail, NoteCreate, Step
from feedback.complaints.schemas import StepCreate as StepBody
from feedback.config import Settings
from feedback.reference import service as reference
from feedback.residents import service as residents
from feedback.scores import service as scores_service
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed, field_error
from service_kit.events.contracts import ComplaintChanged, ComplaintEscalated, ComplaintOpened, ComplaintResolved
from service_kit.events.outbox import emit
from service_kit.logging import mask_personal_data
from service_kit.pagination import Page, Pagination
from service_kit.runtime import Runtime
from service_kit.timeutil import utcnow

log = structlog.get_logger("feedback.complaints")

REOPEN_WINDOW = timedelta(days=7)
SWEEP_BATCH = 200
SYSTEM_ACTOR = "linli-sla-sweep"
# Draws of a fresh reference before a filing gives up: with nine million numbers, each draw collides with a
# probability of (complaints so far) / 9 000 000, so eight collisions in a row do not happen in a district.
REFERENCE_DRAWS = 8

E = TypeVar("E", bound=ComplaintChanged)

# Who stands where towards one complaint.
STAFF = "staff"  # officials (and admins): everything
HANDLER = "handler"  # the provider the complaint is assigned to: works it
PROVIDER = "provider"  # the provider it is about, not (yet) assigned: reads it, with internal notes
COMPLAINANT = "complainant"  # the resident who complained
OPERATOR = "operator"  # a call-center operator, relaying for the resident on the phone
HELPER = "helper"  # the complainant's helper (a relative's resident account they authorised), filing for them
APPLICATION = "application"  # an Open311 application (the 12345 hotline system, a community app) that filed it


@dataclass(frozen=True)
class Move:
    action: StepAction
    from_statuses: tuple[ComplaintStatus, ...]
    to_status: ComplaintStatus
    allowed: frozenset[str]


WORKERS = frozenset({STAFF, HANDLER})
COMPLAINANT_SIDE = frozenset({STAFF, COMPLAINANT, OPERATOR})

MOVES = {
    StepAction.acknowledged: Move(
        StepAction.acknowledged, (ComplaintStatus.submitted,), ComplaintStatus.acknowledged, WORKERS
    ),
    StepAction.investigating: Move(
        StepAction.investigating,
        (ComplaintStatus.acknowledged, ComplaintStatus.reopened),
        ComplaintStatus.investigating,
        WORKERS,
    ),
    StepAction.resolved: Move(
        StepAction.resolved,
        (ComplaintStatus.acknowledged, ComplaintStatus.investigating),
        ComplaintStatus.resolved,
        WORKERS,
    ),
    StepAction.closed: Move(StepAction.closed, (ComplaintStatus.resolved,), ComplaintStatus.closed, COMPLAINANT_SIDE),
    StepAction.reopened: Move(
        StepAction.reopened,
        (ComplaintStatus.resolved, ComplaintStatus.closed),
        ComplaintStatus.reopened,
        frozenset({COMPLAINANT, OPERATOR}),
    ),
}

# The channel each kind of caller files through, and the ones they may choose.
_CHANNELS = {
    Role.resident: (Channel.app, {Channel.app}),
    Role.operator: (Channel.phone, {Channel.phone, Channel.center_desk}),
    Role.official: (Channel.center_desk, {Channel.center_desk, Channel.phone}),
    Role.admin: (Channel.center_desk, {Channel.center_desk, Channel.phone}),
    # An Open311 application (its key's token, docs/api-keys.md) files through the GeoReport facade only.
    Role.open311_client: (Channel.open311, {Channel.open311}),
}


# ------------------------------------------------------------------ filing


async def file_complaint(
    session: AsyncSession,
    data: ComplaintCreate,
    *,
    by: Principal,
    settings: Settings,
    channel: Channel | None = None,
    address: str | None = None,
    lat: float | None = None,
    long: float | None = None,
    now: datetime | None = None,
) -> Complaint:
    """File a complaint: a resident for themself, an operator or center staff for a resident (or, at a center
    desk, for a visitor who stays anonymous). The description is masked before it is stored."""
    now = now or utcnow()
    channel = _channel_of(by, data.channel) if channel is None else _check_filer(by, channel)
    # The resident's helper files for them with their own token, naming them (an active grant, else 404).
    helper_id = await residents.helping(session, by, data.resident_id)
    resident_id = data.resident_id if helper_id is not None else _complainant_of(by, data.resident_id, channel)
    # Every rule before any write: a refused complaint leaves no row, no event and no deadline behind.
    if data.community_code is not None:
        await reference.require_community(session, data.community_code)
    provider_id, offering_id, booking_id, center_id = await _target_of(session, data, resident_id)

    complaint = ComplaintModel(
        id=uuid.uuid4(),
        reference=references.new_reference(),
        channel=channel,
        category=data.category,
        severity=data.severity,
        status=ComplaintStatus.submitted,
        target_kind=data.target_kind,
        target_id=data.target_id,
        provider_id=provider_id,
        offering_id=offering_id,
        booking_id=booking_id,
        center_id=center_id,
        description=mask_personal_data(data.description),
        attachments=list(dict.fromkeys(data.attachments)),
        resident_id=resident_id,
        filed_by=by.subject,
        helper_resident_id=helper_id,
        address=mask_personal_data(address) if address else None,
        lat=lat,
        long=long,
        community_code=data.community_code,
        street_code=street_of(data.community_code),
        ack_due_at=now + timedelta(hours=settings.ack_hours(data.severity)),
        resolve_due_at=now + timedelta(hours=settings.resolve_hours(data.severity)),
        created_at=now,
        updated_at=now,
    )
    await _insert_with_reference(session, complaint)
    role = HELPER if helper_id is not None else _filer_standing(by)
    await _record(session, complaint, StepAction.submitted, by=by, role=role, note=None, internal=False, now=now)
    await emit(session, _event(ComplaintOpened, complaint, now))
    await scores_service.mark_changed(
        session, provider_id=complaint.provider_id, offering_id=complaint.offering_id, now=now
    )
    return _view(complaint, now)


async def _insert_with_reference(session: AsyncSession, complaint: ComplaintModel) -> None:
    """Insert the complaint under a reference no other complaint has: the unique index decides, and a number
    already given (or taken by a filing racing this one) is drawn again."""
    for _ in range(REFERENCE_DRAWS):
        if await repository.insert_complaint(session, complaint):
            return
        complaint.reference = references.new_reference()
    raise Conflict("No free complaint number was found; please file again.", code="reference_exhausted")


def _channel_of(by: Principal, asked: Channel | None) -> Channel:
    for role, (default, allowed) in _CHANNELS.items():
        if by.has_any(role):
            if asked is None:
                return default
            if asked not in allowed:
                raise ValidationFailed(f"A {role} cannot file through the {asked} channel.", code="invalid_channel")
            return asked
    raise Forbidden("Residents, operators and officials file complaints.")


def _check_filer(by: Principal, channel: Channel) -> Channel:
    if not by.has_any(*_CHANNELS):
        raise Forbidden("Residents, operators and officials file complaints.")
    return channel


def _complainant_of(by: Principal, resident_id: uuid.UUID | None, channel: Channel) -> uuid.UUID | None:
    if by.has_any(Role.open311_client):
        # An application speaks for whoever used it, whom Linli has not verified: it cannot name a resident's
        # record (that would put words in a resident's file), so its complaints have no complainant's record.
        if resident_id is not None:
            raise ValidationFailed(
                "An Open311 application cannot file for a named resident.", code="resident_id_not_allowed"
            )
        return None
    if by.has_any(Role.operator, Role.official, Role.admin):
        if resident_id is None and channel == Channel.phone:
            raise ValidationFailed(
                "An operator names the resident who calls: resident_id.", code="resident_id_required"
            )
        return resident_id
    if by.resident_id is None:
        raise Forbidden("This account is not a resident's.", code="not_a_resident")
    if resident_id is not None and resident_id != by.resident_id:
        raise NotFound("No such resident.")
    return by.resident_id


async def _target_of(
    session: AsyncSession, data: ComplaintCreate, resident_id: uuid.UUID | None
) -> tuple[uuid.UUID | None, uuid.UUID | None, uuid.UUID | None, uuid.UUID | None]:
    """(provider, offering, booking, center) of the target, which must be one feedback knows (422 otherwise,
    see ``feedback.reference.service``). A booking must be the complainant's — whoever files, an operator for a
    caller included — and fixes its own provider and offering, as an offering fixes its provider."""
    if data.target_kind == TargetKind.provider:
        _check_provider(data.provider_id, data.target_id, "the complained-about")
        await reference.require_provider(session, data.target_id, field="target_id")
        return data.target_id, None, None, None
    if data.target_kind == TargetKind.offering:
        offering = await reference.require_offering(session, data.target_id)
        _check_provider(data.provider_id, offering.provider_id, "the offering's")
        return offering.provider_id, offering.id, None, None
    if data.target_kind == TargetKind.service_center:
        if data.provider_id is not None:
            await reference.require_provider(session, data.provider_id, field="provider_id")
        center = await reference.require_center(session, data.target_id)
        return data.provider_id, None, None, center.id
    if resident_id is None:
        raise reference.unknown(
            "resident_id", "A complaint about a booking names the resident whose booking it is.", "resident_id_required"
        )
    booking = await reference.require_booking_of(session, data.target_id, resident_id)
    _check_provider(data.provider_id, booking.provider_id, "the booking's")
    return booking.provider_id, booking.offering_id, booking.booking_id, None


def _check_provider(given: uuid.UUID | None, actual: uuid.UUID, whose: str) -> None:
    if given is not None and given != actual:
        raise reference.unknown("provider_id", f"provider_id differs from {whose} provider.", "provider_mismatch")


# ------------------------------------------------------------------ reading


async def list_complaints(
    session: AsyncSession,
    *,
    viewer: Principal,
    page: Pagination,
    status: ComplaintStatus | None = None,
    provider_id: uuid.UUID | None = None,
    resident_id: uuid.UUID | None = None,
    overdue: bool | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> Page[Complaint]:
    """Officials, admins and operators see every complaint; a provider those about it or assigned to it; a
    resident their own."""
    now = now or utcnow()
    where: list[ColumnElement[bool]] = []
    if reference is not None:
        where.append(ComplaintModel.reference == _reference_of(reference))
    if viewer.has_any(Role.official, Role.admin, Role.operator):
        pass
    elif viewer.has_any(Role.provider_admin, Role.provider_staff) and viewer.provider_id is not None:
        where.append(repository.visible_to_provider(viewer.provider_id))
    elif viewer.has_any(Role.resident) and viewer.resident_id is not None:
        # Their own, or (``resident_id``) those of a resident they help under an active grant.
        helped = await residents.helping(session, viewer, resident_id)
        where.append(ComplaintModel.resident_id == (resident_id if helped is not None else viewer.resident_id))
    else:
        raise Forbidden("This account cannot read complaints.")
    if status is not None:
        where.append(ComplaintModel.status == status)
    if provider_id is not None:
        where.append(ComplaintModel.provider_id == provider_id)
    if resident_id is not None:
        where.append(ComplaintModel.resident_id == resident_id)
    if overdue is not None:
        where.append(repository.overdue(now) if overdue else ~repository.overdue(now))
    rows, total = await repository.list_complaints(session, where=where, page=page)
    return page.of([_view(c, now) for c in rows], total)


def _reference_of(text: str) -> str:
    """The reference a caller read out, or a 422 at the parameter: a number read back wrong (a digit misheard,
    two swapped: the check digit catches both) is said to be wrong rather than found empty."""
    reference = references.normalize(text)
    if reference is None:
        message = "a complaint number is the 8 digits given when it was filed; check each digit."
        raise ValidationFailed(
            f"reference: {message}",
            code="invalid_reference",
            errors=[field_error("reference", message, "invalid_reference", where="query")],
        )
    return reference


async def get_complaint(session: AsyncSession, complaint_id: uuid.UUID, *, viewer: Principal) -> ComplaintDetail:
    complaint, standing = await _load(session, complaint_id, viewer)
    return await _detail(session, complaint, standing)


# ------------------------------------------------------------------ workflow


async def move(
    session: AsyncSession,
    complaint_id: uuid.UUID,
    action: StepAction,
    body: StepBody,
    *,
    by: Principal,
    settings: Settings,
    now: datetime | None = None,
) -> ComplaintDetail:
    """One step of the workflow (acknowledge, investigate, resolve, close, reopen), if the caller may take it
    from the complaint's current status."""
    now = now or utcnow()
    step = MOVES[action]
    complaint, standing = await _load(session, complaint_id, by)
    if standing not in step.allowed:
        raise Forbidden(f"You cannot {action.value.removesuffix('ed')} this complaint.", code="not_allowed")
    _check_note(standing, body.internal)
    if complaint.status not in step.from_statuses:
        raise InvalidTransition(f"A {complaint.status} complaint cannot become {step.to_status}.")

    values: dict[str, object] = {"status": step.to_status, "updated_at": now}
    also: ColumnElement[bool] | None = None
    if action == StepAction.acknowledged:
        values["acknowledged_at"] = now
    elif action == StepAction.resolved:
        values["resolved_at"] = now
    elif action == StepAction.closed:
        values["closed_at"] = now
    elif action == StepAction.reopened:
        if complaint.resolved_at is None or now - complaint.resolved_at > REOPEN_WINDOW:
            raise InvalidTransition(
                "A complaint can be reopened within 7 days of its resolution.", code="reopen_window_closed"
            )
        also = ComplaintModel.resolved_at >= now - REOPEN_WINDOW
        # A new chance to resolve it, with a deadline of its own and a breach that may be escalated again.
        values |= {
            "closed_at": None,
            "resolve_due_at": now + timedelta(hours=settings.resolve_hours(complaint.severity)),
            "resolve_escalated_at": None,
        }
    if not await repository.transition(
        session, complaint.id, from_statuses=step.from_statuses, values=values, also=also
    ):
        raise InvalidTransition("The complaint changed meanwhile; reload it.")
    await repository.refresh(session, complaint)
    await _record(session, complaint, action, by=by, role=standing, note=body.note, internal=body.internal, now=now)
    if action == StepAction.resolved:
        await emit(session, _event(ComplaintResolved, complaint, now))
    return await _detail(session, complaint, standing, now)


async def assign(
    session: AsyncSession, complaint_id: uuid.UUID, data: Assignment, *, by: Principal, now: datetime | None = None
) -> ComplaintDetail:
    """An official hands the complaint to an official (themself by default) or to the provider concerned."""
    now = now or utcnow()
    complaint, standing = await _load(session, complaint_id, by)
    if standing != STAFF:
        raise Forbidden("Officials assign complaints.", code="not_allowed")
    if data.assignee_kind == AssigneeKind.official:
        assignee = data.assignee_id or by.subject
    else:
        assignee = data.assignee_id or (str(complaint.provider_id) if complaint.provider_id else "")
        try:
            assignee = str(uuid.UUID(assignee))
        except ValueError as exc:
            raise ValidationFailed(
                "Name the provider (assignee_id): this complaint has no provider concerned.", code="assignee_required"
            ) from exc
    if not await repository.transition(
        session,
        complaint.id,
        from_statuses=repository.UNRESOLVED,
        values={"assignee_kind": data.assignee_kind, "assignee_id": assignee, "updated_at": now},
    ):
        raise InvalidTransition(f"A {complaint.status} complaint is not assigned any more.")
    await repository.refresh(session, complaint)
    note = f"assigned to {data.assignee_kind.value} {assignee}" + (f": {data.note}" if data.note else "")
    await _record(
        session, complaint, StepAction.assigned, by=by, role=standing, note=note, internal=data.internal, now=now
    )
    return await _detail(session, complaint, standing, now)


async def add_note(
    session: AsyncSession, complaint_id: uuid.UUID, data: NoteCreate, *, by: Principal, now: datetime | None = None
) -> ComplaintDetail:
    """Anyone who may read the complaint may add to it; only staff and providers write internal notes."""
    now = now or utcnow()
    complaint, standing = await _load(session, complaint_id, by)
    _check_note(standing, data.internal)
    await _record(
        session, complaint, StepAction.note, by=by, role=standing, note=data.note, internal=data.internal, now=now
    )
    return await _detail(session, complaint, standing, now)


def _check_note(standing: str, internal: bool) -> None:
    if internal and standing not in (STAFF, HANDLER, PROVIDER):
        raise ValidationFailed("Only staff and the provider write internal notes.", code="internal_not_allowed")


# ------------------------------------------------------------------ SLA


async def sweep_overdue(session: AsyncSession, *, settings: Settings, now: datetime | None = None) -> int:
    """Escalate every breached deadline not escalated yet: one ``complaint.escalated`` per breach, ever.
    Returns the number of escalations."""
    now = now or utcnow()
    escalated = 0
    for complaint in await repository.unescalated_breaches(session, now, limit=SWEEP_BATCH):
        breaches = []
        if complaint.status == ComplaintStatus.submitted and complaint.ack_due_at < now:
            breaches.append(("ack_escalated_at", f"not acknowledged within {settings.ack_hours(complaint.severity)} h"))
        if complaint.status in repository.UNRESOLVED and complaint.resolve_due_at < now:
            breaches.append(
                ("resolve_escalated_at", f"not resolved within {settings.resolve_hours(complaint.severity)} h")
            )
        for column, why in breaches:
            if getattr(complaint, column) is not None:
                continue
            if not await repository.mark_escalated(session, complaint.id, column=column, now=now):
                continue
            escalated += 1
            await emit(session, _event(ComplaintEscalated, complaint, now))
            await _record_system(session, complaint, f"Escalated to the district office: {why}.", now)
            log.info("complaint escalated", complaint_id=str(complaint.id), breach=column)
    return escalated


async def run_sla_sweep(runtime: Runtime) -> None:
    """The background job (``build_spec`` passes it to the runtime): sweep, wake the relay, sleep, again."""
    settings = cast(Settings, runtime.settings)
    while runtime.running:
        async with runtime.sessionmaker() as session, session.begin():
            escalated = await sweep_overdue(session, settings=settings)
        if escalated:
            runtime.wake_relay()
        await runtime.sleep(settings.complaint_sweep_seconds)


# ------------------------------------------------------------------ helpers


async def _load(session: AsyncSession, complaint_id: uuid.UUID, viewer: Principal) -> tuple[ComplaintModel, str]:
    complaint = await repository.get(session, complaint_id)
    standing = _standing(viewer, complaint) if complaint is not None else None
    if complaint is None or standing is None:
        raise NotFound("No such complaint.")
    return complaint, standing


def _standing(viewer: Principal, complaint: ComplaintModel) -> str | None:
    """How the viewer stands towards the complaint; None: it does not exist for them."""
    if viewer.has_any(Role.official, Role.admin):
        return STAFF
    if viewer.has_any(Role.provider_admin, Role.provider_staff) and viewer.provider_id is not None:
        if complaint.assignee_kind == AssigneeKind.provider and complaint.assignee_id == str(viewer.provider_id):
            return HANDLER
        if complaint.provider_id == viewer.provider_id:
            return PROVIDER
    if viewer.has_any(Role.resident) and viewer.resident_id is not None and viewer.resident_id == complaint.resident_id:
        return COMPLAINANT
    if viewer.has_any(Role.operator):
        return OPERATOR
    return None


def _filer_standing(by: Principal) -> str:
    """The step's ``actor_role`` for whoever files: the same words as for later steps."""
    if by.has_any(Role.official, Role.admin):
        return STAFF
    if by.has_any(Role.open311_client):
        return APPLICATION
    return OPERATOR if by.has_any(Role.operator) else COMPLAINANT


async def _record(
    session: AsyncSession,
    complaint: ComplaintModel,
    action: StepAction,
    *,
    by: Principal,
    role: str,
    note: str | None,
    internal: bool,
    now: datetime,
) -> None:
    await repository.add_step(
        session,
        StepModel(
            id=uuid.uuid4(),
            complaint_id=complaint.id,
            action=action,
            status_after=complaint.status,
            actor=by.subject,
            actor_role=role,
            note=mask_personal_data(note) if note else None,
            internal=internal,
            created_at=now,
        ),
    )


async def _record_system(session: AsyncSession, complaint: ComplaintModel, note: str, now: datetime) -> None:
    await repository.add_step(
        session,
        StepModel(
            id=uuid.uuid4(),
            complaint_id=complaint.id,
            action=StepAction.escalated,
            status_after=complaint.status,
            actor=SYSTEM_ACTOR,
            actor_role="system",
            note=note,
            internal=False,
            created_at=now,
        ),
    )


def _event(kind: type[E], complaint: ComplaintModel, now: datetime) -> E:
    return kind(
        complaint_id=complaint.id,
        reference=complaint.reference,
        category=complaint.category.value,
        severity=complaint.severity.value,
        status=complaint.status.value,
        provider_id=complaint.provider_id,
        booking_id=complaint.booking_id,
        offering_id=complaint.offering_id,
        center_id=complaint.center_id,
        # Booking tells the resident of the complaint's progress (an opaque id: no personal data in events).
        resident_id=complaint.resident_id,
        occurred_at=now,
    )


def is_overdue(complaint: ComplaintModel, now: datetime) -> bool:
    return (complaint.status == ComplaintStatus.submitted and complaint.ack_due_at < now) or (
        complaint.status in repository.UNRESOLVED and complaint.resolve_due_at < now
    )


def _view(complaint: ComplaintModel, now: datetime) -> Complaint:
    fields = {name: getattr(complaint, name) for name in Complaint.model_fields if name != "overdue"}
    return Complaint(**fields, overdue=is_overdue(complaint, now))


async def _detail(
    session: AsyncSession, complaint: ComplaintModel, standing: str, now: datetime | None = None
) -> ComplaintDetail:
    internal = standing in (STAFF, HANDLER, PROVIDER)
    steps = await repository.steps_of(session, complaint.id, internal=internal)
    view = _view(complaint, now or utcnow())
    return ComplaintDetail(**view.model_dump(), steps=[Step.model_validate(s) for s in steps])


async def forget_resident(session: AsyncSession, resident_id: uuid.UUID, *, erased_text: str) -> None:
    """Erasure: a resident's complaints keep their category, severity, target, deadlines and who did what when."""
    await repository.forget_resident(session, resident_id, erased_text=erased_text)
