"""Every SQL statement about funds: their rows and the guarded changes to what they committed and spent."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.funds.models import Fund
from procurement.guarded import update_if
from service_kit.pagination import fetch_page


@dataclass(frozen=True)
class YearTotals:
    """The funds of one budget year, summed."""

    year: int
    funds: int
    budget_fen: int
    committed_fen: int
    spent_fen: int


async def add(session: AsyncSession, fund: Fund) -> None:
    session.add(fund)
    await session.flush()


async def get(session: AsyncSession, fund_id: uuid.UUID) -> Fund | None:
    return await session.get(Fund, fund_id, populate_existing=True)


async def list_page(session: AsyncSession, *, limit: int, offset: int) -> tuple[Sequence[Fund], int]:
    """A page of funds, the latest year (then the latest opened) first."""
    query = select(Fund).order_by(Fund.year.desc(), Fund.created_at.desc(), Fund.id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def _guarded_change(session: AsyncSession, fund_id: uuid.UUID, condition: Any, **values: Any) -> bool:
    """One guarded UPDATE: whether the fund met ``condition`` (and now has ``values``). Of two changes racing for
    the last of a budget, only one matches the WHERE clause."""
    return await update_if(session, Fund, Fund.id == fund_id, condition, **values)


async def commit(session: AsyncSession, fund_id: uuid.UUID, amount_fen: int, *, at: datetime) -> bool:
    """Commit ``amount_fen`` more, if the fund's budget holds it."""
    return await _guarded_change(
        session,
        fund_id,
        Fund.committed_fen + amount_fen <= Fund.budget_fen,
        committed_fen=Fund.committed_fen + amount_fen,
        updated_at=at,
    )


async def release(session: AsyncSession, fund_id: uuid.UUID, amount_fen: int, *, at: datetime) -> bool:
    """Commit ``amount_fen`` less, if the fund still commits at least what it spent."""
    return await _guarded_change(
        session,
        fund_id,
        Fund.committed_fen - amount_fen >= Fund.spent_fen,
        committed_fen=Fund.committed_fen - amount_fen,
        updated_at=at,
    )


async def spend(session: AsyncSession, fund_id: uuid.UUID, amount_fen: int, *, at: datetime) -> bool:
    """Spend ``amount_fen`` more, if the fund committed that much and has not paid it yet."""
    return await _guarded_change(
        session,
        fund_id,
        Fund.spent_fen + amount_fen <= Fund.committed_fen,
        spent_fen=Fund.spent_fen + amount_fen,
        updated_at=at,
    )


async def owners(session: AsyncSession, fund_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await session.execute(select(Fund.id, Fund.owner_id).where(Fund.id.in_(list(fund_ids))))
    return {fund_id: owner_id for fund_id, owner_id in rows.all()}


async def totals_by_year(session: AsyncSession) -> list[YearTotals]:
    """Every budget year's funds, summed, the earliest year first."""
    rows = await session.execute(
        select(
            Fund.year, func.count(), func.sum(Fund.budget_fen), func.sum(Fund.committed_fen), func.sum(Fund.spent_fen)
        )
        .group_by(Fund.year)
        .order_by(Fund.year)
    )
    return [
        YearTotals(
            year=int(year),
            funds=int(funds),
            budget_fen=int(budget or 0),
            committed_fen=int(committed or 0),
            spent_fen=int(spent or 0),
        )
        for year, funds, budget, committed, spent in rows.all()
    ]
