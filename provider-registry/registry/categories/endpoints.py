from typing import Annotated

from fastapi import Depends, Path, Request, Response
from pydantic import TypeAdapter

from registry.categories import service
from registry.categories.schemas import CategoryNode, CategoryUpdate
from registry.reference.answers import PUBLIC_MINUTE, READ_MOSTLY
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/categories", tags=["categories"])


TREE = TypeAdapter(list[CategoryNode])


@router.get("", response_model=list[CategoryNode], responses={304: {"description": "Not modified (If-None-Match)."}})
async def list_categories(session: ReadSessionDep, request: Request) -> Response:
    """The whole taxonomy as a tree: top-level categories with their leaves, in display order. Served from memory
    until a category changes; its ``ETag`` answers a conditional request with 304."""
    return await READ_MOSTLY.answer(
        request, "categories", lambda: service.tree(session), TREE, cache_control=PUBLIC_MINUTE
    )


@router.patch("/{code}", response_model=CategoryNode, responses=error_responses(401, 403, 404, 422))
async def update_category(
    code: Annotated[str, Path(min_length=1, max_length=64)],
    data: CategoryUpdate,
    session: SessionDep,
    _principal: Annotated[Principal, Depends(require_roles(Role.official, Role.admin))],
) -> CategoryNode:
    """An official sets the qualification a category requires (on a top-level category: all its leaves)."""
    return await service.update(session, code, data)
