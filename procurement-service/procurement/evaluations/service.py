"""Mid-term and final evaluations: the purchaser (an official) and a third-party evaluator score; the service
recipients' satisfaction comes from their ratings (feedback's score.updated); the three are combined with the
configured weights, KPI attainment (delivered against promised) shown beside. A final score below the
threshold sanctions the provider (优胜劣汰)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.config import Settings
from procurement.contracts import service as contracts_service
from procurement.contracts.models import Contract
from procurement.deliverables import repository as deliverables_repository
from procurement.evaluations import schemas
from procurement.evaluations.models import (
    ContractEvaluation,
    EvaluationStage,
    EvaluationStatus,
    ProviderSatisfaction,
)
from procurement.sanctions import service as sanctions_service
from procurement.sanctions.models import SanctionCause
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, Forbidden, InvalidTransition, NotFound
from service_kit.events.contracts import ScoreUpdated
from service_kit.pagination import fetch_page


async def kpi_attainment(session: AsyncSession, contract: Contract) -> schemas.KpiAttainment:
    totals = await deliverables_repository.totals_by_offering(session, [contract.id])
    offerings = [
        schemas.OfferingAttainment(
            offering_id=item.offering_id,
            promised=item.quota,
            delivered=totals.get((contract.id, item.offering_id), (0, 0))[0],
        )
        for item in contract.funded_offerings
    ]
    promised = sum(o.promised for o in offerings)
    # Delivering more of one offering does not make up for less of another.
    delivered = sum(min(o.delivered, o.promised) for o in offerings)
    return schemas.KpiAttainment(
        promised=promised,
        delivered=sum(o.delivered for o in offerings),
        attainment_percent=round(100 * delivered / promised, 2) if promised else 0.0,
        offerings=offerings,
    )


def _score(centi: int | None) -> float | None:
    return centi / 100 if centi is not None else None


async def view(session: AsyncSession, contract: Contract, evaluation: ContractEvaluation) -> schemas.Evaluation:
    kpi = (
        schemas.KpiAttainment.model_validate(evaluation.kpi)
        if evaluation.kpi is not None
        else await kpi_attainment(session, contract)
    )
    return schemas.Evaluation(
        id=evaluation.id,
        contract_id=evaluation.contract_id,
        stage=evaluation.stage,
        status=evaluation.status,
        purchaser_score=_score(evaluation.purchaser_score_centi),
        purchaser_comment=evaluation.purchaser_comment,
        third_party_score=_score(evaluation.third_party_score_centi),
        third_party_comment=evaluation.third_party_comment,
        recipients_score=_score(evaluation.recipients_score_centi),
        recipients_rating_count=evaluation.recipients_rating_count,
        weights=schemas.Weights.model_validate(evaluation.weights) if evaluation.weights else None,
        combined_score=_score(evaluation.combined_score_centi),
        kpi=kpi,
        opened_at=evaluation.opened_at,
        finalized_at=evaluation.finalized_at,
    )


async def find(session: AsyncSession, contract_id: uuid.UUID, stage: EvaluationStage) -> ContractEvaluation | None:
    return await session.scalar(
        select(ContractEvaluation)
        .where(ContractEvaluation.contract_id == contract_id, ContractEvaluation.stage == stage)
        .execution_options(populate_existing=True)
    )


async def is_finalized(session: AsyncSession, contract_id: uuid.UUID, stage: EvaluationStage) -> bool:
    found = await find(session, contract_id, stage)
    return found is not None and found.status == EvaluationStatus.finalized


async def finalized_at(session: AsyncSession, contract_id: uuid.UUID, stage: EvaluationStage) -> datetime | None:
    """When the stage's evaluation was finalized, or None while it is not."""
    found = await find(session, contract_id, stage)
    return found.finalized_at if found is not None and found.status == EvaluationStatus.finalized else None


async def _existing(session: AsyncSession, contract: Contract, stage: EvaluationStage) -> ContractEvaluation:
    found = await find(session, contract.id, stage)
    if found is None:
        raise NotFound(f"The {stage} evaluation has not been opened.", code="evaluation_not_found")
    return found


