"""What officials and auditors read of the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntry(BaseModel):
    """One recorded change: who did what to which record, when, and why."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    subject_kind: str
    subject_id: uuid.UUID
    action: str
    actor_subject: str
    actor_name: str | None
    actor_roles: list[str]
    occurred_at: datetime
    details: dict[str, Any]
    reason: str | None
