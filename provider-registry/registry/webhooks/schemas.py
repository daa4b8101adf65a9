import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from registry.webhooks.catalogue import normalize_event_types
from registry.webhooks.guard import UnsafeWebhookUrl, parse_url
from registry.webhooks.models import AttemptTrigger, DeliveryStatus


def _well_formed_url(url: str) -> str:
    try:
        parse_url(url)
    except UnsafeWebhookUrl as exc:
        raise ValueError(str(exc)) from exc
    return url


WebhookUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(_well_formed_url),
    Field(examples=["https://erp.example-provider.cn/linli/webhooks"]),
]
EventTypes = Annotated[
    list[Annotated[str, StringConstraints(max_length=64)]],
    Field(min_length=1, max_length=50, examples=[["booking.*", "offering.withdrawn"]]),
    AfterValidator(normalize_event_types),
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    event_types: EventTypes
    description: Description | None = None


class WebhookEndpointUpdate(BaseModel):
    """Change the URL or the subscription, or switch the endpoint off and on (``enabled``)."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class WebhookEndpoint(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpoint):
    """Returned once, when the endpoint is created or its secret rotated: keep ``secret`` to verify signatures."""

    secret: str = Field(examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])


class WebhookAttempt(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    trigger: AttemptTrigger
    attempted_at: datetime
    duration_ms: int
    status_code: int | None
    response_excerpt: str | None
    error: str | None


class WebhookDelivery(BaseModel):
    """One event for one endpoint; ``id`` is the ``webhook-id`` header, the same on every attempt."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_type: str
    event_id: str
    status: DeliveryStatus
    payload: dict[str, object]
    attempt_count: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    created_at: datetime
    attempts: list[WebhookAttempt]
