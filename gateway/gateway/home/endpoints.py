from typing import Annotated

from fastapi import Depends, Query, Request

from gateway.deps import SettingsDep
from gateway.home.schemas import Home
from gateway.home.service import HomeAssembler
from gateway.ratelimit import EdgeLimiter
from service_kit.auth import Principal, Role, require_roles
from service_kit.edge import request_id
from service_kit.errors import Forbidden, ValidationFailed, error_responses
from service_kit.routing import service_router

router = service_router(tags=["home"])

ResidentPrincipal = Annotated[Principal, Depends(require_roles(Role.resident))]


@router.get(
    "/api/v1/home",
    response_model=Home,
    summary="The resident's home screen: nearby offerings, upcoming bookings, bookings to rate",
    description=(
        "The three parts are fetched in parallel from the registry, booking and feedback services with the "
        "caller's token. A part whose service is down or slower than the gateway's home part timeout comes back "
        'as {"status": "unavailable"}; the others still answer 200. Nearby offerings are searched around '
        "lat/lng when given, else around the resident's community."
    ),
    responses=error_responses(401, 403, 422, 429),
)
async def get_home(
    request: Request,
    principal: ResidentPrincipal,
    settings: SettingsDep,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
    limit: Annotated[int, Query(ge=1, le=20, description="Items per part.")] = 5,
) -> Home:
    if (lat is None) != (lng is None):
        raise ValidationFailed("Give both lat and lng, or neither.", code="lat_lng_together")
    if principal.resident_id is None:
        raise Forbidden("The home screen is for a resident's own account.", code="not_a_resident")
    limiter: EdgeLimiter = request.app.state.limiter
    await limiter.check(limiter.principal, "principal", principal.subject)
    assembler = HomeAssembler(
        request.app.state.upstreams,
        authorization=request.headers["authorization"],
        request_id=request_id(),
        timeout=settings.home_part_timeout_seconds,
    )
    return await assembler.assemble(resident_id=principal.resident_id, lat=lat, lng=lng, limit=limit)
