"""The rules of calls for proposals and applications: who may apply, until when, for how much; approval (立项).

Every transition is a guarded UPDATE and an audit entry in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.auth import sees_all, sees_street, street_of_new
from procurement.calls import repository, schemas
from procurement.calls.models import Application, ApplicationStatus, Call, CallStatus
from procurement.funds import service as funds_service
from procurement.needs import service as needs_service
from procurement.providers import service as providers_service
from procurement.reviews import repository as reviews_repository
from procurement.sanctions import service as sanctions_service
from service_kit.auth import Principal, Role
from service_kit.documents import APPLICATION_ATTACHMENT, CALL_DOCUMENT, Documents
from service_kit.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed

PUBLIC_STATUSES = (CallStatus.published, CallStatus.closed, CallStatus.reviewed)

# Which status each call transition starts from.
CALL_TRANSITIONS: dict[str, tuple[CallStatus, CallStatus]] = {
    "publish": (CallStatus.draft, CallStatus.published),
    "close": (CallStatus.published, CallStatus.closed),
    "close_review": (CallStatus.closed, CallStatus.reviewed),
}


# ---------------------------------------------------------------- calls


async def create_call(session: AsyncSession, data: schemas.CallCreate, *, by: Principal, now: datetime) -> Call:
    codes = [c.code for c in data.criteria]
    if len(set(codes)) != len(codes):
        raise ValidationFailed("Two criteria share a code.", code="duplicate_criterion")
    weights = sum(c.weight for c in data.criteria)
    if weights != 100:
        raise ValidationFailed(f"The criteria's weights sum to {weights}, not 100.", code="weights_not_100")
    fund = await funds_service.get_fund(session, data.fund_id)
    if data.budget_cap_fen > fund.budget_fen:
        raise ValidationFailed(
            "The budget cap exceeds the fund's whole budget.", code="cap_above_fund_budget", budget_fen=fund.budget_fen
        )
    need_ids = list(dict.fromkeys(data.need_ids))
    if need_ids:
        missing = [str(i) for i in await needs_service.unknown(session, need_ids)]
        if missing:
            raise ValidationFailed("Unknown needs are linked.", code="need_not_found", need_ids=missing)
    call = Call(
        title=data.title,
        description=data.description,
        directions=list(dict.fromkeys(data.directions)),
        budget_cap_fen=data.budget_cap_fen,
        fund_id=data.fund_id,
        need_ids=[str(i) for i in need_ids],
        eligible_kinds=list(dict.fromkeys(data.eligible_kinds)),
        criteria=[c.model_dump() for c in data.criteria],
        deadline=data.deadline,
        street_code=street_of_new(by, data.street_code),
        status=CallStatus.draft,
        created_by=by.subject,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, call)
    await audit.record(
        session, kind="call", subject_id=call.id, action="created", by=by, at=now, details=data.model_dump(mode="json")
    )
    return call


def _is_official(principal: Principal | None) -> bool:
    """Who sees every call and application (drafts included): officials, admins and auditors."""
    return sees_all(principal)


async def get_call(session: AsyncSession, call_id: uuid.UUID, *, by: Principal | None = None) -> Call:
    """The call; a draft exists only for officials (and auditors); another street's call not at all for a
    street-scoped official."""
    call = await repository.get_call(session, call_id)
    if call is None or (call.status == CallStatus.draft and not _is_official(by)):
        raise NotFound("No such call.", code="call_not_found")
    if not sees_street(by, call.street_code):
        raise NotFound("No such call.", code="call_not_found")
    return call


async def list_calls(
    session: AsyncSession, *, by: Principal | None, status: CallStatus | None, limit: int, offset: int
) -> tuple[list[Call], int]:
    return await repository.list_calls(
        session,
        statuses=None if _is_official(by) else PUBLIC_STATUSES,
        # a street-scoped official: their street's calls only
        street_code=by.street_code if by is not None else None,
        status=status,
        limit=limit,
        offset=offset,
    )


async def transition_call(
    session: AsyncSession,
    call_id: uuid.UUID,
    action: str,
    *,
    by: Principal,
    now: datetime,
    values: dict[str, Any],
    details: dict[str, Any] | None = None,
) -> Call:
    call = await get_call(session, call_id, by=by)
    from_status, to_status = CALL_TRANSITIONS[action]
    if not await repository.move_call(session, call_id, from_status, status=to_status, updated_at=now, **values):
        await repository.refresh_status(session, call)
        raise InvalidTransition(
            f"Cannot {action.replace('_', ' ')} a call that is {call.status}; it must be {from_status}.",
            current_status=str(call.status),
        )
    await audit.record(session, kind="call", subject_id=call_id, action=action, by=by, at=now, details=details or {})
    return await get_call(session, call_id, by=by)


async def publish_call(session: AsyncSession, call_id: uuid.UUID, *, by: Principal, now: datetime) -> Call:
    call = await get_call(session, call_id, by=by)
    if call.deadline <= now:
        raise ValidationFailed("The deadline has already passed; set a later one.", code="deadline_passed")
    published = await transition_call(session, call_id, "publish", by=by, now=now, values={"published_at": now})
    # The residents whose needs the call answers learn it is open (need.progressed: in_call).
    await needs_service.announce_progress(
        session,
        [uuid.UUID(str(i)) for i in published.need_ids],
        status="in_call",
        at=now,
        call_id=published.id,
        call_title=published.title,
    )
    return published


async def close_call(session: AsyncSession, call_id: uuid.UUID, *, by: Principal, now: datetime) -> Call:
    call = await get_call(session, call_id, by=by)
    if call.status == CallStatus.published and now < call.deadline:
        raise Conflict(
            "The call is open until its deadline.", code="deadline_not_reached", deadline=call.deadline.isoformat()
        )
    closed = await transition_call(session, call_id, "close", by=by, now=now, values={"closed_at": now})
    # Every call that closes is one round a sanctioned provider sat out (优胜劣汰).
    await sanctions_service.count_round(session, published_at=closed.published_at, by=by, now=now)
    return closed


def call_view(call: Call) -> schemas.Call:
    return schemas.Call.model_validate(call)


# ---------------------------------------------------------------- applications


def application_view(application: Application) -> schemas.Application:
    return schemas.Application(
        id=application.id,
        call_id=application.call_id,
        provider_id=application.provider_id,
        title=application.title,
        proposal=application.proposal,
        budget_request_fen=application.budget_request_fen,
        deliverables=[schemas.Deliverable.model_validate(d) for d in application.deliverables],
        kpis=[schemas.Kpi.model_validate(k) for k in application.kpis],
        status=application.status,
        submitted_at=application.submitted_at,
        withdrawn_at=application.withdrawn_at,
        score=application.score_centi / 100 if application.score_centi is not None else None,
        reviewer_count=application.reviewer_count,
        rank=application.rank,
        approved_amount_fen=application.approved_amount_fen,
        approved_at=application.approved_at,
    )


def _check_open(call: Call, now: datetime) -> None:
    if call.status != CallStatus.published:
        raise InvalidTransition(f"The call is {call.status}; it takes no applications.", code="call_not_open")
    if now >= call.deadline:
        raise Conflict("The call's deadline has passed.", code="deadline_passed", deadline=call.deadline.isoformat())


async def apply(
    session: AsyncSession, call_id: uuid.UUID, data: schemas.ApplicationCreate, *, by: Principal, now: datetime
) -> Application:
    provider_id = by.provider_id
    if provider_id is None or not by.has_any(Role.provider_admin):
        raise Forbidden("Applications are submitted by a provider's admin.", code="not_a_provider")
    call = await get_call(session, call_id, by=by)
    _check_open(call, now)
    if data.budget_request_fen > call.budget_cap_fen:
        raise ValidationFailed(
            f"The budget request exceeds the call's cap of {call.budget_cap_fen} fen.",
            code="budget_above_cap",
            budget_cap_fen=call.budget_cap_fen,
        )
    for index, item in enumerate(data.deliverables):
        if (item.offering_id is None) == (item.service_type is None):
            raise ValidationFailed(
                f"deliverables.{index}: name either an offering_id or a service_type.", code="deliverable_subject"
            )
        if item.period_end < item.period_start:
            raise ValidationFailed(f"deliverables.{index}: the period ends before it starts.", code="period_reversed")
    # Procurement's own sanctions first: they name the reason and the rounds left.
    await sanctions_service.ensure_not_sanctioned(session, provider_id)
    await providers_service.check_eligible(session, provider_id, kinds=list(call.eligible_kinds), now=now)
    # A provider promises only its own published offerings.
    await providers_service.require_own_offerings(
        session,
        provider_id,
        [
            (f"deliverables.{index}.offering_id", item.offering_id)
            for index, item in enumerate(data.deliverables)
            if item.offering_id is not None
        ],
    )
    if await repository.live_application_exists(session, call_id, provider_id):
        raise Conflict("The provider has already applied to this call.", code="already_applied")
    application = Application(
        call_id=call_id,
        provider_id=provider_id,
        title=data.title,
        proposal=data.proposal,
        budget_request_fen=data.budget_request_fen,
        deliverables=[d.model_dump(mode="json") for d in data.deliverables],
        kpis=[k.model_dump() for k in data.kpis],
        status=ApplicationStatus.submitted,
        submitted_by=by.subject,
        submitted_at=now,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, application)
    await audit.record(
        session,
        kind="application",
        subject_id=application.id,
        action="submitted",
        by=by,
        at=now,
        details={"call_id": str(call_id), "budget_request_fen": data.budget_request_fen},
    )
    return application


async def get_application(
    session: AsyncSession, call_id: uuid.UUID, application_id: uuid.UUID, *, by: Principal
) -> Application:
    """The application, if ``by`` may see it: officials, its provider, or a reviewer assigned to the call."""
    application = await repository.get_application(session, application_id)
    if application is None or application.call_id != call_id or not await _can_read(session, application, by):
        raise NotFound("No such application.", code="application_not_found")
    return application


async def find_application(session: AsyncSession, application_id: uuid.UUID) -> Application | None:
    """The application, without asking who may read it: for other modules' rules (whether a contract drawn from
    it may be signed), never handed to a client."""
    return await repository.get_application(session, application_id)


async def needs_answered(session: AsyncSession, application_id: uuid.UUID) -> list[uuid.UUID]:
    """The needs the call of an application answers."""
    application = await repository.get_application(session, application_id)
    call = await repository.get_call(session, application.call_id) if application is not None else None
    return [uuid.UUID(str(i)) for i in call.need_ids] if call is not None else []


async def street_of(session: AsyncSession, call_id: uuid.UUID) -> str | None:
    """The street a call belongs to (``None``: a district-wide call)."""
    return await repository.street_of_call(session, call_id)


async def _can_read(session: AsyncSession, application: Application, by: Principal) -> bool:
    if _is_official(by):  # a street-scoped official: their street's calls' applications only
        return by.street_code is None or sees_street(by, await repository.street_of_call(session, application.call_id))
    if by.has_any(Role.provider_admin) and by.provider_id == application.provider_id:
        return True
    return await _assigned_reviewer(session, application.call_id, by)


async def _assigned_reviewer(session: AsyncSession, call_id: uuid.UUID, by: Principal) -> bool:
    """Whether ``by`` is a reviewer assigned to the call. The assignments are the review module's rows; it builds
    on calls (it reads calls and applications through this module), so calls reads them through its repository."""
    return (
        by.has_any(Role.reviewer) and await reviews_repository.assignment_of(session, call_id, by.subject) is not None
    )


async def list_applications(
    session: AsyncSession, call_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[Application], int]:
    """The call's applications ``by`` reads: every one for officials, those not withdrawn for its reviewers, its
    own for a provider's admin, none for anyone else."""
    await get_call(session, call_id, by=by)
    if _is_official(by):
        return await repository.list_applications(session, call_id, limit=limit, offset=offset)
    if await _assigned_reviewer(session, call_id, by):
        return await repository.list_applications(session, call_id, live_only=True, limit=limit, offset=offset)
    if by.has_any(Role.provider_admin) and by.provider_id is not None:
        return await repository.list_applications(
            session, call_id, provider_id=by.provider_id, limit=limit, offset=offset
        )
    return [], 0


