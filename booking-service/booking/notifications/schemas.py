import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service_kit.notify.templates import RESIDENT_KINDS
from service_kit.pagination import Page


class Delivery(BaseModel):
    channel: str = Field(description="`inbox` or `sms`")
    status: str = Field(description="`pending`, `sent`, `failed`, `deferred` (until 08:00) or `suppressed`")
    reason: str | None = Field(
        description="Why it is deferred, suppressed or failed: `quiet_hours`, `sms_off`, `no_phone`, `rate_limited`, "
        "or the SMS provider's error code"
    )
    attempts: int


class Notification(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="What it is about, e.g. `booking_confirmed`, `complaint_resolved`, `need_status`")
    title: str
    body: str = Field(description="The message, in Chinese")
    subject_id: uuid.UUID | None = Field(description="The booking, complaint or need it is about")
    about_resident_id: uuid.UUID | None = Field(
        description="For a helper: the resident whose message this is a copy of"
    )
    created_at: datetime
    read_at: datetime | None
    deliveries: list[Delivery]


class NotificationPage(Page[Notification]):
    unread_count: int = Field(description="The resident's unread messages, on every page")


class ReadAll(BaseModel):
    marked: int
    unread_count: int


class Preferences(BaseModel):
    sms: dict[str, bool] = Field(description="Per kind of message: whether it also comes by SMS (the inbox gets all)")
    copy_helpers: bool = Field(description="Whether the helpers the resident authorised get a copy of each message")


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sms: dict[str, bool] | None = Field(
        default=None, description=f"Kinds to turn SMS on or off for: {', '.join(RESIDENT_KINDS)}"
    )
    copy_helpers: bool | None = None
