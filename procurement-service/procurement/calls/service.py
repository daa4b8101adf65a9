"""The rules of calls for proposals and applications: who may apply, until when, for how much; approval (立项).

Every transition is a guarded UPDATE and an audit entry in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.auth import sees_all, sees_street, street_of_new
from procurement.calls import schemas
from procurement.calls.models import Application, ApplicationStatus, Call, CallStatus
from procurement.contracts.schemas import Contract as ContractView
from procurement.contracts.service import TargetTerms
from procurement.funds import service as funds_service
from procurement.needs import service as needs_service
from procurement.needs.models import Need
from procurement.providers import service as providers_service
from procurement.sanctions import service as sanctions_service
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from service_kit.pagination import fetch_page

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
        found = set((await session.execute(select(Need.id).where(Need.id.in_(need_ids)))).scalars().all())
        missing = [str(i) for i in need_ids if i not in found]
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
    session.add(call)
    await session.flush()
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
    call = await session.get(Call, call_id, populate_existing=True)
    if call is None or (call.status == CallStatus.draft and not _is_official(by)):
        raise NotFound("No such call.", code="call_not_found")
    if not sees_street(by, call.street_code):
        raise NotFound("No such call.", code="call_not_found")
    return call


async def list_calls(
    session: AsyncSession, *, by: Principal | None, status: CallStatus | None, limit: int, offset: int
) -> tuple[list[Call], int]:
    conditions: list[Any] = []
    if not _is_official(by):
        conditions.append(Call.status.in_(PUBLIC_STATUSES))
    if by is not None and by.street_code is not None:  # a street-scoped official: their street's calls only
        conditions.append(Call.street_code == by.street_code)
    if status is not None:
        conditions.append(Call.status == status)
    query = select(Call).where(*conditions).order_by(Call.deadline.desc(), Call.id)
    rows, total = await fetch_page(session, query, limit=limit, offset=offset)
    return list(rows), total


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
    moved = cast(
        CursorResult[Any],
        await session.execute(
            update(Call)
            .where(Call.id == call_id, Call.status == from_status)
            .values(status=to_status, updated_at=now, **values)
        ),
    )
    if moved.rowcount != 1:
        await session.refresh(call, ["status"])
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
    live = await session.scalar(
        select(func.count())
        .select_from(Application)
        .where(
            Application.call_id == call_id,
            Application.provider_id == provider_id,
            Application.status != ApplicationStatus.withdrawn,
        )
    )
    if live:
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
    session.add(application)
    await session.flush()
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
    application = await session.get(Application, application_id, populate_existing=True)
    if application is None or application.call_id != call_id or not await _can_read(session, application, by):
        raise NotFound("No such application.", code="application_not_found")
    return application


async def _can_read(session: AsyncSession, application: Application, by: Principal) -> bool:
    # Imported here: the review module builds on calls (it reads calls and applications).
    from procurement.reviews import service as reviews_service

    if _is_official(by):  # a street-scoped official: their street's calls' applications only
        return by.street_code is None or sees_street(
            by, await session.scalar(select(Call.street_code).where(Call.id == application.call_id))
        )
    if by.has_any(Role.provider_admin) and by.provider_id == application.provider_id:
        return True
    if by.has_any(Role.reviewer):
        return await reviews_service.assignment_of(session, application.call_id, by) is not None
    return False


async def list_applications(
    session: AsyncSession, call_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[Application], int]:
    from procurement.reviews import service as reviews_service

    await get_call(session, call_id, by=by)
    conditions: list[Any] = [Application.call_id == call_id]
    if not _is_official(by):
        if by.has_any(Role.reviewer) and await reviews_service.assignment_of(session, call_id, by) is not None:
            conditions.append(Application.status != ApplicationStatus.withdrawn)
        elif by.has_any(Role.provider_admin) and by.provider_id is not None:
            conditions.append(Application.provider_id == by.provider_id)
        else:
            conditions.append(Application.id.is_(None))
    query = (
        select(Application)
        .where(*conditions)
        .order_by(Application.rank.is_(None), Application.rank, Application.submitted_at, Application.id)
    )
    rows, total = await fetch_page(session, query, limit=limit, offset=offset)
    return list(rows), total


async def withdraw(
    session: AsyncSession, call_id: uuid.UUID, application_id: uuid.UUID, *, by: Principal, now: datetime
) -> Application:
    application = await get_application(session, call_id, application_id, by=by)
    if not (by.has_any(Role.provider_admin) and by.provider_id == application.provider_id):
        raise NotFound("No such application.", code="application_not_found")
    call = await get_call(session, call_id, by=by)
    if now >= call.deadline:
        raise Conflict("An application can be withdrawn only before the deadline.", code="deadline_passed")
    moved = cast(
        CursorResult[Any],
        await session.execute(
            update(Application)
            .where(Application.id == application_id, Application.status == ApplicationStatus.submitted)
            .values(status=ApplicationStatus.withdrawn, withdrawn_at=now, updated_at=now)
        ),
    )
    if moved.rowcount != 1:
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
    moved = cast(
        CursorResult[Any],
        await session.execute(
            update(Application)
            .where(Application.id == application_id, Application.status == ApplicationStatus.submitted)
            .values(
                status=ApplicationStatus.approved,
                approved_amount_fen=amount,
                approved_at=now,
                approved_by=by.subject,
                updated_at=now,
            )
        ),
    )
    if moved.rowcount != 1:
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


async def approved_for_call(session: AsyncSession, call_id: uuid.UUID) -> list[Application]:
    result = await session.execute(
        select(Application)
        .where(Application.call_id == call_id, Application.status == ApplicationStatus.approved)
        .order_by(Application.rank.is_(None), Application.rank, Application.id)
    )
    return list(result.scalars().all())


async def draft_contract(
    session: AsyncSession,
    call_id: uuid.UUID,
    application_id: uuid.UUID,
    data: schemas.ContractFromApplication,
    *,
    by: Principal,
    now: datetime,
) -> ContractView:
    """Draft the contract of an approved, publicly announced application (competitive): its title, provider and
    amount, and its call's fund, where the approval committed the amount."""
    from procurement.contracts import service as contracts_service
    from procurement.contracts.models import Contract
    from procurement.contracts.schemas import ContractCreate
    from procurement.notices.models import Notice

    application = await get_application(session, call_id, application_id, by=by)
    if application.status != ApplicationStatus.approved or application.approved_amount_fen is None:
        raise InvalidTransition(
            "Only an approved application becomes a contract.",
            code="application_not_approved",
            current_status=str(application.status),
        )
    if not await session.scalar(select(func.count()).select_from(Notice).where(Notice.call_id == call_id)):
        raise Conflict("The approved project has not been publicly announced.", code="notice_missing")
    if await session.scalar(
        select(func.count()).select_from(Contract).where(Contract.application_id == application_id)
    ):
        raise Conflict("The application already has its contract.", code="contract_exists")
    call = await get_call(session, call_id, by=by)
    terms = ContractCreate(
        title=application.title,
        provider_id=application.provider_id,
        amount_fen=application.approved_amount_fen,
        start_date=data.start_date,
        end_date=data.end_date,
        stable_service=data.stable_service,
        funded_offerings=data.funded_offerings,
        installments=data.installments,
    )
    return await contracts_service.draft_from_application(
        session,
        terms,
        application_id=application_id,
        fund_id=call.fund_id,
        street_code=call.street_code,
        approved_by=application.approved_by,
        approved_at=application.approved_at,
        targets=targets_of(application, data),
        by=by,
        now=now,
    )