async def withdraw(
    session: AsyncSession, call_id: uuid.UUID, application_id: uuid.UUID, *, by: Principal, now: datetime
) -> Application:
    application = await get_application(session, call_id, application_id, by=by)
    if not (by.has_any(Role.provider_admin) and by.provider_id == application.provider_id):
        raise NotFound("No such application.", code="application_not_found")
    call = await get_call(session, call_id, by=by)
    if now >= call.deadline:
        raise Conflict("An application can be withdrawn only before the deadline.", code="deadline_passed")
    withdrawn = await repository.move_application(
        session,
        application_id,
        ApplicationStatus.submitted,
        status=ApplicationStatus.withdrawn,
        withdrawn_at=now,
        updated_at=now,
    )
    if not withdrawn:
        raise InvalidTransition(
            f"Cannot withdraw an application that is {application.status}.", current_status=str(application.status)
        )
    await audit.record(session, kind="application", subject_id=application_id, action="withdrawn", by=by, at=now)
    return await get_application(session, call_id, application_id, by=by)


async def approve(
    session: AsyncSession,
    call_id: uuid.UUID,
    application_id: uuid.UUID,
    data: schemas.Approval,
    *,
    by: Principal,
    now: datetime,
) -> Application:
    """Approve (立项) a reviewed application, committing its amount to the call's fund within the budget."""
    call = await get_call(session, call_id, by=by)
    application = await get_application(session, call_id, application_id, by=by)
    if call.status != CallStatus.reviewed:
        raise InvalidTransition(
            "Applications are approved once the review has closed.",
            code="review_not_closed",
            current_status=call.status,
        )
    amount = data.amount_fen if data.amount_fen is not None else application.budget_request_fen
    if amount > application.budget_request_fen:
        raise ValidationFailed("The approved amount exceeds the budget requested.", code="amount_above_request")
    if application.status == ApplicationStatus.submitted and application.rank is None:
        raise Conflict("No reviewer scored this application; it cannot be approved.", code="not_reviewed")
    if application.status == ApplicationStatus.submitted:
        # Awarded only to a provider still verified and unsanctioned (it may have changed since it applied).
        await providers_service.ensure_awardable(session, application.provider_id, now=now)
    approved = await repository.move_application(
        session,
        application_id,
        ApplicationStatus.submitted,
        status=ApplicationStatus.approved,
        approved_amount_fen=amount,
        approved_at=now,
        approved_by=by.subject,
        updated_at=now,
    )
    if not approved:
        raise InvalidTransition(
            f"Cannot approve an application that is {application.status}.", current_status=str(application.status)
        )
    await funds_service.commit(
        session, call.fund_id, amount, by=by, at=now, details={"application_id": str(application_id)}
    )
    await audit.record(
        session,
        kind="application",
        subject_id=application_id,
        action="approved",
        by=by,
        at=now,
        details={"amount_fen": amount, "fund_id": str(call.fund_id)},
    )
    return await get_application(session, call_id, application_id, by=by)


