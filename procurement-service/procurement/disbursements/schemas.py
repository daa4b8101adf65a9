from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.contracts.models import InstallmentCondition
from procurement.contracts.schemas import MAX_FEN

Voucher = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z\-_/.]+$")
]
Party = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class DisbursementCreate(BaseModel):
    """Pays the next unpaid installment of the plan, once its condition is met. On a terminated contract: a
    settlement of its residents' kept bookings delivered since and not yet paid (condition
    ``kept_bookings_delivered``, numbered after the plan's installments)."""

    model_config = ConfigDict(extra="forbid")

    voucher_number: Voucher = Field(description="The accounting voucher number (记账凭证号), unique in the books.")
    payer: Party | None = Field(
        default=None,
        description="The payer on the voucher: the fund's owner (its owner_name), which it defaults to; "
        "another payer is refused (422 payer_not_fund_owner).",
    )
    payee: Party | None = Field(
        default=None,
        description="The payee on the voucher: the contracted provider's account, held in its registered name "
        "(as the registry verified it), which it defaults to; another payee, such as a person's account, is "
        "refused (422 payee_not_provider).",
    )
    amount_fen: int | None = Field(
        default=None,
        strict=True,
        gt=0,
        le=MAX_FEN,
        description="The amount on the voucher: the installment's amount as the plan now stands (a settlement "
        "amendment may have lowered it), which it defaults to; another amount is refused (422 amount_not_due).",
    )
    paid_on: date = Field(
        description="The day paid: not in the future, not before the contract was signed nor before the "
        "installment's condition was met, and within the term, except for the settlement after acceptance."
    )


class Disbursement(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    installment_seq: int
    condition: InstallmentCondition | Literal["kept_bookings_delivered"]
    amount_fen: int
    voucher_number: str
    payer: str
    payer_id: str | None = Field(description="The paying organization: the fund's owner.")
    payee: str
    payee_id: uuid.UUID = Field(description="The paid organization: the contracted provider.")
    paid_on: date
    fund_id: uuid.UUID | None
    recorded_by: str
    recorded_at: datetime
