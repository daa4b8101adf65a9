"""The rules of expert review.

A reviewer sees only the calls they are assigned to, declares for each application whether they are linked to
its provider, and scores only when they are not (nor recorded as linked by the official). No reviewer ever
reads another's sheet; officials read the sheets and the aggregate once the review has closed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.calls import service as calls_service
from procurement.calls.models import Application, ApplicationStatus, Call, CallStatus
from procurement.performance import schemas as performance_schemas
from procurement.performance import service as performance_service
from procurement.reviews import repository, schemas
from procurement.reviews.models import ReviewAssignment, ReviewDeclaration, ReviewScore
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, InvalidTransition, NotFound, ValidationFailed

# With this many score sheets or more, the highest and the lowest are dropped before averaging.
TRIM_FROM = 5


def aggregate_centi(weighted_totals: list[int]) -> int:
    """The aggregate of reviewers' weighted totals (hundredths of a point), trimming outliers from five up."""
    totals = sorted(weighted_totals)
    if len(totals) >= TRIM_FROM:
        totals = totals[1:-1]
    # Integer arithmetic, rounded half up: no float ever decides a rank.
    return (2 * sum(totals) + len(totals)) // (2 * len(totals))


def weighted_centi(criteria: list[dict[str, Any]], scores: dict[str, int]) -> int:
    return sum(int(c["weight"]) * scores[c["code"]] for c in criteria)


async def assign(
    session: AsyncSession, call_id: uuid.UUID, data: schemas.AssignmentCreate, *, by: Principal, now: datetime
) -> ReviewAssignment:
    call = await calls_service.get_call(session, call_id, by=by)
    if call.status == CallStatus.reviewed:
        raise InvalidTransition("The review of this call has closed.", code="review_closed", current_status=call.status)
    if await repository.assignment_of(session, call_id, data.reviewer_subject) is not None:
        raise Conflict("The reviewer is already assigned to this call.", code="already_assigned")
    assignment = ReviewAssignment(
        call_id=call_id,
        reviewer_subject=data.reviewer_subject,
        reviewer_name=data.reviewer_name,
        linked_provider_ids=[str(p) for p in dict.fromkeys(data.linked_provider_ids)],
        assigned_by=by.subject,
        created_at=now,
        updated_at=now,
    )
    await repository.save(session, assignment)
    await audit.record(
        session,
        kind="call",
        subject_id=call_id,
        action="reviewer_assigned",
        by=by,
        at=now,
        details=data.model_dump(mode="json"),
    )
    return assignment


async def assignment_of(session: AsyncSession, call_id: uuid.UUID, by: Principal) -> ReviewAssignment | None:
    if not by.has_any(Role.reviewer):
        return None
    return await repository.assignment_of(session, call_id, by.subject)


async def progress(
    session: AsyncSession, call_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.AssignmentProgress], int]:
    await calls_service.get_call(session, call_id, by=by)
    assignments, total = await repository.assignments_page(session, call_id, limit=limit, offset=offset)
    ids = [a.id for a in assignments]
    declared = await repository.declarations_by_assignment(session, ids)
    scored = await repository.sheets_by_assignment(session, ids)
    items = [
        schemas.AssignmentProgress(
            **schemas.Assignment.model_validate(a).model_dump(),
            declarations=declared.get(a.id, 0),
            score_sheets=scored.get(a.id, 0),
        )
        for a in assignments
    ]
    return items, total


async def my_assignments(
    session: AsyncSession, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.MyAssignment], int]:
    rows, total = await repository.assignments_of_reviewer(session, by.subject, limit=limit, offset=offset)
    items = [
        schemas.MyAssignment(id=a.id, call_id=c.id, call_title=c.title, call_status=c.status, deadline=c.deadline)
        for a, c in rows
    ]
    return items, total


