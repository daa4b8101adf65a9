import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from gateway.apikeys import service
from gateway.apikeys.exchange import ApiKeyExchange
from gateway.apikeys.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated, KeyKind
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.pagination import Page, PaginationDep
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/api-keys", tags=["api keys"])

ProviderAdmin = Annotated[Principal, Depends(require_roles(Role.provider_admin))]


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=201,
    responses=error_responses(401, 403, 404, 422),
    summary="Create an API key for one of the provider's systems (or, an admin, for an Open311 application); the "
    "key is shown only in this answer",
    description=(
        "`kind: provider` (the default): a key of the caller's provider (an admin names it) with the scopes its "
        "system needs. `kind: open311` (admins only, 403 otherwise): a key for an application that files Open311 "
        "GeoReport v2 service requests, sent as the standard's `api_key`; it has the one scope `open311:requests`, "
        "may call nothing but `/open311`, and what it files records the application (docs/api-keys.md)."
    ),
)
async def create_api_key(
    body: ApiKeyCreate, session: SessionDep, principal: ProviderAdmin, response: Response
) -> ApiKeyCreated:
    row, key = await service.create(session, body, by=principal)
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated.model_validate({**ApiKey.model_validate(row).model_dump(), "key": key})


@router.get(
    "",
    response_model=Page[ApiKey],
    responses=error_responses(401, 403, 404, 422),
    summary="The provider's API keys, newest first (never the keys themselves)",
)
async def list_api_keys(
    session: SessionDep,
    principal: ProviderAdmin,
    page: PaginationDep,
    provider_id: Annotated[uuid.UUID | None, Query()] = None,
    kind: Annotated[KeyKind | None, Query(description="Only keys of this kind")] = None,
) -> Page[ApiKey]:
    rows, total = await service.list_keys(session, by=principal, provider_id=provider_id, page=page, kind=kind)
    return page.of([ApiKey.model_validate(r) for r in rows], total)


@router.delete(
    "/{key_id}",
    status_code=204,
    responses=error_responses(401, 403, 404, 422),
    summary="Revoke an API key",
)
async def revoke_api_key(
    key_id: uuid.UUID, session: SessionDep, principal: ProviderAdmin, request: Request
) -> Response:
    await service.revoke(session, key_id, by=principal)
    exchange: ApiKeyExchange = request.app.state.api_keys
    exchange.forget(key_id)
    return Response(status_code=204)