async def submitted_applications(session: AsyncSession, call_id: uuid.UUID) -> list[Application]:
    """The call's applications still in the running (submitted, neither withdrawn nor approved yet)."""
    return await repository.applications_in(session, call_id, ApplicationStatus.submitted)


async def record_ranking(
    session: AsyncSession, application_id: uuid.UUID, *, score_centi: int, reviewer_count: int, rank: int, at: datetime
) -> None:
    """What closing the review found of an application: its aggregate score, by how many reviewers, its rank."""
    await repository.update_application(
        session, application_id, score_centi=score_centi, reviewer_count=reviewer_count, rank=rank, updated_at=at
    )


async def approved_for_call(session: AsyncSession, call_id: uuid.UUID) -> list[Application]:
    """The call's approved applications, best ranked first."""
    return await repository.approved_for_call(session, call_id)


# ------------------------------------------------------------------ the call's documents


async def attach_document(
    session: AsyncSession, documents: Documents, call_id: uuid.UUID, upload: UploadFile, *, by: Principal
) -> schemas.CallDocument:
    """An official attaches a document to a call (a draft's too): public once the call is."""
    call = await get_call(session, call_id, by=by)
    row = await documents.upload_file(session, upload, purpose=CALL_DOCUMENT, owner_id=call.id, by=by.subject)
    return next(d for d in await call_documents(session, documents, call.id, by=by) if d.id == row["id"])


