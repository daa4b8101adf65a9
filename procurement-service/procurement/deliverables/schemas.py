from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class Deliverable(BaseModel):
    """One completed booking of a funded offering, counted on the contract that pays for it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contract_id: uuid.UUID
    booking_id: uuid.UUID
    offering_id: uuid.UUID
    unit_price_fen: int
    delivered_at: datetime
    created_at: datetime
