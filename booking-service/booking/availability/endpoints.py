import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from booking.availability import schemas as s
from booking.availability import service
from service_kit.db import SessionDep
from service_kit.errors import error_responses

router = APIRouter(prefix="/api/v1/availability", tags=["availability"])


@router.get(
    "",
    response_model=s.Availability,
    response_model_by_alias=True,
    summary="Free slots of an offering between two dates (at most 31 days)",
    responses=error_responses(404, 422),
)
async def get_availability(
    session: SessionDep,
    offering_id: uuid.UUID,
    from_date: Annotated[date, Query(alias="from")],
    to_date: Annotated[date, Query(alias="to")],
) -> s.Availability:
    return await service.for_offering(session, offering_id, from_date, to_date)
