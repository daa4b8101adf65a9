from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, Field

from registry.reference import service
from service_kit.auth import Principal, Role, require_roles
from service_kit.db import SessionDep
from service_kit.errors import error_responses
from service_kit.routing import service_router

router = service_router(prefix="/api/v1/ops/registry/reference-data", tags=["operations"])

Admin = Annotated[Principal, Depends(require_roles(Role.admin))]


class Announcement(BaseModel):
    announced: dict[str, int] = Field(
        description="Events emitted by table: category, community, service_center",
        examples=[{"category": 30, "community": 11, "service_center": 2}],
    )


@router.post("/announce", response_model=Announcement, responses=error_responses(401, 403))
async def announce_reference_data(session: SessionDep, _principal: Admin) -> Announcement:
    """Announce every category, community and service center once more (``*.upserted`` events), for a service
    that began consuming them after the first announcements left the stream. Consumers keep the highest
    version they saw: an announcement they already had changes nothing."""
    return Announcement(announced=await service.announce_everything(session))
