"""Supervising a contract while it runs: progress reports by the provider, supervision records by officials,
and complaints from feedback-service tied to the contract they concern."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.contracts import service as contracts_service
from procurement.deliverables import service as deliverables_service
from procurement.supervision import repository, schemas
from procurement.supervision.models import (
    ContractComplaint,
    ProgressReport,
    SupervisionConclusion,
    SupervisionKind,
    SupervisionRecord,
)
from service_kit.auth import Principal, Role
from service_kit.documents import SUPERVISION_REPORT, Documents
from service_kit.errors import NotFound, ValidationFailed
from service_kit.events.contracts import BookingProviderMissed, ComplaintChanged
from service_kit.timeutil import SHANGHAI


async def submit_progress_report(
    session: AsyncSession, contract_id: uuid.UUID, data: schemas.ProgressReportCreate, *, by: Principal, now: datetime
) -> schemas.ProgressReport:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    if not (Role.provider_admin in by.roles and by.provider_id == contract.provider_id):
        # Officials and evaluators read reports; the contracted provider writes them.
        raise NotFound("No such contract.", code="contract_not_found")
    contracts_service.ensure_active(contract, "report on")
    if data.period_end < data.period_start:
        raise ValidationFailed("The period ends before it starts.", code="period_reversed")
    report = ProgressReport(
        contract_id=contract.id,
        **data.model_dump(),
        submitted_by=by.subject,
        submitted_at=now,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, report)
    await contracts_service.record_lifecycle(
        session,
        contract,
        "progress_reported",
        by=by,
        at=now,
        details={"report_id": str(report.id), "period": [str(data.period_start), str(data.period_end)]},
    )
    return schemas.ProgressReport.model_validate(report)


async def record_supervision(
    session: AsyncSession, contract_id: uuid.UUID, data: schemas.SupervisionCreate, *, by: Principal, now: datetime
) -> schemas.SupervisionRecord:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    contracts_service.ensure_active(contract, "supervise")
    if data.conclusion == SupervisionConclusion.rectification_required and data.rectification_due is None:
        raise ValidationFailed("Name the day rectification is due.", code="rectification_due_missing")
    if data.rectification_due is not None and data.rectification_due < data.occurred_on:
        raise ValidationFailed("Rectification is due before the supervision took place.", code="due_before_visit")
    record = SupervisionRecord(
        contract_id=contract.id,
        **data.model_dump(),
        recorded_by=by.subject,
        recorded_by_name=by.name,
        recorded_at=now,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, record)
    await contracts_service.record_lifecycle(
        session,
        contract,
        "supervised",
        by=by,
        at=now,
        details={"record_id": str(record.id), "kind": str(data.kind), "conclusion": str(data.conclusion)},
    )
    return schemas.SupervisionRecord.model_validate(record)


async def progress_reports(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.ProgressReport], int]:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    rows, total = await repository.page(
        session, ProgressReport, contract.id, ProgressReport.submitted_at, limit=limit, offset=offset
    )
    return [schemas.ProgressReport.model_validate(r) for r in rows], total


async def supervision_records(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.SupervisionRecord], int]:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    rows, total = await repository.page(
        session, SupervisionRecord, contract.id, SupervisionRecord.occurred_on, limit=limit, offset=offset
    )
    return [schemas.SupervisionRecord.model_validate(r) for r in rows], total


async def complaints(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.LinkedComplaint], int]:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    rows, total = await repository.page(
        session, ContractComplaint, contract.id, ContractComplaint.opened_at, limit=limit, offset=offset
    )
    return [schemas.LinkedComplaint.model_validate(r) for r in rows], total


async def _contracts_concerned(session: AsyncSession, event: ComplaintChanged) -> list[tuple[uuid.UUID, str]]:
    """Which contracts a complaint concerns: the one its booking was delivered under, else the provider's
    active contracts funding the offering that day, else (no offering named) all the provider's active ones."""
    if event.booking_id is not None:
        found = await deliverables_service.contract_of_booking(session, event.booking_id)
        if found is not None:
            return [(found, "booking")]
    if event.provider_id is None:
        return []
    active = await contracts_service.active_on(
        session, event.provider_id, event.occurred_at.astimezone(SHANGHAI).date(), offering_id=event.offering_id
    )
    basis = "offering" if event.offering_id is not None else "provider"
    return [(contract_id, basis) for contract_id in active]


