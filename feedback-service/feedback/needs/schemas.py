import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from feedback.communities import CommunityCode
from feedback.needs.models import NeedKind, NeedSource
from service_kit.events.contracts import NeedStage

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
    resident_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "The resident whose need it is: named by an operator for a caller (optional), and by a resident's helper "
            "(a relative the resident authorised in booking) with their own token, admitted only under an active "
            "grant (404 otherwise)."
        ),
    )


class NeedStep(BaseModel):
    """One step of the need's story, with the words the app shows for it."""

    status: NeedStage
    label: str = Field(description="What the resident reads, e.g. 已进入项目征集：2027年长阳镇居家养老服务项目征集.")
    at: datetime
    call_id: uuid.UUID | None = None
    call_title: str | None = None
    contract_id: uuid.UUID | None = None
    contract_title: str | None = None
    offering_ids: list[uuid.UUID] = Field(default_factory=list, description="Services that can now be booked.")
    reason: str | None = Field(default=None, description="Why the district declined it.")


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
    helper_resident_id: uuid.UUID | None = Field(
        default=None, description="The resident's helper (a relative they authorised) who recorded it for them."
    )
    created_at: datetime
    status: NeedStage = Field(description="Where the need stands: its latest step.")
    status_label: str = Field(description="The latest step's words, e.g. 已纳入需求池.")
    steps: list[NeedStep] = Field(description="Its story, oldest first: received, then procurement's steps.")


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
