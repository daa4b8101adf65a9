"""A public document as procurement lists it: the same shape for a call's and a notice's."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, Field


class PublicDocument(BaseModel):
    """A document published with its record (a call's terms, a notice's attachment, an acceptance report): what a
    list of them shows."""

    id: uuid.UUID
    filename: str
    media_type: str
    size: int
    sha256: str = Field(description="The content's SHA-256, to check a download against.")
    uploaded_at: datetime
    url: str = Field(description="Its public URL (from the configured public address), as OCDS publishes it.")

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Self:
        """From a row of ``Documents.public_documents`` (its ``url`` included)."""
        return cls(
            id=row["id"],
            filename=row["filename"],
            media_type=row["media_type"],
            size=row["size"],
            sha256=row["sha256"],
            uploaded_at=row["created_at"],
            url=row["url"],
        )