async def _reviewing(
    session: AsyncSession, call_id: uuid.UUID, application_id: uuid.UUID, by: Principal
) -> tuple[Call, Application, ReviewAssignment]:
    """The call, application and the caller's assignment, when the caller is reviewing it now."""
    assignment = await assignment_of(session, call_id, by)
    if assignment is None:
        raise NotFound("No such application.", code="application_not_found")
    application = await calls_service.get_application(session, call_id, application_id, by=by)
    if application.status == ApplicationStatus.withdrawn:
        raise NotFound("No such application.", code="application_not_found")
    call = await calls_service.get_call(session, call_id, by=by)
    if call.status != CallStatus.closed:
        raise InvalidTransition(
            "Applications are reviewed after the call has closed and until the review closes.",
            code="review_not_open",
            current_status=call.status,
        )
    return call, application, assignment


def check_declaration(conflict: bool, *, linked: bool) -> None:
    """The conflict-of-interest rule of a declaration, for expert reviewers and contract evaluators alike: one
    the official recorded as linked to the provider cannot declare that they have no conflict."""
    if not conflict and linked:
        raise Conflict(
            "You are recorded as linked to this provider: you cannot declare no conflict of interest.",
            code="conflict_of_interest",
        )


def ensure_may_score(declared_conflict: bool | None, *, linked: bool) -> None:
    """Whoever scores a provider's work (an expert reviewer an application, an evaluator a contract) has declared
    first (``declared_conflict`` is None until then) and has neither declared a conflict nor is recorded as
    linked to the provider."""
    if declared_conflict is None:
        raise Conflict("Declare whether you have a conflict of interest before scoring.", code="declaration_required")
    if declared_conflict or linked:
        raise Conflict("You are linked to this provider: you cannot score its work.", code="conflict_of_interest")


def _linked(assignment: ReviewAssignment, application: Application) -> bool:
    return str(application.provider_id) in assignment.linked_provider_ids


async def declare(
    session: AsyncSession,
    call_id: uuid.UUID,
    application_id: uuid.UUID,
    data: schemas.DeclarationCreate,
    *,
    by: Principal,
    now: datetime,
) -> ReviewDeclaration:
    _, application, assignment = await _reviewing(session, call_id, application_id, by)
    check_declaration(data.conflict, linked=_linked(assignment, application))
    existing = await repository.declaration(session, assignment.id, application_id)
    if existing is not None:
        raise Conflict("You have already declared for this application.", code="already_declared")
    declaration = ReviewDeclaration(
        assignment_id=assignment.id,
        application_id=application_id,
        conflict=data.conflict,
        note=data.note,
        declared_at=now,
    )
    await repository.save(session, declaration)
    await audit.record(
        session,
        kind="application",
        subject_id=application_id,
        action="conflict_declared" if data.conflict else "no_conflict_declared",
        by=by,
        at=now,
        details={"reviewer_subject": by.subject},
        reason=data.note,
    )
    return declaration


def sheet_view(sheet: ReviewScore, reviewer_subject: str) -> schemas.ScoreSheet:
    return schemas.ScoreSheet(
        application_id=sheet.application_id,
        reviewer_subject=reviewer_subject,
        scores={k: int(v) for k, v in sheet.scores.items()},
        weighted_total=sheet.weighted_centi / 100,
        comment=sheet.comment,
        scored_at=sheet.scored_at,
    )


