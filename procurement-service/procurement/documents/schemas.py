from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, Field


class PublicDocument(BaseModel):
    """A document published with its record (a call's terms, an acceptance report): what a list of them shows."""

    id: uuid.UUID
    filename: str
    media_type: str
    size: int
    sha256: str = Field(description="The content's SHA-256, to check a download against.")
    uploaded_at: datetime
    url: str

    @classmethod
    def of(cls, row: dict[str, Any]) -> Self:
        """From a row of ``Documents.public_documents`` (its ``created_at`` is when it was uploaded)."""
        return cls(
            id=row["id"],
            filename=row["filename"],
            media_type=row["media_type"],
            size=row["size"],
            sha256=row["sha256"],
            uploaded_at=row["created_at"],
            url=row["url"],
        )
