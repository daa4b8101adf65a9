"""Mid-term and final evaluations (评估): the evaluation decides.

Five parts, each scored 0–100 or explicitly ``missing`` (no data: it keeps its weight and adds nothing, never
re-weighted onto the others): quantity (the contract's verified deliverables against its targets, from the
winning application or the direct award), quality (the recipients of *this* contract: ratings of its funded
bookings and the satisfaction callbacks operators make to a random sample of them), fund use (the value
delivered against what was paid), the purchaser's score and the third-party evaluator's, an evaluator the
official assigned to the contract and who declared no conflict of interest first (the rule expert reviewers
follow). A final result without quantity is ``incomplete``, never passed; a final score below the threshold
sanctions the provider (优胜劣汰). Acceptance and the last installment need KPI attainment at the threshold.

A street-scoped official evaluates their street's contracts only (another's is 404, callbacks included); a final
evaluation whose score would sanction the provider is finalized by a district-wide official, since the sanction
binds the whole district (403 ``district_only``; the evaluation stays open)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.auth import ensure_district_wide, sees_street
from procurement.config import Settings
from procurement.contracts import repository as contracts_repository
from procurement.contracts import service as contracts_service
from procurement.contracts.models import Contract, ContractStatus
from procurement.deliverables import repository as deliverables_repository
from procurement.evaluations import repository, schemas
from procurement.evaluations.models import (
    BookingRating,
    ContractEvaluation,
    ContractEvaluator,
    EvaluationStage,
    EvaluationStatus,
    ProviderSatisfaction,
    SatisfactionCallback,
)
from procurement.providers.service import field_error
from procurement.reviews import schemas as reviews_schemas
from procurement.reviews import service as reviews_service
from procurement.sanctions import service as sanctions_service
from procurement.sanctions.models import SanctionCause
from service_kit.auth import Principal, Role
from service_kit.errors import Conflict, Forbidden, InvalidTransition, NotFound
from service_kit.events.contracts import RatingSubmitted, ScoreUpdated

# ---------------------------------------------------------------- quantity: verified deliverables against targets


async def quantity_attainment(session: AsyncSession, contract: Contract) -> schemas.KpiAttainment | None:
    """The contract's measured targets against its verified deliverables, or None when it has no measured target.

    A target counts at most what the contract (as amended) still funds of its offering: a bilateral settlement
    that lowers a quota to what was delivered settles the promise too."""
    quotas = {item.offering_id: item.quota for item in contract.funded_offerings}
    targets: dict[uuid.UUID, int] = {}
    for target in contract.targets:
        if target.offering_id is not None and target.quantity is not None:
            promised = min(target.quantity, quotas.get(target.offering_id, 0))
            if promised > 0:
                targets[target.offering_id] = targets.get(target.offering_id, 0) + promised
    if not targets:
        return None
    totals = await deliverables_repository.totals_by_offering(session, [contract.id])
    offerings = [
        schemas.OfferingAttainment(
            offering_id=offering_id, promised=promised, delivered=totals.get((contract.id, offering_id), (0, 0))[0]
        )
        for offering_id, promised in targets.items()
    ]
    promised_total = sum(o.promised for o in offerings)
    # Delivering more of one offering does not make up for less of another.
    attained = sum(min(o.delivered, o.promised) for o in offerings)
    return schemas.KpiAttainment(
        promised=promised_total,
        delivered=sum(o.delivered for o in offerings),
        attainment_percent=round(100 * attained / promised_total, 2),
        offerings=offerings,
    )


async def kpi_attainment(session: AsyncSession, contract: Contract) -> schemas.KpiAttainment:
    found = await quantity_attainment(session, contract)
    return found or schemas.KpiAttainment(promised=0, delivered=0, attainment_percent=0.0, offerings=[])


async def ensure_attainment(session: AsyncSession, contract: Contract, settings: Settings, *, doing: str) -> None:
    """Acceptance and the last installment need the KPI attainment at the configured threshold. Below it the
    official is told the way forward: a bilateral settlement (an amendment lowering the funded quotas, and with
    them the targets, to what was delivered, and the amount with them), or the sanction process (the acceptance
    recorded as failed)."""
    threshold = settings.acceptance_attainment_threshold
    ways = {
        "ways_forward": ["settlement_amendment", "sanction"],
        "amendments_path": f"/api/v1/contracts/{contract.id}/amendments",
        "threshold_percent": threshold,
    }
    attainment = await quantity_attainment(session, contract)
    if attainment is None:
        raise Conflict(
            f"Cannot {doing}: the contract has no quantity target to measure its delivery against. Settle its "
            "targets bilaterally (an amendment) or record the acceptance as failed (the sanction process).",
            code="attainment_missing",
            **ways,
        )
    if attainment.attainment_percent < threshold:
        raise Conflict(
            f"Cannot {doing}: {attainment.delivered} of {attainment.promised} promised services were delivered "
            f"and verified ({attainment.attainment_percent:g}% attainment), below the {threshold}% required. "
            "The way forward is a bilateral settlement (an amendment lowering the funded quotas to what was "
            "delivered and the amount with them, reduction_fen, approved by the provider) or the sanction process "
            "(record the acceptance as failed).",
            code="attainment_below_threshold",
            attainment_percent=attainment.attainment_percent,
            delivered=attainment.delivered,
            promised=attainment.promised,
            **ways,
        )


# ---------------------------------------------------------------- quality: this contract's recipients


async def _ratings_of(session: AsyncSession, contract_id: uuid.UUID) -> tuple[int, float | None]:
    """How many of the contract's counted (verified, non-suspect) funded bookings were rated, and their mean stars."""
    return await repository.ratings_of(session, contract_id)


