"""The rules of a provider's webhooks: who manages them, which URLs they may name, what they receive.

A provider's admin (or a platform admin) manages its endpoints, and so does its system with an API key of scope
``webhooks:manage``; its system with any other key may read them and the delivery log; anyone else is told they
do not exist. Deliveries are queued by the ``webhooks`` consumer
in the same transaction as its inbox row, so an event redelivered by NATS queues nothing twice, and only
the provider the event names — the booking's provider, for ``booking.*`` — ever receives it.
"""

import uuid
from collections.abc import Sequence
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from registry.config import Settings
from registry.organizations import service as organizations_service
from registry.webhooks import repository
from registry.webhooks.catalogue import provider_of, short_name, subscribed, thin_payload
from registry.webhooks.guard import UnsafeWebhookUrl, checked_target
from registry.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from registry.webhooks.schemas import WebhookAttempt as WebhookAttemptOut
from registry.webhooks.schemas import WebhookDelivery as WebhookDeliveryOut
from registry.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
)
from registry.webhooks.signing import WEBHOOK_SECRET, new_secret
from service_kit.auth import ApiKeyScope, Principal, Role
from service_kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from service_kit.events.contracts import EventData
from service_kit.events.envelope import Envelope
from service_kit.protection import keyring_of
from service_kit.timeutil import utcnow

log = structlog.get_logger("linli.registry.webhooks")

# After a rotation the old secret keeps signing (beside the new one) for this long.
ROTATION_OVERLAP = timedelta(hours=24)


def may_manage(principal: Principal, organization_id: uuid.UUID) -> bool:
    if principal.has_any(Role.admin) or principal.system_of(organization_id, ApiKeyScope.webhooks_manage):
        return True
    return principal.has_any(Role.provider_admin) and principal.provider_id == organization_id


def may_read(principal: Principal, organization_id: uuid.UUID) -> bool:
    if may_manage(principal, organization_id):
        return True
    return principal.has_any(Role.provider_system) and principal.provider_id == organization_id


def _refuse_a_reader(principal: Principal, organization_id: uuid.UUID) -> None:
    """The provider's own system, whose key reads its endpoints but lacks ``webhooks:manage``, is told so (403):
    they are its own, it knows they exist."""
    if may_read(principal, organization_id):
        raise Forbidden(f"This API key lacks the scope {ApiKeyScope.webhooks_manage}.", code="scope_missing")


def _webhook_not_found() -> NotFound:
    return NotFound("No webhook endpoint with this id.", code="webhook_not_found")


async def _organization_for(
    session: AsyncSession, organization_id: uuid.UUID, principal: Principal, *, manage: bool
) -> None:
    allowed = may_manage(principal, organization_id) if manage else may_read(principal, organization_id)
    if not allowed:
        _refuse_a_reader(principal, organization_id)
        raise NotFound("No organization with this id.", code="organization_not_found")
    await organizations_service.get(session, organization_id)


async def _endpoint_for(
    session: AsyncSession, organization_id: uuid.UUID, endpoint_id: uuid.UUID, principal: Principal, *, manage: bool
) -> WebhookEndpoint:
    allowed = may_manage(principal, organization_id) if manage else may_read(principal, organization_id)
    endpoint = await repository.get_endpoint(session, endpoint_id)
    if endpoint is None or endpoint.organization_id != organization_id:
        raise _webhook_not_found()
    if not allowed:
        _refuse_a_reader(principal, organization_id)
        raise _webhook_not_found()
    return endpoint


async def check_url(url: str, settings: Settings) -> None:
    """422 naming ``url`` unless every address of its host may receive webhooks."""
    try:
        await checked_target(url, allow_loopback=settings.webhook_allow_loopback)
    except UnsafeWebhookUrl as exc:
        message = f"This URL may not receive webhooks: {exc}."
        raise ValidationFailed(
            f"url: {message}",
            code="webhook_url_refused",
            errors=[{"field": "url", "in": "body", "message": message, "type": "webhook_url_refused"}],
        ) from exc