async def call_documents(
    session: AsyncSession, documents: Documents, call_id: uuid.UUID, *, by: Principal | None
) -> list[schemas.CallDocument]:
    """A call's documents, for whoever may see the call."""
    call = await get_call(session, call_id, by=by)
    found = await documents.public_documents(session, CALL_DOCUMENT.owner_kind, [str(call.id)])
    return [schemas.CallDocument.from_row(row) for row in found.get(str(call.id), [])]


async def attach_to_application(
    session: AsyncSession,
    documents: Documents,
    call_id: uuid.UUID,
    application_id: uuid.UUID,
    upload: UploadFile,
    *,
    by: Principal,
) -> dict[str, Any]:
    """The applicant attaches a document (its plan, a qualification, a budget sheet) to its own application."""
    application = await get_application(session, call_id, application_id, by=by)
    if not (by.has_any(Role.provider_admin) and by.provider_id == application.provider_id):
        raise Forbidden("Only the applicant attaches documents to an application.", code="not_the_applicant")
    row = await documents.upload_file(
        session, upload, purpose=APPLICATION_ATTACHMENT, owner_id=application.id, by=by.subject
    )
    listed = await documents.listed(session, APPLICATION_ATTACHMENT.owner_kind, application.id, viewer=by)
    return next(item for item in listed if item["id"] == row["id"])


async def application_attachments(
    session: AsyncSession, documents: Documents, call_id: uuid.UUID, application_id: uuid.UUID, *, by: Principal
) -> list[dict[str, Any]]:
    """An application's attachments, each with a short-lived link, for whoever may read the application."""
    application = await get_application(session, call_id, application_id, by=by)
    return await documents.listed(session, APPLICATION_ATTACHMENT.owner_kind, application.id, viewer=by)