async def _callbacks_of(session: AsyncSession, contract_id: uuid.UUID) -> tuple[int, int, int]:
    """The contract's recorded callbacks: (recorded, residents reached, of whom satisfied)."""
    rows = await repository.recorded_callbacks(session, contract_id)
    reached = [satisfied for was_reached, satisfied in rows if was_reached]
    return len(rows), len(reached), sum(1 for satisfied in reached if satisfied)


# ---------------------------------------------------------------- the parts and their combination


def _part(score: float | None, weight: int, basis: dict[str, float | int | None]) -> schemas.Part:
    return schemas.Part(
        state="scored" if score is not None else "missing",
        score=round(score, 2) if score is not None else None,
        weight=weight,
        basis=basis,
    )


async def compute_parts(
    session: AsyncSession, contract: Contract, evaluation: ContractEvaluation, settings: Settings
) -> tuple[schemas.Parts, schemas.KpiAttainment | None]:
    attainment = await quantity_attainment(session, contract)
    quantity = _part(
        min(100.0, attainment.attainment_percent) if attainment is not None else None,
        settings.evaluation_weight_quantity,
        {
            "promised": attainment.promised if attainment else None,
            "delivered": attainment.delivered if attainment else None,
            "attainment_percent": attainment.attainment_percent if attainment else None,
        },
    )
    rating_count, average_stars = await _ratings_of(session, contract.id)
    recorded, reached, satisfied = await _callbacks_of(session, contract.id)
    sub_scores = []
    if average_stars is not None:
        sub_scores.append(average_stars * 20)  # 5 stars are 100 points
    if reached:
        sub_scores.append(100 * satisfied / reached)
    quality = _part(
        sum(sub_scores) / len(sub_scores) if sub_scores else None,
        settings.evaluation_weight_recipients,
        {
            "rating_count": rating_count,
            "average_stars": round(average_stars, 2) if average_stars is not None else None,
            "callbacks_recorded": recorded,
            "callbacks_reached": reached,
            "callbacks_satisfied": satisfied,
        },
    )
    totals = await deliverables_repository.totals_by_offering(session, [contract.id])
    delivered_value = sum(value for (cid, _), (_, value) in totals.items() if cid == contract.id)
    paid = contract.disbursed_fen
    fund_use = _part(
        min(100.0, 100 * delivered_value / paid) if paid > 0 else None,
        settings.evaluation_weight_fund_use,
        {"paid_fen": paid, "delivered_value_fen": delivered_value},
    )
    purchaser = _part(
        evaluation.purchaser_score_centi / 100 if evaluation.purchaser_score_centi is not None else None,
        settings.evaluation_weight_purchaser,
        {},
    )
    third_party = _part(
        evaluation.third_party_score_centi / 100 if evaluation.third_party_score_centi is not None else None,
        settings.evaluation_weight_third_party,
        {},
    )
    parts = schemas.Parts(
        quantity=quantity, quality=quality, fund_use=fund_use, purchaser=purchaser, third_party=third_party
    )
    return parts, attainment


