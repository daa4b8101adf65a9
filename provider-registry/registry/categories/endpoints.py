from fastapi import APIRouter

from registry.categories import service
from registry.categories.schemas import CategoryNode
from service_kit.db import SessionDep

router = APIRouter(prefix="/api/v1/categories", tags=["categories"])


@router.get("", response_model=list[CategoryNode])
async def list_categories(session: SessionDep) -> list[CategoryNode]:
    """The whole taxonomy as a tree: top-level categories with their leaves, in display order."""
    return await service.tree(session)
