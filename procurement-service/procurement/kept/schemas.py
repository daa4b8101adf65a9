from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from procurement.kept.models import KeptState


class KeptBooking(BaseModel):
    """A resident's booking that keeps the ended contract's subsidy: the contract owes its delivery."""

    model_config = ConfigDict(from_attributes=True)

    booking_id: uuid.UUID
    offering_id: uuid.UUID
    value_fen: int = Field(description="What the contract pays for its delivery: the offering's unit price.")
    state: KeptState = Field(
        description="open (not delivered yet: its value stays committed), delivered (paid by a settlement once "
        "its deliverable counts), or lapsed (cancelled, rejected, expired, a no-show or missed: nothing owed)."
    )
    closed_at: datetime | None
    disbursement_id: uuid.UUID | None = Field(description="The settlement that paid it.")