def missing_parts(parts: schemas.Parts) -> list[str]:
    return [name for name, part in parts if isinstance(part, schemas.Part) and part.state == "missing"]


def combine(parts: schemas.Parts) -> int:
    """The weighted score in hundredths of a point: each part's score × its weight (the weights sum to 100); a
    missing part adds nothing."""
    total = sum(part.weight * (part.score or 0.0) for _, part in parts if isinstance(part, schemas.Part))
    return round(total)


def conclude(parts: schemas.Parts, combined_centi: int, settings: Settings) -> schemas.EvaluationResult:
    if parts.quantity.state == "missing":
        return "incomplete"
    attained = (parts.quantity.basis.get("attainment_percent") or 0) >= settings.acceptance_attainment_threshold
    passed = attained and combined_centi >= settings.sanction_score_threshold * 100
    return "passed" if passed else "failed"


def _score(centi: int | None) -> float | None:
    return centi / 100 if centi is not None else None


async def view(
    session: AsyncSession, contract: Contract, evaluation: ContractEvaluation, settings: Settings
) -> schemas.Evaluation:
    if evaluation.parts is not None:  # finalized: as it was decided
        parts = schemas.Parts.model_validate(evaluation.parts)
        kpi = schemas.KpiAttainment.model_validate(evaluation.kpi)
    else:
        parts, attainment = await compute_parts(session, contract, evaluation, settings)
        kpi = (
            schemas.KpiAttainment.model_validate(evaluation.kpi)
            if evaluation.kpi is not None  # finalized before the parts were recorded
            else attainment or await kpi_attainment(session, contract)
        )
    weights = schemas.Weights(
        purchaser=parts.purchaser.weight, recipients=parts.quality.weight, third_party=parts.third_party.weight
    )
    finalized_before_parts = evaluation.status == EvaluationStatus.finalized and evaluation.parts is None
    return schemas.Evaluation(
        id=evaluation.id,
        contract_id=evaluation.contract_id,
        stage=evaluation.stage,
        status=evaluation.status,
        purchaser_score=_score(evaluation.purchaser_score_centi),
        purchaser_comment=evaluation.purchaser_comment,
        third_party_score=_score(evaluation.third_party_score_centi),
        third_party_comment=evaluation.third_party_comment,
        recipients_score=_score(evaluation.recipients_score_centi) if finalized_before_parts else parts.quality.score,
        recipients_rating_count=evaluation.recipients_rating_count
        if finalized_before_parts
        else int(parts.quality.basis.get("rating_count") or 0),
        weights=schemas.Weights.model_validate(evaluation.weights) if finalized_before_parts else weights,
        combined_score=_score(evaluation.combined_score_centi),
        kpi=kpi,
        parts=None if finalized_before_parts else parts,
        missing_parts=[] if finalized_before_parts else missing_parts(parts),
        result=cast(schemas.EvaluationResult | None, evaluation.result),
        attainment_threshold=settings.acceptance_attainment_threshold,
        opened_at=evaluation.opened_at,
        finalized_at=evaluation.finalized_at,
    )


async def find(session: AsyncSession, contract_id: uuid.UUID, stage: EvaluationStage) -> ContractEvaluation | None:
    return await repository.find(session, contract_id, stage)


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
    session: AsyncSession,
    contract_id: uuid.UUID,
    data: schemas.EvaluationOpen,
    *,
    by: Principal,
    now: datetime,
    settings: Settings,
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
    if not await repository.add_unique(session, evaluation):
        raise Conflict(f"The {data.stage} evaluation is already open.", code="evaluation_exists")
    await contracts_service.record_lifecycle(
        session, contract, "evaluation_opened", by=by, at=now, details={"stage": str(data.stage)}
    )
    return await view(session, contract, evaluation, settings)