async def create(
    session: AsyncSession,
    organization_id: uuid.UUID,
    data: WebhookEndpointCreate,
    *,
    by: Principal,
    settings: Settings,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its secret, which is shown this once."""
    await _organization_for(session, organization_id, by, manage=True)
    if await repository.count_endpoints(session, organization_id) >= settings.webhook_max_endpoints_per_provider:
        raise Conflict(
            f"A provider may register at most {settings.webhook_max_endpoints_per_provider} webhook endpoints.",
            code="webhook_limit_reached",
        )
    await check_url(data.url, settings)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=organization_id,
        url=data.url,
        description=data.description,
        event_types=data.event_types,
        secret_sealed=keyring_of(session).seal(WEBHOOK_SECRET, secret),
        enabled=True,
        created_by=by.subject,
    )
    await repository.add_endpoint(session, endpoint)
    return endpoint, secret


async def list_for(
    session: AsyncSession, organization_id: uuid.UUID, viewer: Principal, *, limit: int, offset: int
) -> tuple[Sequence[WebhookEndpoint], int]:
    await _organization_for(session, organization_id, viewer, manage=False)
    return await repository.list_endpoints(session, organization_id, limit=limit, offset=offset)


async def get(
    session: AsyncSession, organization_id: uuid.UUID, endpoint_id: uuid.UUID, viewer: Principal
) -> WebhookEndpoint:
    return await _endpoint_for(session, organization_id, endpoint_id, viewer, manage=False)


async def update(
    session: AsyncSession,
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    data: WebhookEndpointUpdate,
    *,
    by: Principal,
    settings: Settings,
) -> WebhookEndpoint:
    """Change URL, subscription or description; ``enabled`` switches it off, or on again after a 410."""
    endpoint = await _endpoint_for(session, organization_id, endpoint_id, by, manage=True)
    changes = data.model_dump(exclude_unset=True)
    for name in ("url", "event_types", "enabled"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name}: may be changed, not cleared.", code="validation_error")
    if "url" in changes:
        await check_url(changes["url"], settings)
    now = utcnow()
    if changes.get("enabled") is True and not endpoint.enabled:
        endpoint.disabled_reason = None
        endpoint.disabled_at = None
    elif changes.get("enabled") is False and endpoint.enabled:
        endpoint.disabled_reason = f"disabled by {by.subject}"
        endpoint.disabled_at = now
    for name, value in changes.items():
        setattr(endpoint, name, value)
    endpoint.updated_at = now
    await session.flush()
    return endpoint


async def delete(session: AsyncSession, organization_id: uuid.UUID, endpoint_id: uuid.UUID, *, by: Principal) -> None:
    """Remove the endpoint with its pending deliveries and its log."""
    endpoint = await _endpoint_for(session, organization_id, endpoint_id, by, manage=True)
    await repository.delete_endpoint(session, endpoint.id)


async def rotate_secret(
    session: AsyncSession, organization_id: uuid.UUID, endpoint_id: uuid.UUID, *, by: Principal, settings: Settings
) -> tuple[WebhookEndpoint, str]:
    """A new secret, shown once; the old one also signs for 24 hours so the receiver can switch over."""
    endpoint = await _endpoint_for(session, organization_id, endpoint_id, by, manage=True)
    secret = new_secret()
    now = utcnow()
    endpoint.previous_secret_sealed = endpoint.secret_sealed
    endpoint.previous_secret_until = now + ROTATION_OVERLAP
    endpoint.secret_sealed = keyring_of(session).seal(WEBHOOK_SECRET, secret)
    endpoint.updated_at = now
    await session.flush()
    return endpoint, secret


# ------------------------------------------------------------------ the delivery log


def describe_delivery(delivery: WebhookDelivery, attempts: Sequence[WebhookAttempt]) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_type=delivery.event_type,
        event_id=delivery.event_id,
        status=delivery.status,
        payload=delivery.payload,
        attempt_count=delivery.attempt_count,
        next_attempt_at=delivery.next_attempt_at if delivery.status == DeliveryStatus.pending else None,
        delivered_at=delivery.delivered_at,
        last_status_code=delivery.last_status_code,
        created_at=delivery.created_at,
        attempts=[WebhookAttemptOut.model_validate(a) for a in attempts],
    )


async def list_deliveries(
    session: AsyncSession,
    organization_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    viewer: Principal,
    *,
    status: DeliveryStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[WebhookDeliveryOut], int]:
    """The endpoint's deliveries, newest first, each with every attempt and what the receiver answered."""
    endpoint = await _endpoint_for(session, organization_id, endpoint_id, viewer, manage=False)
    deliveries, total = await repository.list_deliveries(
        session, endpoint.id, status=status, limit=limit, offset=offset
    )
    attempts = await repository.attempts_of(session, [d.id for d in deliveries])
    by_delivery: dict[uuid.UUID, list[WebhookAttempt]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return [describe_delivery(d, by_delivery.get(d.id, [])) for d in deliveries], total


async def redeliver(
    session: AsyncSession, organization_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, *, by: Principal
) -> WebhookDeliveryOut:
    """Send a delivered or failed delivery once more, with the same ``webhook-id`` (receivers dedupe on it)."""
    endpoint = await _endpoint_for(session, organization_id, endpoint_id, by, manage=True)
    delivery = await repository.get_delivery(session, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound("No delivery with this id.", code="delivery_not_found")
    if not endpoint.enabled:
        raise Conflict("The endpoint is disabled; enable it first (PATCH enabled=true).", code="webhook_disabled")
    if not await repository.request_redelivery(session, delivery.id, at=utcnow()):
        raise Conflict("This delivery is still scheduled; it will be attempted.", code="delivery_pending")
    delivery = await repository.get_delivery(session, delivery.id)
    assert delivery is not None
    return describe_delivery(delivery, await repository.attempts_of(session, [delivery.id]))


# ------------------------------------------------------------------ from events to deliveries


async def wanted(session: AsyncSession, event: EventData, envelope: Envelope) -> bool:
    """Whether an enabled endpoint of the event's provider subscribes to it: most providers have none, and their
    events are then acknowledged without a write transaction (``Subscription.wanted``)."""
    provider_id = provider_of(event)
    if provider_id is None:
        return False
    name = short_name(envelope.type)
    return any(subscribed(e.event_types, name) for e in await repository.enabled_endpoints(session, provider_id))


async def enqueue(session: AsyncSession, event: EventData, envelope: Envelope) -> int:
    """Queue one delivery of ``event`` per enabled endpoint of its provider subscribed to it."""
    provider_id = provider_of(event)
    if provider_id is None:
        return 0
    name = short_name(envelope.type)
    endpoints = [e for e in await repository.enabled_endpoints(session, provider_id) if subscribed(e.event_types, name)]
    if not endpoints:
        return 0
    payload = thin_payload(name, event, envelope.time)
    now = utcnow()
    await repository.add_deliveries(
        session,
        [
            {
                "id": uuid.uuid4(),
                "endpoint_id": endpoint.id,
                "organization_id": provider_id,
                "event_id": envelope.id,
                "event_type": name,
                "payload": payload,
                "status": DeliveryStatus.pending,
                "trigger": "scheduled",
                "attempt_count": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for endpoint in endpoints
        ],
    )
    log.info("webhook deliveries queued", event_type=name, provider_id=str(provider_id), count=len(endpoints))
    return len(endpoints)
