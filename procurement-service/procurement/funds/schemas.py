from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.contracts.schemas import MAX_FEN

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OrganizationId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
]


class FundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="e.g. 2026年社区服务专项资金")
    owner_id: OrganizationId = Field(
        description="The organization that owns the budget and pays from it, e.g. its Unified Social Credit Code."
    )
    owner_name: Name = Field(description="Its registered name, the payer of the fund's disbursements.")
    year: int = Field(strict=True, ge=2000, le=2100)
    budget_fen: int = Field(strict=True, gt=0, le=MAX_FEN, description="The fund's budget in fen.")


class Fund(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    owner_id: str
    owner_name: str
    year: int
    budget_fen: int
    committed_fen: int = Field(
        description="Committed to awards (approved applications and direct awards) and their supplements, less "
        "what settlements took off and terminations gave back; spent included."
    )
    spent_fen: int = Field(description="Paid out in disbursements.")
    outstanding_fen: int = Field(description="Committed, not yet paid: committed_fen - spent_fen.")
    remaining_fen: int = Field(description="Not committed: budget_fen - committed_fen.")
    created_at: datetime
    updated_at: datetime