async def _scoring_party(session: AsyncSession, contract: Contract, by: Principal) -> str:
    """Which party ``by`` scores for: an official for the purchaser; an evaluator for the third party, only when
    the official assigned them to this contract and they declared no conflict of interest first."""
    if by.has_any(Role.official, Role.admin):
        return "purchaser"
    if Role.evaluator not in by.roles:
        raise Forbidden(
            "The purchaser and the third-party evaluator score; recipients through their ratings.",
            code="not_an_evaluating_party",
        )
    assignment = await evaluator_of(session, contract.id, by.subject)
    if assignment is None:
        raise Forbidden(
            "You are not assigned to evaluate this contract; an official assigns its evaluators.",
            code="evaluator_not_assigned",
        )
    reviews_service.ensure_may_score(assignment.conflict, linked=_linked(assignment, contract))
    return "third_party"


async def submit_score(
    session: AsyncSession,
    contract_id: uuid.UUID,
    stage: EvaluationStage,
    data: schemas.ScoreSubmit,
    *,
    by: Principal,
    now: datetime,
    settings: Settings,
) -> schemas.Evaluation:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    party = await _scoring_party(session, contract, by)
    evaluation = await _existing(session, contract, stage)
    centi = round(data.score * 100)
    scored = await repository.score_once(
        session,
        evaluation.id,
        party,
        **{f"{party}_score_centi": centi, f"{party}_comment": data.comment, f"{party}_by": by.subject},
        updated_at=now,
    )
    if not scored:
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
    return await view(session, contract, await _existing(session, contract, stage), settings)


async def satisfaction_of(session: AsyncSession, provider_id: uuid.UUID) -> ProviderSatisfaction | None:
    """The provider's satisfaction over everything it delivered (feedback's score), for reports; a contract's
    evaluation reads its own recipients' ratings instead."""
    found = await repository.satisfaction(session, provider_id)
    return found if found is not None and found.rating_count > 0 else None


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
    parts, attainment = await compute_parts(session, contract, evaluation, settings)
    combined = combine(parts)
    threshold = settings.sanction_score_threshold
    sanctions = stage == EvaluationStage.final and combined < threshold * 100
    if sanctions:
        ensure_district_wide(by, f"a final score of {combined / 100:g}, below {threshold}, sanctions the provider and")
    result = conclude(parts, combined, settings)
    kpi = attainment or await kpi_attainment(session, contract)
    weights = {"purchaser": parts.purchaser.weight, "recipients": parts.quality.weight}
    weights["third_party"] = parts.third_party.weight
    finalized = await repository.update_open(
        session,
        evaluation.id,
        status=EvaluationStatus.finalized,
        recipients_score_centi=round(parts.quality.score * 100) if parts.quality.score is not None else None,
        recipients_rating_count=int(parts.quality.basis.get("rating_count") or 0),
        weights=weights,
        combined_score_centi=combined,
        kpi=kpi.model_dump(mode="json"),
        parts=parts.model_dump(mode="json"),
        result=result,
        finalized_by=by.subject,
        finalized_at=now,
        updated_at=now,
    )
    if not finalized:
        raise InvalidTransition(f"The {stage} evaluation is already finalized.", code="evaluation_finalized")
    await contracts_service.record_lifecycle(
        session,
        contract,
        "evaluation_finalized",
        by=by,
        at=now,
        details={
            "stage": str(stage),
            "combined_score": combined / 100,
            "result": result,
            "missing_parts": missing_parts(parts),
        },
    )
    if sanctions:
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
    return await view(session, contract, await _existing(session, contract, stage), settings)


async def final_result(session: AsyncSession, contract_id: uuid.UUID) -> str | None:
    found = await find(session, contract_id, EvaluationStage.final)
    return found.result if found is not None and found.status == EvaluationStatus.finalized else None


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int, settings: Settings
) -> tuple[list[schemas.Evaluation], int]:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    rows, total = await repository.evaluations_page(session, contract.id, limit=limit, offset=offset)
    return [await view(session, contract, row, settings) for row in rows], total


async def get(
    session: AsyncSession, contract_id: uuid.UUID, stage: EvaluationStage, *, by: Principal, settings: Settings
) -> schemas.Evaluation:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    return await view(session, contract, await _existing(session, contract, stage), settings)


# ---------------------------------------------------------------- events: satisfaction and ratings