def targets_of(application: Application, data: schemas.ContractFromApplication) -> list[TargetTerms]:
    """The winning application's promises as the contract's targets (绩效目标). What it promised of an offering
    the contract funds is measured (that many verified services of the offering); a funded offering it promised
    nothing of is measured against its quota; everything else it promised (a category of service, an offering
    the contract does not fund, its KPIs) is carried over as stated."""
    funded = {item.offering_id: item.quota for item in data.funded_offerings}
    promised: dict[uuid.UUID, int] = {}
    stated: list[TargetTerms] = []
    for item in application.deliverables:
        what = f"{item['quantity']}人次（{item['target_group']}，{item['period_start']}至{item['period_end']}）"[:200]
        offering_id = uuid.UUID(item["offering_id"]) if item.get("offering_id") else None
        if offering_id is not None and offering_id in funded:
            promised[offering_id] = promised.get(offering_id, 0) + int(item["quantity"])
        else:
            stated.append((str(item.get("service_type") or f"服务项目 {offering_id}")[:200], what, None, None))
    measured: list[TargetTerms] = [
        ("服务人次", f"{promised.get(offering_id, quota)}人次", offering_id, promised.get(offering_id, quota))
        for offering_id, quota in funded.items()
    ]
    kpis: list[TargetTerms] = [(str(kpi["name"]), str(kpi["target"]), None, None) for kpi in application.kpis]
    return measured + stated + kpis
