import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from feedback.communities import CommunityCode
from feedback.complaints.models import (
    AssigneeKind,
    Channel,
    ComplaintCategory,
    ComplaintStatus,
    Severity,
    StepAction,
    TargetKind,
)

MAX_DESCRIPTION = 2000
MAX_NOTE = 1000
MAX_ATTACHMENTS = 5
MAX_URL = 500


def _https_url(value: str) -> str:
    """An attachment is a link to a photo or document already uploaded somewhere: https, a host, no spaces,
    no credentials in the URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc or any(c.isspace() for c in value):
        raise ValueError("an attachment must be an https URL")
    return value


AttachmentUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=9, max_length=MAX_URL), AfterValidator(_https_url)
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_DESCRIPTION)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class ComplaintCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_kind: TargetKind
    target_id: uuid.UUID
    # Needed when the target is an offering or a center, or a booking the feedback has not seen complete.
    provider_id: uuid.UUID | None = None
    category: ComplaintCategory
    severity: Severity = Severity.normal
    description: Description
    attachments: list[AttachmentUrl] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    resident_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "The resident complaining: named by an operator (phone) or center staff filing for them, and by a "
            "resident's helper (a relative the resident authorised in booking) filing for them with their own "
            "token, admitted only under an active grant (404 otherwise). A resident filing for themself sends none."
        ),
    )
    # The complainant's community, ``<street>.<community>``: an operator fills it from the caller's card.
    community_code: CommunityCode | None = None
    # Defaults from the caller: a resident files in the app, an operator by phone, an official at a center.
    channel: Channel | None = None


class StepCreate(BaseModel):
    """A workflow step's note; ``internal`` hides it from the complainant."""

    model_config = ConfigDict(extra="forbid")

    note: Note | None = None
    internal: bool = False


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note
    internal: bool = False


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee_kind: AssigneeKind
    # An official's account (token subject) or, for ``provider``, the provider's id; empty = the provider concerned.
    assignee_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    note: Note | None = None
    internal: bool = True


class Step(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    action: StepAction
    status_after: ComplaintStatus
    actor: str = Field(description="The account that took the step (token subject), or linli-sla-sweep")
    actor_role: str = Field(
        description="complainant, helper (filing for the complainant), operator, staff, handler (assigned "
        "provider), provider, application (an Open311 application that filed it: actor is its key's "
        "open311-app:<id>), system"
    )
    note: str | None
    internal: bool
    created_at: datetime


class Complaint(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reference: str = Field(
        description="Eight digits the complainant writes down and reads back on a later call (the last a check digit)",
        examples=["47112086"],
    )
    channel: Channel
    category: ComplaintCategory
    severity: Severity
    status: ComplaintStatus
    target_kind: TargetKind
    target_id: uuid.UUID
    provider_id: uuid.UUID | None
    offering_id: uuid.UUID | None
    booking_id: uuid.UUID | None
    center_id: uuid.UUID | None
    description: str
    attachments: list[str]
    resident_id: uuid.UUID | None
    community_code: str | None
    street_code: str | None = Field(description="The street of community_code (the part before its first dot)")
    filed_by: str
    helper_resident_id: uuid.UUID | None = Field(
        default=None, description="The resident's helper (a relative they authorised) who filed it for them"
    )
    assignee_kind: AssigneeKind | None
    assignee_id: str | None
    ack_due_at: datetime
    resolve_due_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    ack_escalated_at: datetime | None
    resolve_escalated_at: datetime | None
    overdue: bool = Field(description="A deadline has passed and the step it asks for is not done")
    created_at: datetime
    updated_at: datetime


class ComplaintDetail(Complaint):
    """A complaint with its history, as the viewer may see it (internal notes only for staff)."""

    steps: list[Step]