async def apply_score(session: AsyncSession, event: ScoreUpdated, *, at: datetime) -> None:
    """Keep the provider's satisfaction; ``rating_count`` only grows, so an older score arriving late is ignored."""
    if event.subject_kind != "provider":
        return
    found = await repository.satisfaction(session, event.provider_id, for_update=True)
    score_milli = round(event.score * 1000)
    if found is None:
        await repository.add(
            session,
            ProviderSatisfaction(
                provider_id=event.provider_id, score_milli=score_milli, rating_count=event.rating_count, updated_at=at
            ),
        )
    elif event.rating_count >= found.rating_count:
        found.score_milli, found.rating_count, found.updated_at = score_milli, event.rating_count, at
        await repository.flush(session)


async def apply_rating(session: AsyncSession, event: RatingSubmitted) -> None:
    """Keep a booking's rating (a booking is rated once); the evaluation joins it with the contract's deliverables,
    whichever of the two events arrived first."""
    if await repository.rating(session, event.booking_id) is not None:
        return
    await repository.add(
        session,
        BookingRating(
            booking_id=event.booking_id,
            rating_id=event.rating_id,
            provider_id=event.provider_id,
            stars=event.stars,
            submitted_at=event.submitted_at,
        ),
    )


# ---------------------------------------------------------------- assigned evaluators


def _linked(assignment: ContractEvaluator, contract: Contract) -> bool:
    return str(contract.provider_id) in assignment.linked_provider_ids


async def evaluator_of(session: AsyncSession, contract_id: uuid.UUID, subject: str) -> ContractEvaluator | None:
    return await repository.evaluator_of(session, contract_id, subject)


async def assign_evaluator(
    session: AsyncSession, contract_id: uuid.UUID, data: schemas.EvaluatorAssign, *, by: Principal, now: datetime
) -> ContractEvaluator:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    if contract.status == ContractStatus.terminated:
        raise InvalidTransition(
            "A terminated contract is no longer evaluated.",
            code="contract_not_active",
            current_status=str(contract.status),
        )
    if await evaluator_of(session, contract.id, data.evaluator_subject) is not None:
        raise Conflict("The evaluator is already assigned to this contract.", code="already_assigned")
    assignment = ContractEvaluator(
        contract_id=contract.id,
        evaluator_subject=data.evaluator_subject,
        evaluator_name=data.evaluator_name,
        linked_provider_ids=[str(p) for p in dict.fromkeys(data.linked_provider_ids)],
        assigned_by=by.subject,
        created_at=now,
        updated_at=now,
    )
    # Two officials assigning the same evaluator at once: the second meets the unique (contract, evaluator).
    if not await repository.add_unique(session, assignment):
        raise Conflict("The evaluator is already assigned to this contract.", code="already_assigned")
    await contracts_service.record_lifecycle(
        session, contract, "evaluator_assigned", by=by, at=now, details=data.model_dump(mode="json")
    )
    return assignment


async def declare(
    session: AsyncSession,
    contract_id: uuid.UUID,
    data: reviews_schemas.DeclarationCreate,
    *,
    by: Principal,
    now: datetime,
) -> ContractEvaluator:
    """The assigned evaluator declares, once and before scoring, whether they are linked to the provider."""
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    assignment = await evaluator_of(session, contract.id, by.subject)
    if assignment is None:
        raise Forbidden(
            "You are not assigned to evaluate this contract; an official assigns its evaluators.",
            code="evaluator_not_assigned",
        )
    reviews_service.check_declaration(data.conflict, linked=_linked(assignment, contract))
    declared = await repository.declare_once(
        session, assignment.id, conflict=data.conflict, declaration_note=data.note, declared_at=now, updated_at=now
    )
    if not declared:
        raise Conflict("You have already declared for this contract.", code="already_declared")
    await contracts_service.record_lifecycle(
        session,
        contract,
        "conflict_declared" if data.conflict else "no_conflict_declared",
        by=by,
        at=now,
        reason=data.note,
        details={"evaluator_subject": by.subject},
    )
    found = await evaluator_of(session, contract.id, by.subject)
    assert found is not None
    return found


async def evaluators_page(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.Evaluator], int]:
    contract = await contracts_service.get_readable(session, contract_id, by=by)
    rows, total = await repository.evaluators_page(session, contract.id, limit=limit, offset=offset)
    return [schemas.Evaluator.model_validate(row) for row in rows], total


