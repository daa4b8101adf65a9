"""Funds and their budgets: no award or supplement may commit more than a fund holds, however many officials
approve at once, and nothing is paid from it beyond what it committed.

A fund has no street: it is the district's budget, which every street's awards draw on. A street-scoped official
reads the funds (their figures and audit trail) like any official, and opens none (403 ``district_only``); a
fund's money moves only through the awards, supplements, payments and terminations of contracts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from procurement.audit import service as audit
from procurement.funds import repository, schemas
from procurement.funds.models import Fund
from procurement.funds.repository import YearTotals
from service_kit.auth import Principal
from service_kit.errors import Conflict, NotFound


def view(fund: Fund) -> schemas.Fund:
    return schemas.Fund(
        id=fund.id,
        name=fund.name,
        owner_id=fund.owner_id,
        owner_name=fund.owner_name,
        year=fund.year,
        budget_fen=fund.budget_fen,
        committed_fen=fund.committed_fen,
        spent_fen=fund.spent_fen,
        outstanding_fen=fund.committed_fen - fund.spent_fen,
        remaining_fen=fund.budget_fen - fund.committed_fen,
        created_at=fund.created_at,
        updated_at=fund.updated_at,
    )


async def create(session: AsyncSession, data: schemas.FundCreate, *, by: Principal, now: datetime) -> schemas.Fund:
    fund = Fund(
        name=data.name,
        owner_id=data.owner_id,
        owner_name=data.owner_name,
        year=data.year,
        budget_fen=data.budget_fen,
        committed_fen=0,
        spent_fen=0,
        created_by=by.subject,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, fund)
    await audit.record(
        session, kind="fund", subject_id=fund.id, action="created", by=by, at=now, details=data.model_dump()
    )
    return view(fund)


async def get_fund(session: AsyncSession, fund_id: uuid.UUID) -> Fund:
    fund = await repository.get(session, fund_id)
    if fund is None:
        raise NotFound("No such fund.", code="fund_not_found")
    return fund


async def get(session: AsyncSession, fund_id: uuid.UUID) -> schemas.Fund:
    return view(await get_fund(session, fund_id))


async def list_page(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[schemas.Fund], int]:
    rows, total = await repository.list_page(session, limit=limit, offset=offset)
    return [view(f) for f in rows], total


async def commit(
    session: AsyncSession,
    fund_id: uuid.UUID,
    amount_fen: int,
    *,
    by: Principal,
    at: datetime,
    details: dict[str, Any],
) -> None:
    """Commit ``amount_fen`` of the fund to an award (an approved application or direct award) or a supplement,
    or refuse when it would exceed the budget.

    One guarded UPDATE: of two approvals racing for the last of the budget, only one matches the WHERE clause.
    """
    if not await repository.commit(session, fund_id, amount_fen, at=at):
        fund = await get_fund(session, fund_id)
        raise Conflict(
            f"Approving {amount_fen} fen would commit more than the fund's budget: "
            f"{fund.committed_fen} of {fund.budget_fen} fen are already committed.",
            code="budget_exceeded",
            budget_fen=fund.budget_fen,
            committed_fen=fund.committed_fen,
            remaining_fen=fund.budget_fen - fund.committed_fen,
        )
    await audit.record(
        session,
        kind="fund",
        subject_id=fund_id,
        action="committed",
        by=by,
        at=at,
        details={"amount_fen": amount_fen, **details},
    )


async def release(
    session: AsyncSession, fund_id: uuid.UUID, amount_fen: int, *, by: Principal, at: datetime, details: dict[str, Any]
) -> None:
    """Give back to the fund what a contract will no longer be paid: the unpaid rest of a terminated one, or what
    a settlement amendment took off its amount."""
    if not await repository.release(session, fund_id, amount_fen, at=at):
        raise Conflict("The fund has less outstanding than would be released.", code="fund_inconsistent")
    await audit.record(
        session,
        kind="fund",
        subject_id=fund_id,
        action="released",
        by=by,
        at=at,
        details={"amount_fen": amount_fen, **details},
    )


async def spend(
    session: AsyncSession, fund_id: uuid.UUID, amount_fen: int, *, by: Principal, at: datetime, details: dict[str, Any]
) -> None:
    """Pay ``amount_fen`` of what the fund committed; never more than it committed."""
    if not await repository.spend(session, fund_id, amount_fen, at=at):
        fund = await get_fund(session, fund_id)
        raise Conflict(
            "The payment exceeds what the fund has committed and not yet paid.",
            code="fund_overspent",
            outstanding_fen=fund.committed_fen - fund.spent_fen,
        )
    await audit.record(
        session,
        kind="fund",
        subject_id=fund_id,
        action="spent",
        by=by,
        at=at,
        details={"amount_fen": amount_fen, **details},
    )


async def totals_by_year(session: AsyncSession) -> list[YearTotals]:
    """Every budget year's funds summed (how many, their budgets, what they committed and spent), earliest first."""
    return await repository.totals_by_year(session)


async def owners_of(session: AsyncSession, fund_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The owner (who pays from it) of each of the funds, by fund."""
    return await repository.owners(session, fund_ids)
