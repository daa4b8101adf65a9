"""Every SQL statement about disbursements (资金拨付): the payments recorded against contracts' vouchers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from procurement.disbursements.models import Disbursement
from service_kit.pagination import fetch_page


async def voucher_recorded(session: AsyncSession, voucher_number: str) -> bool:
    found = await session.scalar(select(Disbursement.id).where(Disbursement.voucher_number == voucher_number))
    return found is not None


async def add_payment(session: AsyncSession, row: Disbursement) -> bool:
    """Write the payment; False when its voucher number was recorded meanwhile (the table's unique key)."""
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


async def last_seq(session: AsyncSession, contract_id: uuid.UUID) -> int:
    """The number of the contract's last payment (0 before the first)."""
    found = await session.scalar(
        select(func.max(Disbursement.installment_seq)).where(Disbursement.contract_id == contract_id)
    )
    return int(found or 0)


async def list_page(
    session: AsyncSession, contract_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[Disbursement], int]:
    """A page of the contract's payments, in the order they were made."""
    query = select(Disbursement).where(Disbursement.contract_id == contract_id).order_by(Disbursement.installment_seq)
    return await fetch_page(session, query, limit=limit, offset=offset)
