"""Public notice of approved projects (公示) and objections (异议).

The notice runs a number of working days (weekends and Chinese public holidays do not count). Anyone may
object while it runs; every objection is answered before a contract is signed from a project it lists, and
no contract is signed before the notice has ended.

Notices are public: everyone reads every notice. A street-scoped official publishes the notice of their street's
calls and answers the objections to it; another street's objection does not exist for them (404).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.auth import sees_street
from procurement.calls import service as calls_service
from procurement.calls.models import Application, ApplicationStatus, CallStatus
from procurement.notices import repository, schemas
from procurement.notices.masking import mask_name, mask_text
from procurement.notices.models import Notice, Objection, ObjectionStatus
from procurement.providers import service as providers_service
from procurement.workdays import nth_working_day_after
from service_kit.auth import Principal
from service_kit.documents import NOTICE_DOCUMENT, Documents
from service_kit.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from service_kit.events.contracts import NoticePublished
from service_kit.events.outbox import emit
from service_kit.timeutil import SHANGHAI


def public_objection(objection: Objection) -> schemas.PublicObjection:
    return schemas.PublicObjection(
        id=objection.id,
        application_id=objection.application_id,
        filer=mask_name(objection.filer_name),
        content=mask_text(objection.content),
        status=objection.status,
        filed_at=objection.filed_at,
        answer=mask_text(objection.answer) if objection.answer else None,
        answered_at=objection.answered_at,
    )


def objection_view(objection: Objection) -> schemas.Objection:
    return schemas.Objection(
        **public_objection(objection).model_dump(exclude={"content"}),
        content=objection.content,
        filer_name=objection.filer_name,
        filer_phone=objection.filer_phone,
    )


async def view(session: AsyncSession, documents: Documents, notice: Notice) -> schemas.Notice:
    return (await views(session, documents, [notice]))[0]


async def views(session: AsyncSession, documents: Documents, notices: list[Notice]) -> list[schemas.Notice]:
    """Notices as the public reads them, with their objections (masked) and documents."""
    found = await documents.public_documents(session, NOTICE_DOCUMENT.owner_kind, [str(n.id) for n in notices])
    return [
        _view(notice, await repository.objections_of(session, notice.id), found.get(str(notice.id), []))
        for notice in notices
    ]


def _view(notice: Notice, objections: Sequence[Objection], documents: list[dict[str, Any]]) -> schemas.Notice:
    return schemas.Notice(
        id=notice.id,
        call_id=notice.call_id,
        kind=notice.kind,
        title=notice.title,
        projects=[schemas.NoticeProject.model_validate(p) for p in notice.projects],
        published_at=notice.published_at,
        period_working_days=notice.period_working_days,
        objection_deadline=notice.objection_deadline,
        objections=[public_objection(o) for o in objections],
        documents=[schemas.NoticeDocument.of(row) for row in documents],
    )


async def publish(
    session: AsyncSession,
    call_id: uuid.UUID,
    data: schemas.NoticePublish,
    *,
    default_period: int,
    by: Principal,
    now: datetime,
) -> Notice:
    call = await calls_service.get_call(session, call_id, by=by)
    if call.status != CallStatus.reviewed:
        raise InvalidTransition(
            "A notice is published once the review has closed.", code="review_not_closed", current_status=call.status
        )
    if await repository.of_call(session, call_id) is not None:
        raise Conflict("This call's notice is already published.", code="notice_exists")
    approved = await calls_service.approved_for_call(session, call_id)
    if not approved:
        raise Conflict("No application of this call is approved.", code="nothing_approved")
    names = await providers_service.names_of(session, [a.provider_id for a in approved])
    period = data.period_working_days or default_period
    notice = Notice(
        call_id=call_id,
        kind="award",
        title=f"{call.title} 立项公示",
        projects=[
            schemas.NoticeProject(
                application_id=a.id,
                provider_id=a.provider_id,
                provider_name=names.get(a.provider_id),
                title=a.title,
                amount_fen=a.approved_amount_fen or 0,
                score=a.score_centi / 100 if a.score_centi is not None else None,
                rank=a.rank,
            ).model_dump(mode="json")
            for a in approved
        ],
        published_at=now,
        published_by=by.subject,
        period_working_days=period,
        objection_deadline=nth_working_day_after(now.astimezone(SHANGHAI).date(), period),
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, notice)
    await audit.record(
        session,
        kind="notice",
        subject_id=notice.id,
        action="published",
        by=by,
        at=now,
        details={
            "call_id": str(call_id),
            "period_working_days": period,
            "objection_deadline": notice.objection_deadline.isoformat(),
            "application_ids": [str(a.id) for a in approved],
        },
    )
    await emit(
        session,
        NoticePublished(
            notice_id=notice.id,
            kind=notice.kind,
            title=notice.title,
            url_path=f"/api/v1/notices/{notice.id}",
            published_at=now,
            objection_deadline=notice.objection_deadline,
        ),
    )
    return notice


async def get(session: AsyncSession, notice_id: uuid.UUID) -> Notice:
    notice = await repository.get(session, notice_id)
    if notice is None:
        raise NotFound("No such notice.", code="notice_not_found")
    return notice


async def list_page(
    session: AsyncSession, documents: Documents, *, limit: int, offset: int
) -> tuple[list[schemas.Notice], int]:
    notices, total = await repository.list_page(session, limit=limit, offset=offset)
    return await views(session, documents, list(notices)), total


async def attach_document(
    session: AsyncSession, documents: Documents, notice_id: uuid.UUID, upload: UploadFile, *, by: Principal
) -> schemas.NoticeDocument:
    """An official who may see the notice's call attaches a document to the notice: public at once, as the notice
    is, and published in OCDS with the award it announces."""
    notice = await get(session, notice_id)
    await calls_service.get_call(session, notice.call_id, by=by)  # another street's notice is not theirs (404)
    row = await documents.upload_file(session, upload, purpose=NOTICE_DOCUMENT, owner_id=notice.id, by=by.subject)
    return schemas.NoticeDocument.of({**row, "url": documents.public_url(row["id"])})


async def notice_documents(
    session: AsyncSession, documents: Documents, notice_id: uuid.UUID
) -> list[schemas.NoticeDocument]:
    notice = await get(session, notice_id)
    found = await documents.public_documents(session, NOTICE_DOCUMENT.owner_kind, [str(notice.id)])
    return [schemas.NoticeDocument.of(row) for row in found.get(str(notice.id), [])]


async def ensure_announced(session: AsyncSession, call_id: uuid.UUID) -> None:
    """Refuse (409) what needs the call's approved projects publicly announced when no notice lists them yet."""
    if await repository.of_call(session, call_id) is None:
        raise Conflict("The approved project has not been publicly announced.", code="notice_missing")