# ---------------------------------------------------------------- satisfaction callbacks (电话回访)

DRAW_ATTEMPTS = 3


def callback_view(row: SatisfactionCallback) -> schemas.Callback:
    return schemas.Callback(
        id=row.id,
        contract_id=row.contract_id,
        booking_id=row.booking_id,
        offering_id=row.offering_id,
        status="recorded" if row.recorded_at is not None else "pending",
        drawn_by=row.drawn_by,
        drawn_at=row.drawn_at,
        reached=row.reached,
        satisfied=row.satisfied,
        note=row.note,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


async def _contract_for_call_center(session: AsyncSession, contract_id: uuid.UUID, by: Principal) -> Contract:
    """Operators call back the residents of any signed contract; they do not otherwise read contracts. A
    street-scoped official, those of their street's contracts."""
    contract = await contracts_repository.get(session, contract_id)
    if contract is None or contract.signed_at is None or not sees_street(by, contract.street_code):
        raise NotFound("No such contract.", code="contract_not_found")
    return contract


async def draw_callback(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, now: datetime
) -> schemas.Callback:
    """Draw, at random, one of the contract's funded bookings not yet called back: the operator calls its resident.
    Two operators drawing at once never get the same booking (one booking, one callback)."""
    contract = await _contract_for_call_center(session, contract_id, by)
    # Bookings another operator drew meanwhile (their rows may not be visible to this transaction yet).
    taken: set[uuid.UUID] = set()
    for _ in range(DRAW_ATTEMPTS):
        drawn = await repository.draw_uncalled(session, contract.id, skipping=taken)
        if drawn is None:
            raise Conflict(
                "Every funded booking of this contract has been called back, or none was delivered yet.",
                code="nothing_to_call_back",
            )
        callback = SatisfactionCallback(
            contract_id=contract.id,
            booking_id=drawn[0],
            offering_id=drawn[1],
            drawn_by=by.subject,
            drawn_at=now,
            created_at=now,
            updated_at=now,
        )
        if not await repository.add_unique(session, callback):
            taken.add(callback.booking_id)  # another operator drew the same booking meanwhile: draw again
            continue
        await contracts_service.record_lifecycle(
            session, contract, "callback_drawn", by=by, at=now, details={"booking_id": str(callback.booking_id)}
        )
        return callback_view(callback)
    raise Conflict("Other operators are drawing from this contract; draw again.", code="callback_draw_conflict")


async def record_callback(
    session: AsyncSession,
    contract_id: uuid.UUID,
    callback_id: uuid.UUID,
    data: schemas.CallbackResult,
    *,
    by: Principal,
    now: datetime,
) -> schemas.Callback:
    contract = await _contract_for_call_center(session, contract_id, by)
    if data.reached and data.satisfied is None:
        raise field_error(
            "satisfied", "say whether the resident was satisfied with the service.", code="satisfied_missing"
        )
    if not data.reached and data.satisfied is not None:
        raise field_error(
            "satisfied", "a resident who was not reached gave no answer.", code="satisfied_without_reaching"
        )
    found = await repository.callback(session, callback_id)
    if found is None or found.contract_id != contract.id:
        raise NotFound("No such callback.", code="callback_not_found")
    recorded = await repository.record_once(
        session,
        found.id,
        reached=data.reached,
        satisfied=data.satisfied,
        note=data.note,
        recorded_by=by.subject,
        recorded_at=now,
        updated_at=now,
    )
    if not recorded:
        raise Conflict("The result of this callback is already recorded.", code="callback_already_recorded")
    await contracts_service.record_lifecycle(
        session,
        contract,
        "callback_recorded",
        by=by,
        at=now,
        reason=data.note,
        details={"booking_id": str(found.booking_id), "reached": data.reached, "satisfied": data.satisfied},
    )
    await repository.refresh(session, found)
    return callback_view(found)


async def callbacks_page(
    session: AsyncSession, contract_id: uuid.UUID, *, by: Principal, limit: int, offset: int
) -> tuple[list[schemas.Callback], int]:
    contract = await _contract_for_call_center(session, contract_id, by)
    rows, total = await repository.callbacks_page(session, contract.id, limit=limit, offset=offset)
    return [callback_view(row) for row in rows], total
