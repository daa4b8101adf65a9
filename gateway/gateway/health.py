"""Health at the edge: the gateway's process (``/livez``), its database (``/readyz``), and each service as its
``/readyz`` reports (``/healthz``)."""

import asyncio
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from gateway.upstreams import Readiness, Upstreams
from service_kit.errors import error_responses, problem_response

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    services: dict[str, Readiness]


class Ready(BaseModel):
    status: Literal["ready"]
    checks: dict[str, Readiness]


@router.get(
    "/healthz",
    response_model=Health,
    responses=error_responses(503),
    summary="The gateway answers; each service's readiness",
)
async def healthz(request: Request) -> Response:
    upstreams: Upstreams = request.app.state.upstreams
    services = await upstreams.readiness_of_all()
    if all(state == "ok" for state in services.values()):
        return JSONResponse(Health(status="ok", services=services).model_dump())
    if "down" not in services.values():
        # Every service serves; some without NATS (their events wait in their outboxes): degraded, not down.
        return JSONResponse(Health(status="degraded", services=services).model_dump())
    down = sorted(name for name, state in services.items() if state == "down")
    return problem_response(
        {
            "type": "about:blank",
            "title": "Some services are down",
            "status": 503,
            "code": "degraded",
            "detail": f"Down: {', '.join(down)}.",
            "instance": request.url.path,
            "services": services,
        },
        {"Retry-After": "5"},
    )


@router.get("/livez", summary="Liveness: the gateway's process answers (it asks no service)")
async def livez() -> dict[str, str]:
    """What a liveness probe asks: an outage of a service must not restart every gateway, so unlike ``/healthz``
    this depends on nothing."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready, responses=error_responses(503), summary="The gateway's database")
async def readyz(request: Request) -> Response:
    try:
        async with asyncio.timeout(2.0), request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        return problem_response(
            {
                "type": "about:blank",
                "title": "Not ready",
                "status": 503,
                "code": "not_ready",
                "detail": "database down",
                "instance": request.url.path,
                "checks": {"database": "down"},
            },
            {"Retry-After": "1"},
        )
    return JSONResponse(Ready(status="ready", checks={"database": "ok"}).model_dump())
