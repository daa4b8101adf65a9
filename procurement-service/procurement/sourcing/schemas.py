"""What an official sends to turn an approved, publicly announced application into a contract."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from procurement.contracts.schemas import FundedOfferingCreate, InstallmentCreate


class ContractFromApplication(BaseModel):
    """The terms a contract adds to an approved application; title, provider and amount come from it."""

    model_config = ConfigDict(extra="forbid")

    start_date: date
    end_date: date
    stable_service: bool = Field(default=False, strict=True)
    funded_offerings: list[FundedOfferingCreate] = Field(min_length=1, max_length=100)
    installments: list[InstallmentCreate] | None = Field(
        default=None, min_length=1, max_length=12, description="The payment plan; see the contract's."
    )
