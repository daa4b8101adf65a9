from typing import Annotated

from fastapi import APIRouter, Depends, Path

from registry.categories import service
from registry.categories.schemas import CategoryNode, CategoryUpdate
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import ReadSessionDep, SessionDep
from service_kit.errors import error_responses

router = APIRouter(prefix="/api/v1/categories", tags=["categories"])


@router.get("", response_model=list[CategoryNode])
async def list_categories(session: ReadSessionDep) -> list[CategoryNode]:
    """The whole taxonomy as a tree: top-level categories with their leaves, in display order."""
    return await service.tree(session)


@router.patch("/{code}", response_model=CategoryNode, responses=error_responses(401, 403, 404, 422))
async def update_category(
    code: Annotated[str, Path(min_length=1, max_length=64)],
    data: CategoryUpdate,
    session: SessionDep,
    _principal: Annotated[Principal, Depends(require_roles(Role.official, Role.admin))],
) -> CategoryNode:
    """An official sets the qualification a category requires (on a top-level category: all its leaves)."""
    return await service.update(session, code, data)
