import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from feedback.communities import CommunityCode
from feedback.needs.models import NeedKind, NeedSource

# Codes like the registry's taxonomy ("elderly.meal_table"); community codes are in feedback.communities.
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
MAX_TEXT = 2000


class NeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: NeedKind = NeedKind.need
    category_code: Code
    community_code: CommunityCode | None = None
    target_group: Code | None = None
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
    # An operator names the resident who calls (optional: a need may be recorded without a name).
    resident_id: uuid.UUID | None = None


class Need(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    group_key: str
    kind: NeedKind
    category_code: str
    community_code: str | None
    street_code: str | None
    target_group: str | None
    text: str
    source: NeedSource
    resident_id: uuid.UUID | None
    created_at: datetime


class NeedSubmittedView(Need):
    group_count: int


class NeedGroup(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    group_key: str
    category_code: str
    community_code: str | None
    count: int
    first_at: datetime
    last_at: datetime