def is_running(notice: Notice, now: datetime) -> bool:
    return now.astimezone(SHANGHAI).date() <= notice.objection_deadline


async def file_objection(
    session: AsyncSession,
    notice_id: uuid.UUID,
    data: schemas.ObjectionCreate,
    *,
    by: Principal | None,
    now: datetime,
) -> Objection:
    notice = await get(session, notice_id)
    if not is_running(notice, now):
        raise Conflict(
            "The notice period is over; objections are no longer taken.",
            code="notice_period_over",
            objection_deadline=notice.objection_deadline.isoformat(),
        )
    if data.application_id is not None and str(data.application_id) not in {
        p["application_id"] for p in notice.projects
    }:
        raise ValidationFailed("The notice lists no such project.", code="project_not_in_notice")
    objection = Objection(
        notice_id=notice_id,
        application_id=data.application_id,
        filer_name=data.filer_name,
        filer_phone=data.filer_phone,
        filer_subject=by.subject if by else None,
        content=data.content,
        status=ObjectionStatus.open,
        filed_at=now,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, objection)
    await audit.record(
        session,
        kind="notice",
        subject_id=notice_id,
        action="objection_filed",
        # The audit trail names who filed, as far as the caller is known; the public never reads it.
        by=by or Principal(subject="public", roles=frozenset(), name=data.filer_name),
        at=now,
        details={"objection_id": str(objection.id), "application_id": str(data.application_id or "")},
    )
    return objection


async def answer(
    session: AsyncSession,
    notice_id: uuid.UUID,
    objection_id: uuid.UUID,
    data: schemas.ObjectionAnswer,
    *,
    by: Principal,
    now: datetime,
) -> Objection:
    objection = await repository.get_objection(session, objection_id)
    if objection is None or objection.notice_id != notice_id:
        raise NotFound("No such objection.", code="objection_not_found")
    if by.street_code is not None:  # a street-scoped official answers for their street's calls only
        call_id = await repository.call_of(session, notice_id)
        street = await calls_service.street_of(session, call_id) if call_id is not None else None
        if not sees_street(by, street):
            raise NotFound("No such objection.", code="objection_not_found")
    answered = await repository.answer_open(
        session, objection_id, answer=data.answer, answered_at=now, answered_by=by.subject, updated_at=now
    )
    if not answered:
        raise InvalidTransition("The objection is already answered.", current_status=str(ObjectionStatus.answered))
    await audit.record(
        session,
        kind="notice",
        subject_id=notice_id,
        action="objection_answered",
        by=by,
        at=now,
        details={"objection_id": str(objection_id)},
        reason=data.answer,
    )
    refreshed = await repository.get_objection(session, objection_id)
    assert refreshed is not None
    return refreshed


async def ensure_signable(session: AsyncSession, application: Application, *, now: datetime) -> None:
    """Refuse (409) a contract for an application whose notice has not ended or has unanswered objections."""
    if application.status != ApplicationStatus.approved:
        raise Conflict("The application is not approved.", code="application_not_approved")
    notice = await repository.of_call(session, application.call_id)
    if notice is None or str(application.id) not in {p["application_id"] for p in notice.projects}:
        raise Conflict("The approved project has not been publicly announced.", code="notice_missing")
    if is_running(notice, now):
        raise Conflict(
            "The public notice is still running.",
            code="notice_period_running",
            objection_deadline=notice.objection_deadline.isoformat(),
        )
    open_objections = await repository.count_open_objections(session, notice.id)
    if open_objections:
        raise Conflict(
            "Every objection to the notice must be answered first.",
            code="objection_open",
            open_objections=open_objections,
        )


async def ensure_signable_application(session: AsyncSession, application_id: uuid.UUID, *, now: datetime) -> None:
    application = await calls_service.find_application(session, application_id)
    if application is None:
        raise Conflict("The contract's application no longer exists.", code="application_not_found")
    await ensure_signable(session, application, now=now)
