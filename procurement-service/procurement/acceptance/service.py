"""Acceptance (验收) after the final evaluation: the recipients' opinions are recorded, the result is published
(notice.published), a conditional result asks for another acceptance after rectification, and a failed one
sanctions the provider (优胜劣汰). Passing, even on conditions, needs the KPI attainment at the configured
threshold; below it the official is told the way forward (a bilateral settlement or the sanction process).

A street-scoped official records the acceptance of their street's contracts, but not a failed one: the sanction it
imposes binds the whole district, so a district-wide official records it (403 ``district_only``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.acceptance import repository, schemas
from procurement.acceptance.models import AcceptanceResult, ContractAcceptance
from procurement.auth import ensure_district_wide
from procurement.config import Settings
from procurement.contracts import repository as contracts_repository
from procurement.contracts import service as contracts_service
from procurement.contracts.models import Contract
from procurement.evaluations import service as evaluations_service
from procurement.evaluations.models import EvaluationStage
from procurement.notices.masking import mask_name, mask_text
from procurement.sanctions import service as sanctions_service
from procurement.sanctions.models import SanctionCause
from service_kit.auth import Principal
from service_kit.documents import ACCEPTANCE_REPORT, Documents
from service_kit.errors import Conflict, NotFound, ValidationFailed
from service_kit.events.contracts import NoticePublished
from service_kit.events.outbox import emit


def public_view(contract: Contract, acceptance: ContractAcceptance) -> schemas.Acceptance:
    opinions = [
        schemas.PublicOpinion(name=mask_name(o["name"]), opinion=mask_text(o["opinion"]), satisfied=o["satisfied"])
        for o in acceptance.recipient_opinions
    ]
    return schemas.Acceptance(
        id=acceptance.id,
        contract_id=contract.id,
        contract_title=contract.title,
        provider_id=contract.provider_id,
        attempt=acceptance.attempt,
        result=acceptance.result,
        summary=mask_text(acceptance.summary),
        conditions=mask_text(acceptance.conditions) if acceptance.conditions else None,
        rectification_due=acceptance.rectification_due,
        recipient_opinions=opinions,
        satisfied_count=sum(1 for o in opinions if o.satisfied),
        evaluator_opinion=mask_text(acceptance.evaluator_opinion) if acceptance.evaluator_opinion else None,
        decided_at=acceptance.decided_at,
    )


async def latest(session: AsyncSession, contract_id: uuid.UUID) -> ContractAcceptance | None:
    return await repository.latest(session, contract_id)


async def has_passed(session: AsyncSession, contract_id: uuid.UUID) -> bool:
    found = await latest(session, contract_id)
    return found is not None and found.result == AcceptanceResult.passed


async def passed_at(session: AsyncSession, contract_id: uuid.UUID) -> datetime | None:
    """When the contract's acceptance passed, or None while its latest acceptance has not."""
    found = await latest(session, contract_id)
    return found.decided_at if found is not None and found.result == AcceptanceResult.passed else None