async def track_complaint(session: AsyncSession, event: ComplaintChanged) -> int:
    """Link a complaint to its contracts or bring the links up to date; returns how many links it has."""
    links = await repository.complaint_links(session, event.complaint_id)
    if links:
        for link in links:
            if event.occurred_at >= link.last_event_at:
                link.status, link.severity, link.category = event.status, event.severity, event.category
                link.last_event_at = event.occurred_at
                link.updated_at = event.occurred_at
        await repository.flush(session)
        return len(links)
    concerned = await _contracts_concerned(session, event)
    for contract_id, basis in concerned:
        await repository.add(
            session,
            ContractComplaint(
                contract_id=contract_id,
                complaint_id=event.complaint_id,
                provider_id=event.provider_id,
                booking_id=event.booking_id,
                offering_id=event.offering_id,
                linked_by=basis,
                category=event.category,
                severity=event.severity,
                status=event.status,
                opened_at=event.occurred_at,
                last_event_at=event.occurred_at,
                created_at=event.occurred_at,
                updated_at=event.occurred_at,
            ),
        )
        await audit.record(
            session,
            kind="contract",
            subject_id=contract_id,
            action="complaint_linked",
            by=audit.SYSTEM,
            at=event.occurred_at,
            details={"complaint_id": str(event.complaint_id), "linked_by": basis, "status": event.status},
        )
    return len(concerned)


BOOKING_SYSTEM = "system:booking"


async def record_provider_missed(session: AsyncSession, event: BookingProviderMissed) -> bool:
    """A funded visit the provider never came to becomes a supervision record of the contract that funds it
    (unsatisfactory, by the booking system); False when no active contract funded it or it is already recorded."""
    if await repository.recorded_for_booking(session, event.booking_id):
        return False
    funded = await contracts_service.funding_for_delivery(session, event)
    if funded is None:
        return False
    start, end = event.slot_start.astimezone(SHANGHAI), event.slot_end.astimezone(SHANGHAI)
    record = SupervisionRecord(
        contract_id=funded.contract_id,
        kind=SupervisionKind.provider_missed,
        occurred_on=start.date(),
        location=None,
        findings=(
            f"服务未到：{start.month}月{start.day}日 {start:%H:%M}–{end:%H:%M} 的预约服务至时段结束无人签到"
            f"（预约 {event.booking_id}）。"
        ),
        conclusion=SupervisionConclusion.unsatisfactory,
        rectification_due=None,
        recorded_by=BOOKING_SYSTEM,
        recorded_by_name="邻里预约系统",
        recorded_at=event.occurred_at,
        booking_id=event.booking_id,
        created_at=event.occurred_at,
        updated_at=event.occurred_at,
    )
    await repository.add(session, record)
    await audit.record(
        session,
        kind="contract",
        subject_id=funded.contract_id,
        action="provider_missed",
        by=audit.SYSTEM,
        at=event.occurred_at,
        details={"record_id": str(record.id), "booking_id": str(event.booking_id)},
    )
    return True


# ------------------------------------------------------------------ supervision reports (监管报告)


async def attach_report(
    session: AsyncSession,
    documents: Documents,
    contract_id: uuid.UUID,
    record_id: uuid.UUID,
    upload: UploadFile,
    *,
    by: Principal,
) -> dict[str, Any]:
    """An official attaches a report (PDF or photo) to a supervision record of a contract they may read."""
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    if await repository.supervision_record(session, contract.id, record_id) is None:
        raise NotFound("No such supervision record of this contract.", code="supervision_record_not_found")
    row = await documents.upload_file(session, upload, purpose=SUPERVISION_REPORT, owner_id=record_id, by=by.subject)
    listed = await documents.listed(session, SUPERVISION_REPORT.owner_kind, record_id, viewer=by)
    return next(item for item in listed if item["id"] == row["id"])


async def reports(
    session: AsyncSession, documents: Documents, contract_id: uuid.UUID, record_id: uuid.UUID, *, by: Principal
) -> list[dict[str, Any]]:
    """A supervision record's reports, each with a short-lived link, for whoever may read the contract."""
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    if await repository.supervision_record(session, contract.id, record_id) is None:
        raise NotFound("No such supervision record of this contract.", code="supervision_record_not_found")
    return await documents.listed(session, SUPERVISION_REPORT.owner_kind, record_id, viewer=by)