async def open_evaluation(
    session: AsyncSession, contract_id: uuid.UUID, data: schemas.EvaluationOpen, *, by: Principal, now: datetime
) -> schemas.Evaluation:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    contracts_service.ensure_active(contract, "evaluate")
    if data.stage == EvaluationStage.final and not await is_finalized(session, contract.id, EvaluationStage.midterm):
        raise Conflict("The final evaluation follows a finalized mid-term one.", code="midterm_not_finalized")
    if await find(session, contract.id, data.stage) is not None:
        raise Conflict(f"The {data.stage} evaluation is already open.", code="evaluation_exists")
    evaluation = ContractEvaluation(
        contract_id=contract.id,
        stage=data.stage,
        status=EvaluationStatus.open,
        opened_by=by.subject,
        opened_at=now,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(evaluation)
    except IntegrityError:
        raise Conflict(f"The {data.stage} evaluation is already open.", code="evaluation_exists") from None
    await contracts_service.record_lifecycle(
        session, contract, "evaluation_opened", by=by, at=now, details={"stage": str(data.stage)}
    )
    return await view(session, contract, evaluation)


async def submit_score(
    session: AsyncSession,
    contract_id: uuid.UUID,
    stage: EvaluationStage,
    data: schemas.ScoreSubmit,
    *,
    by: Principal,
    now: datetime,
) -> schemas.Evaluation:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    if by.has_any(Role.official, Role.admin):
        party, score_column, values = "purchaser", ContractEvaluation.purchaser_score_centi, "purchaser"
    elif Role.evaluator in by.roles:
        party, score_column, values = "third_party", ContractEvaluation.third_party_score_centi, "third_party"
    else:
        raise Forbidden(
            "The purchaser and the third-party evaluator score; recipients through their ratings.",
            code="not_an_evaluating_party",
        )
    evaluation = await _existing(session, contract, stage)
    centi = round(data.score * 100)
    moved = cast(
        CursorResult[Any],
        await session.execute(
            update(ContractEvaluation)
            .where(
                ContractEvaluation.id == evaluation.id,
                ContractEvaluation.status == EvaluationStatus.open,
                score_column.is_(None),
            )
            .values(
                {
                    f"{values}_score_centi": centi,
                    f"{values}_comment": data.comment,
                    f"{values}_by": by.subject,
                    "updated_at": now,
                }
            )
            .execution_options(synchronize_session=False)
        ),
    )
    if moved.rowcount != 1:
        current = await _existing(session, contract, stage)
        if current.status != EvaluationStatus.open:
            raise InvalidTransition(f"The {stage} evaluation is finalized.", code="evaluation_finalized")
        raise Conflict(f"The {party} has already scored the {stage} evaluation.", code="already_scored")
    await contracts_service.record_lifecycle(
        session,
        contract,
        "evaluation_scored",
        by=by,
        at=now,
        reason=data.comment,
        details={"stage": str(stage), "party": party, "score": data.score},
    )
    return await view(session, contract, await _existing(session, contract, stage))


async def satisfaction_of(session: AsyncSession, provider_id: uuid.UUID) -> ProviderSatisfaction | None:
    found = await session.get(ProviderSatisfaction, provider_id, populate_existing=True)
    return found if found is not None and found.rating_count > 0 else None


def combine(
    purchaser_centi: int, third_party_centi: int, recipients_centi: int | None, settings: Settings
) -> tuple[int, dict[str, float]]:
    """The weighted score (centi) and the weights applied, in percent. With no ratings yet the recipients'
    share is spread over the other two in proportion."""
    parts = [
        ("purchaser", settings.evaluation_weight_purchaser, purchaser_centi),
        ("third_party", settings.evaluation_weight_third_party, third_party_centi),
    ]
    if recipients_centi is not None:
        parts.append(("recipients", settings.evaluation_weight_recipients, recipients_centi))
    total_weight = sum(weight for _, weight, _ in parts)
    combined = round(sum(weight * score for _, weight, score in parts) / total_weight)
    applied = {"purchaser": 0.0, "recipients": 0.0, "third_party": 0.0}
    for name, weight, _ in parts:
        applied[name] = round(100 * weight / total_weight, 2)
    return combined, applied


async def finalize(
    session: AsyncSession,
    contract_id: uuid.UUID,
    stage: EvaluationStage,
    *,
    by: Principal,
    now: datetime,
    settings: Settings,
) -> schemas.Evaluation:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    evaluation = await _existing(session, contract, stage)
    if evaluation.status != EvaluationStatus.open:
        raise InvalidTransition(f"The {stage} evaluation is already finalized.", code="evaluation_finalized")
    purchaser, third_party = evaluation.purchaser_score_centi, evaluation.third_party_score_centi
    if purchaser is None or third_party is None:
        missing = [name for name, score in (("purchaser", purchaser), ("third_party", third_party)) if score is None]
        raise Conflict(f"Waiting for the scores of: {', '.join(missing)}.", code="scores_missing", missing=missing)
    satisfaction = await satisfaction_of(session, contract.provider_id)
    # 5 stars are 100 points: thousandths of a star × 2 = hundredths of a point.
    recipients = satisfaction.score_milli * 2 if satisfaction is not None else None
    combined, weights = combine(purchaser, third_party, recipients, settings)
    kpi = await kpi_attainment(session, contract)
    moved = cast(
        CursorResult[Any],
        await session.execute(
            update(ContractEvaluation)
            .where(ContractEvaluation.id == evaluation.id, ContractEvaluation.status == EvaluationStatus.open)
            .values(
                status=EvaluationStatus.finalized,
                recipients_score_centi=recipients,
                recipients_rating_count=satisfaction.rating_count if satisfaction is not None else 0,
                weights=weights,
                combined_score_centi=combined,
                kpi=kpi.model_dump(mode="json"),
                finalized_by=by.subject,
                finalized_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    if moved.rowcount != 1:
        raise InvalidTransition(f"The {stage} evaluation is already finalized.", code="evaluation_finalized")
    await contracts_service.record_lifecycle(
        session,
        contract,
        "evaluation_finalized",
        by=by,
        at=now,
        details={"stage": str(stage), "combined_score": combined / 100, "weights": weights},
    )
    threshold = settings.sanction_score_threshold
    if stage == EvaluationStage.final and combined < threshold * 100:
        await sanctions_service.impose(
            session,
            provider_id=contract.provider_id,
            contract_id=contract.id,
            cause=SanctionCause.final_score_below_threshold,
            reason=f"终期评估得分{combined / 100:g}，低于{threshold}分",
            rounds=settings.sanction_rounds,
            by=by,
            now=now,
        )
    return await view(session, contract, await _existing(session, contract, stage))


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.Evaluation], int]:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    condition = ContractEvaluation.contract_id == contract.id
    query = select(ContractEvaluation).where(condition).order_by(ContractEvaluation.opened_at, ContractEvaluation.id)
    rows, total = await fetch_page(session, query, limit=limit, offset=offset)
    return [await view(session, contract, row) for row in rows], total


async def get(
    session: AsyncSession, contract_id: uuid.UUID, stage: EvaluationStage, *, by: Principal
) -> schemas.Evaluation:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    return await view(session, contract, await _existing(session, contract, stage))


async def apply_score(session: AsyncSession, event: ScoreUpdated, *, at: datetime) -> None:
    """Keep the provider's satisfaction; ``rating_count`` only grows, so an older score arriving late is ignored."""
    if event.subject_kind != "provider":
        return
    found = await session.get(ProviderSatisfaction, event.provider_id, with_for_update=True)
    score_milli = round(event.score * 1000)
    if found is None:
        session.add(
            ProviderSatisfaction(
                provider_id=event.provider_id, score_milli=score_milli, rating_count=event.rating_count, updated_at=at
            )
        )
    elif event.rating_count >= found.rating_count:
        found.score_milli, found.rating_count, found.updated_at = score_milli, event.rating_count, at
    await session.flush()