async def submit_scores(
    session: AsyncSession,
    call_id: uuid.UUID,
    application_id: uuid.UUID,
    data: schemas.ScoreSheetSubmit,
    *,
    by: Principal,
    now: datetime,
) -> schemas.ScoreSheet:
    """Score each criterion 0–100; a reviewer may revise their sheet until the review closes."""
    call, application, assignment = await _reviewing(session, call_id, application_id, by)
    declaration = await repository.declaration(session, assignment.id, application_id)
    ensure_may_score(declaration.conflict if declaration is not None else None, linked=_linked(assignment, application))
    codes = {c["code"] for c in call.criteria}
    if set(data.scores) != codes:
        raise ValidationFailed(
            "Score every criterion of the call, and only those.",
            code="criteria_mismatch",
            criteria=sorted(codes),
        )
    total = weighted_centi(list(call.criteria), data.scores)
    sheet = await repository.sheet(session, assignment.id, application_id)
    action = "scored" if sheet is None else "rescored"
    if sheet is None:
        sheet = ReviewScore(assignment_id=assignment.id, application_id=application_id)
    sheet.scores, sheet.weighted_centi, sheet.comment, sheet.scored_at = dict(data.scores), total, data.comment, now
    await repository.save(session, sheet)
    await audit.record(
        session,
        kind="application",
        subject_id=application_id,
        action=action,
        by=by,
        at=now,
        details={"reviewer_subject": by.subject, "scores": dict(data.scores), "weighted_total": total / 100},
    )
    return sheet_view(sheet, by.subject)


async def my_sheet(
    session: AsyncSession, call_id: uuid.UUID, application_id: uuid.UUID, *, by: Principal
) -> schemas.ScoreSheet:
    assignment = await assignment_of(session, call_id, by)
    if assignment is None:
        raise NotFound("No such application.", code="application_not_found")
    sheet = await repository.sheet(session, assignment.id, application_id)
    if sheet is None:
        raise NotFound("You have not scored this application.", code="score_sheet_not_found")
    return sheet_view(sheet, by.subject)


async def sheets(
    session: AsyncSession, call_id: uuid.UUID, application_id: uuid.UUID, *, by: Principal
) -> list[schemas.ScoreSheet]:
    """Every reviewer's sheet for an application: for officials, once the review has closed."""
    call = await calls_service.get_call(session, call_id, by=by)
    await calls_service.get_application(session, call_id, application_id, by=by)
    if call.status != CallStatus.reviewed:
        raise InvalidTransition(
            "Score sheets are read once the review has closed.", code="review_not_closed", current_status=call.status
        )
    return [sheet_view(sheet, subject) for sheet, subject in await repository.sheets_of(session, application_id)]


async def close_review(session: AsyncSession, call_id: uuid.UUID, *, by: Principal, now: datetime) -> Call:
    """Close the review: aggregate each application's sheets and rank the applications, best first."""
    call = await calls_service.transition_call(
        session, call_id, "close_review", by=by, now=now, values={"reviewed_at": now}
    )
    applications = await calls_service.submitted_applications(session, call_id)
    totals: dict[uuid.UUID, list[int]] = defaultdict(list)
    for application_id, weighted in await repository.weighted_scores(session, [a.id for a in applications]):
        totals[application_id].append(weighted)
    scored = sorted(
        ((aggregate_centi(totals[a.id]), a) for a in applications if totals[a.id]),
        key=lambda pair: (-pair[0], pair[1].submitted_at, str(pair[1].id)),
    )
    for rank, (score, application) in enumerate(scored, start=1):
        await calls_service.record_ranking(
            session, application.id, score_centi=score, reviewer_count=len(totals[application.id]), rank=rank, at=now
        )
        await audit.record(
            session,
            kind="application",
            subject_id=application.id,
            action="ranked",
            by=by,
            at=now,
            details={"score": score / 100, "reviewer_count": len(totals[application.id]), "rank": rank},
        )
    return call


async def applicant_past_performance(
    session: AsyncSession, call_id: uuid.UUID, application_id: uuid.UUID, *, by: Principal
) -> performance_schemas.PastPerformance:
    """The applicant's past performance, for those who may read the application: the call's reviewers, officials
    and auditors (another reviewer or a withdrawn application: 404)."""
    application = await calls_service.get_application(session, call_id, application_id, by=by)
    if application.status == ApplicationStatus.withdrawn and not by.has_any(Role.official, Role.admin, Role.auditor):
        raise NotFound("No such application.", code="application_not_found")
    return await performance_service.past_performance(session, application.provider_id)
