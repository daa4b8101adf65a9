from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PhoneUnlock(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=3, max_length=32, examples=["138 1234 5678"])


class AccountLockout(BaseModel):
    """An account's failed passwords as the gateway counts them (gateway/lockout/service.py)."""

    locked_until: datetime | None = Field(description="While in the future, every sign-in is refused")
    failures: int = Field(description="Wrong passwords in the current window")
    last_failure_at: datetime | None
    lockouts: int = Field(description="Lockouts so far")
    unlocked_at: datetime | None = Field(description="When a person last ended its lockout")
    unlocked_by: str | None = Field(description="Who did (their token's subject)")
