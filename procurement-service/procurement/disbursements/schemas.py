from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.contracts.models import InstallmentCondition

Voucher = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z\-_/.]+$")
]
Party = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class DisbursementCreate(BaseModel):
    """Pays the next unpaid installment of the plan, once its condition is met."""

    model_config = ConfigDict(extra="forbid")

    voucher_number: Voucher = Field(description="The accounting voucher number (记账凭证号).")
    payer: Party = Field(description="e.g. 房山区社会建设工作办公室")
    payee: Party = Field(description="The provider's account holder.")
    paid_on: date


class Disbursement(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    installment_seq: int
    condition: InstallmentCondition
    amount_fen: int
    voucher_number: str
    payer: str
    payee: str
    paid_on: date
    fund_id: uuid.UUID | None
    recorded_by: str
    recorded_at: datetime
