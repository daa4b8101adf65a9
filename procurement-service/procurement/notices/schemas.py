from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from procurement.documents.schemas import PublicDocument
from procurement.notices.models import ObjectionStatus

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class NoticePublish(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_working_days: int | None = Field(
        default=None, strict=True, ge=1, le=30, description="Working days objections are taken; default 5."
    )


class NoticeProject(BaseModel):
    application_id: uuid.UUID
    provider_id: uuid.UUID
    provider_name: str | None
    title: str
    amount_fen: int
    score: float | None
    rank: int | None


class PublicObjection(BaseModel):
    """An objection as the public sees it: who filed it is masked."""

    id: uuid.UUID
    application_id: uuid.UUID | None
    filer: str
    content: str
    status: ObjectionStatus
    filed_at: datetime
    answer: str | None
    answered_at: datetime | None


class NoticeDocument(PublicDocument):
    """A document published with a notice (公示附件: the approval, the projects' details): public as the notice is,
    at the URL OCDS publishes."""


class Notice(BaseModel):
    id: uuid.UUID
    call_id: uuid.UUID
    kind: str
    title: str
    projects: list[NoticeProject]
    published_at: datetime
    period_working_days: int
    objection_deadline: date
    objections: list[PublicObjection]
    documents: list[NoticeDocument] = Field(description="Its documents, oldest first, each at its public URL.")


class ObjectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filer_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    filer_phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 -]{5,20}$")] | None = None
    application_id: uuid.UUID | None = Field(default=None, description="The project objected to, if one.")
    content: Text


class ObjectionAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Text


class Objection(PublicObjection):
    """An objection as the officials who answer it see it."""

    filer_name: str
    filer_phone: str | None