async def accept(
    session: AsyncSession,
    contract_id: uuid.UUID,
    data: schemas.AcceptanceCreate,
    *,
    by: Principal,
    now: datetime,
    settings: Settings,
) -> schemas.Acceptance:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    contracts_service.ensure_active(contract, "accept")
    if data.result == AcceptanceResult.failed:
        ensure_district_wide(by, "a failed acceptance sanctions the provider and")
    if data.result == AcceptanceResult.conditional and data.conditions is None:
        raise ValidationFailed("A conditional acceptance names what must be rectified.", code="conditions_missing")
    if not await evaluations_service.is_finalized(session, contract.id, EvaluationStage.final):
        raise Conflict("Acceptance follows the finalized final evaluation.", code="final_evaluation_missing")
    if data.result != AcceptanceResult.failed:
        # Passing (even on conditions) needs the promised services delivered; a failed acceptance is the
        # sanction process, always open to the official.
        await evaluations_service.ensure_attainment(
            session, contract, settings, doing=f"record a {data.result} acceptance"
        )
    previous = await latest(session, contract.id)
    if previous is not None and previous.result != AcceptanceResult.conditional:
        raise Conflict(
            f"The contract's acceptance has already {previous.result}.",
            code="already_accepted",
            result=str(previous.result),
        )
    acceptance = ContractAcceptance(
        contract_id=contract.id,
        attempt=(previous.attempt + 1) if previous is not None else 1,
        result=data.result,
        summary=data.summary,
        conditions=data.conditions,
        rectification_due=data.rectification_due,
        recipient_opinions=[o.model_dump() for o in data.recipient_opinions],
        evaluator_opinion=data.evaluator_opinion,
        decided_by=by.subject,
        decided_by_name=by.name,
        decided_at=now,
        created_at=now,
        updated_at=now,
    )
    # Two officials recording the same attempt at once: the second meets the unique (contract, attempt).
    if not await repository.add_attempt(session, acceptance):
        raise Conflict("Another acceptance was recorded meanwhile.", code="already_accepted")
    await contracts_service.record_lifecycle(
        session,
        contract,
        f"acceptance_{data.result}",
        by=by,
        at=now,
        reason=data.summary,
        details={"acceptance_id": str(acceptance.id), "attempt": acceptance.attempt},
    )
    await emit(
        session,
        NoticePublished(
            notice_id=acceptance.id,
            kind="acceptance_result",
            title=f"{contract.title} 验收结果公示",
            url_path=f"/api/v1/contracts/{contract.id}/acceptance",
            published_at=now,
        ),
    )
    if data.result == AcceptanceResult.failed:
        await sanctions_service.impose(
            session,
            provider_id=contract.provider_id,
            contract_id=contract.id,
            cause=SanctionCause.acceptance_failed,
            reason=f"验收不合格：{data.summary}"[:2000],
            rounds=settings.sanction_rounds,
            by=by,
            now=now,
        )
    return public_view(contract, acceptance)


async def public_page(
    session: AsyncSession, contract_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[schemas.Acceptance], int]:
    """A contract's acceptance results, for anyone: none recorded is the same as no such contract."""
    contract = await contracts_repository.get(session, contract_id)
    rows, total = await repository.attempts_page(session, contract_id, limit=limit, offset=offset)
    if contract is None or total == 0:
        raise NotFound("No published acceptance result for this contract.", code="acceptance_not_found")
    return [public_view(contract, row) for row in rows], total


# ------------------------------------------------------------------ reports (验收报告)


async def attach_report(
    session: AsyncSession,
    documents: Documents,
    contract_id: uuid.UUID,
    acceptance_id: uuid.UUID,
    upload: UploadFile,
    *,
    by: Principal,
) -> schemas.AcceptanceReport:
    """An official attaches the report of an acceptance of a contract they may read; it is public at once."""
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    if await repository.get(session, contract.id, acceptance_id) is None:
        raise NotFound("No such acceptance of this contract.", code="acceptance_not_found")
    row = await documents.upload_file(session, upload, purpose=ACCEPTANCE_REPORT, owner_id=acceptance_id, by=by.subject)
    return next(r for r in await reports(session, documents, contract_id, acceptance_id) if r.id == row["id"])


async def reports(
    session: AsyncSession, documents: Documents, contract_id: uuid.UUID, acceptance_id: uuid.UUID
) -> list[schemas.AcceptanceReport]:
    """An acceptance's reports, for anyone (as its result is)."""
    if await repository.get(session, contract_id, acceptance_id) is None:
        raise NotFound("No such acceptance of this contract.", code="acceptance_not_found")
    found = await documents.public_documents(session, ACCEPTANCE_REPORT.owner_kind, [str(acceptance_id)])
    return [schemas.AcceptanceReport.from_row(row) for row in found.get(str(acceptance_id), [])]
