"""Every SQL statement about contracts' evaluations: the evaluations and their scores, the assigned evaluators,
the residents' ratings and satisfaction callbacks, and providers' satisfaction as feedback-service reports it."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.deliverables import repository as deliverables_repository
from procurement.deliverables.models import Deliverable
from procurement.evaluations.models import (
    BookingRating,
    ContractEvaluation,
    ContractEvaluator,
    EvaluationStage,
    EvaluationStatus,
    ProviderSatisfaction,
    SatisfactionCallback,
)
from procurement.guarded import update_if
from service_kit.pagination import fetch_page

Row = ContractEvaluation | ContractEvaluator | SatisfactionCallback | BookingRating | ProviderSatisfaction


async def add(session: AsyncSession, row: Row) -> None:
    session.add(row)
    await session.flush()


async def add_unique(session: AsyncSession, row: ContractEvaluation | ContractEvaluator | SatisfactionCallback) -> bool:
    """Write the row; False when a racing transaction wrote its twin first (the table's unique key refused it)."""
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


async def flush(session: AsyncSession) -> None:
    await session.flush()


# ---------------------------------------------------------------- evaluations


async def find(session: AsyncSession, contract_id: uuid.UUID, stage: EvaluationStage) -> ContractEvaluation | None:
    return await session.scalar(
        select(ContractEvaluation)
        .where(ContractEvaluation.contract_id == contract_id, ContractEvaluation.stage == stage)
        .execution_options(populate_existing=True)
    )


async def update_open(session: AsyncSession, evaluation_id: uuid.UUID, *conditions: Any, **values: Any) -> bool:
    """One guarded UPDATE: whether the evaluation was still open and met ``conditions`` (and now has ``values``)."""
    return await update_if(
        session,
        ContractEvaluation,
        ContractEvaluation.id == evaluation_id,
        ContractEvaluation.status == EvaluationStatus.open,
        *conditions,
        keep_session=True,
        **values,
    )


async def score_once(session: AsyncSession, evaluation_id: uuid.UUID, party: str, **values: Any) -> bool:
    """Record the party's score (``values``), if the evaluation is open and the party has not scored it yet."""
    unscored = getattr(ContractEvaluation, f"{party}_score_centi").is_(None)
    return await update_open(session, evaluation_id, unscored, **values)


async def evaluations_page(
    session: AsyncSession, contract_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[ContractEvaluation], int]:
    query = (
        select(ContractEvaluation)
        .where(ContractEvaluation.contract_id == contract_id)
        .order_by(ContractEvaluation.opened_at, ContractEvaluation.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


# ---------------------------------------------------------------- ratings and satisfaction


async def ratings_of(session: AsyncSession, contract_id: uuid.UUID) -> tuple[int, float | None]:
    """How many of the contract's counted funded bookings were rated, and their mean stars (None without any)."""
    row = (
        await session.execute(
            select(func.count(), func.avg(BookingRating.stars))
            .select_from(BookingRating)
            .join(Deliverable, Deliverable.booking_id == BookingRating.booking_id)
            .where(Deliverable.contract_id == contract_id, deliverables_repository.counted())
        )
    ).one()
    count = int(row[0] or 0)
    return count, (float(row[1]) if count else None)


async def rating(session: AsyncSession, booking_id: uuid.UUID) -> BookingRating | None:
    return await session.get(BookingRating, booking_id)


async def satisfaction(
    session: AsyncSession, provider_id: uuid.UUID, *, for_update: bool = False
) -> ProviderSatisfaction | None:
    """The provider's satisfaction; ``for_update`` locks it for the rest of the transaction."""
    if for_update:
        return await session.get(ProviderSatisfaction, provider_id, with_for_update=True)
    return await session.get(ProviderSatisfaction, provider_id, populate_existing=True)


# ---------------------------------------------------------------- evaluators


async def evaluator_of(session: AsyncSession, contract_id: uuid.UUID, subject: str) -> ContractEvaluator | None:
    return await session.scalar(
        select(ContractEvaluator)
        .where(ContractEvaluator.contract_id == contract_id, ContractEvaluator.evaluator_subject == subject)
        .execution_options(populate_existing=True)
    )


async def declare_once(session: AsyncSession, assignment_id: uuid.UUID, **values: Any) -> bool:
    """Record the evaluator's declaration (``values``), if they have not declared yet."""
    return await update_if(
        session,
        ContractEvaluator,
        ContractEvaluator.id == assignment_id,
        ContractEvaluator.conflict.is_(None),
        keep_session=True,
        **values,
    )


async def evaluators_page(
    session: AsyncSession, contract_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[ContractEvaluator], int]:
    query = (
        select(ContractEvaluator)
        .where(ContractEvaluator.contract_id == contract_id)
        .order_by(ContractEvaluator.created_at, ContractEvaluator.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


# ---------------------------------------------------------------- satisfaction callbacks


async def recorded_callbacks(session: AsyncSession, contract_id: uuid.UUID) -> list[tuple[bool | None, bool | None]]:
    """``(reached, satisfied)`` of each of the contract's callbacks whose result is recorded."""
    rows = await session.execute(
        select(SatisfactionCallback.reached, SatisfactionCallback.satisfied).where(
            SatisfactionCallback.contract_id == contract_id, SatisfactionCallback.recorded_at.is_not(None)
        )
    )
    return [(reached, satisfied) for reached, satisfied in rows.all()]


async def draw_uncalled(
    session: AsyncSession, contract_id: uuid.UUID, *, skipping: Collection[uuid.UUID]
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """``(booking, offering)`` of one of the contract's counted deliveries, at random, whose resident has not been
    called back and that is not in ``skipping``; None when there is none left."""
    already = select(SatisfactionCallback.booking_id).where(SatisfactionCallback.contract_id == contract_id)
    drawn = (
        await session.execute(
            select(Deliverable.booking_id, Deliverable.offering_id)
            .where(
                Deliverable.contract_id == contract_id,
                deliverables_repository.counted(),  # verified: no doubt raised, or accepted by an official
                Deliverable.booking_id.not_in(already),
                Deliverable.booking_id.not_in(skipping),
            )
            .order_by(func.random())
            .limit(1)
        )
    ).first()
    return (drawn[0], drawn[1]) if drawn is not None else None


async def callback(session: AsyncSession, callback_id: uuid.UUID) -> SatisfactionCallback | None:
    return await session.get(SatisfactionCallback, callback_id)


async def record_once(session: AsyncSession, callback_id: uuid.UUID, **values: Any) -> bool:
    """Record the callback's result (``values``), if none is recorded yet."""
    return await update_if(
        session,
        SatisfactionCallback,
        SatisfactionCallback.id == callback_id,
        SatisfactionCallback.recorded_at.is_(None),
        keep_session=True,
        **values,
    )


async def refresh(session: AsyncSession, row: SatisfactionCallback) -> None:
    await session.refresh(row)


async def callbacks_page(
    session: AsyncSession, contract_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[SatisfactionCallback], int]:
    query = (
        select(SatisfactionCallback)
        .where(SatisfactionCallback.contract_id == contract_id)
        .order_by(SatisfactionCallback.drawn_at, SatisfactionCallback.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)
