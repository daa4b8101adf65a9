import uuid
from typing import Annotated

from fastapi import Depends, Response

from registry.config import SettingsDep
from registry.webhooks import service
from registry.webhooks.models import DeliveryStatus
from registry.webhooks.schemas import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/organizations/{organization_id}/webhooks", tags=["webhooks"])

# The provider's admin (or a platform admin) manages, and its system with a ``webhooks:manage`` key; the provider's
# system with any key may read.
Manager = Annotated[Principal, Depends(require_roles(Role.provider_admin, Role.provider_system))]
Reader = Annotated[Principal, Depends(require_roles(Role.provider_admin, Role.provider_system))]


def _with_secret(endpoint: object, secret: str) -> WebhookEndpointWithSecret:
    return WebhookEndpointWithSecret(**WebhookEndpoint.model_validate(endpoint).model_dump(), secret=secret)


@router.post(
    "", status_code=201, response_model=WebhookEndpointWithSecret, responses=error_responses(401, 403, 404, 409, 422)
)
async def create_webhook(
    organization_id: uuid.UUID,
    data: WebhookEndpointCreate,
    session: SessionDep,
    principal: Manager,
    settings: SettingsDep,
    response: Response,
) -> WebhookEndpointWithSecret:
    """Register an endpoint of the provider's system for some events. The signing ``secret`` is shown only here."""
    response.headers["Cache-Control"] = "no-store"  # never cached, nor kept for an Idempotency-Key replay
    endpoint, secret = await service.create(session, organization_id, data, by=principal, settings=settings)
    return _with_secret(endpoint, secret)


@router.get("", response_model=Page[WebhookEndpoint], responses=error_responses(401, 403, 404, 422))
async def list_webhooks(
    organization_id: uuid.UUID, session: ReadSessionDep, principal: Reader, page: PaginationDep
) -> Page[WebhookEndpoint]:
    items, total = await service.list_for(session, organization_id, principal, limit=page.limit, offset=page.offset)
    return page.of([WebhookEndpoint.model_validate(e) for e in items], total)


@router.get("/{webhook_id}", response_model=WebhookEndpoint, responses=error_responses(401, 403, 404, 422))
async def get_webhook(
    organization_id: uuid.UUID, webhook_id: uuid.UUID, session: ReadSessionDep, principal: Reader
) -> WebhookEndpoint:
    return WebhookEndpoint.model_validate(await service.get(session, organization_id, webhook_id, principal))


@router.patch("/{webhook_id}", response_model=WebhookEndpoint, responses=error_responses(401, 403, 404, 422))
async def update_webhook(
    organization_id: uuid.UUID,
    webhook_id: uuid.UUID,
    data: WebhookEndpointUpdate,
    session: SessionDep,
    principal: Manager,
    settings: SettingsDep,
) -> WebhookEndpoint:
    """Change the URL or the events; ``enabled: true`` turns an endpoint disabled by a 410 back on."""
    endpoint = await service.update(session, organization_id, webhook_id, data, by=principal, settings=settings)
    return WebhookEndpoint.model_validate(endpoint)


@router.delete("/{webhook_id}", status_code=204, responses=error_responses(401, 403, 404, 422))
async def delete_webhook(
    organization_id: uuid.UUID, webhook_id: uuid.UUID, session: SessionDep, principal: Manager
) -> Response:
    await service.delete(session, organization_id, webhook_id, by=principal)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookEndpointWithSecret,
    responses=error_responses(401, 403, 404, 422),
)
async def rotate_webhook_secret(
    organization_id: uuid.UUID,
    webhook_id: uuid.UUID,
    session: SessionDep,
    principal: Manager,
    settings: SettingsDep,
    response: Response,
) -> WebhookEndpointWithSecret:
    """A new secret, shown once; for 24 hours deliveries carry signatures with both the new and the old one."""
    response.headers["Cache-Control"] = "no-store"
    endpoint, secret = await service.rotate_secret(
        session, organization_id, webhook_id, by=principal, settings=settings
    )
    return _with_secret(endpoint, secret)


@router.get(
    "/{webhook_id}/deliveries", response_model=Page[WebhookDelivery], responses=error_responses(401, 403, 404, 422)
)
async def list_webhook_deliveries(
    organization_id: uuid.UUID,
    webhook_id: uuid.UUID,
    session: ReadSessionDep,
    principal: Reader,
    page: PaginationDep,
    status: DeliveryStatus | None = None,
) -> Page[WebhookDelivery]:
    """The delivery log, newest first: every attempt with its time, status code, a response excerpt, the error."""
    items, total = await service.list_deliveries(
        session, organization_id, webhook_id, principal, status=status, limit=page.limit, offset=page.offset
    )
    return page.of(items, total)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=WebhookDelivery,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def redeliver_webhook(
    organization_id: uuid.UUID, webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep, principal: Manager
) -> WebhookDelivery:
    """Send a delivered or failed delivery once more, with the same ``webhook-id``."""
    return await service.redeliver(session, organization_id, webhook_id, delivery_id, by=principal)
