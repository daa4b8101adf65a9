"""GET /api/v1/home: three services asked in parallel with the caller's token, each part failing on its own.

The services here are small stand-ins served by uvicorn on real ports, answering with the real services' paths,
query parameters and page shapes; a stopped one is down, a sleeping one is slower than the part timeout."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.config import GatewaySettings
from service_kit.timeutil import local_now

from .conftest import Server

RESIDENT_ID = uuid.uuid4()
COMMUNITY = "110111001001"


def stand_in(name: str, seen: list[dict[str, Any]], *, sleep: float = 0.0) -> FastAPI:
    app = FastAPI()

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.api_route("/{path:path}", methods=["GET"])
    async def answer(request: Request, path: str) -> JSONResponse:
        seen.append({"path": request.url.path, "query": dict(request.query_params), "headers": request.headers})
        await asyncio.sleep(sleep)
        query = request.query_params
        if name == "booking" and request.url.path == f"/api/v1/residents/{RESIDENT_ID}":
            return JSONResponse({"id": str(RESIDENT_ID), "community_code": COMMUNITY})
        if name == "booking" and request.url.path == "/api/v1/bookings":
            day = "2026-12-0" + ("2" if query["status"] == "requested" else "1")
            item = {"id": str(uuid.uuid4()), "status": query["status"], "slot_start": f"{day}T09:00:00+08:00"}
            return JSONResponse({"items": [item], "total": 1, "limit": int(query["limit"]), "offset": 0})
        if name == "registry" and request.url.path == "/api/v1/circle/offerings":
            origin = {"lat": 39.73, "lng": 116.14, "community_code": query.get("community_code")}
            item = {"offering_id": str(uuid.uuid4()), "name_zh": "老年餐桌", "distance_m": 420}
            return JSONResponse(
                {"origin": origin, "minutes": 15, "reach_m": 1200, "items": [item], "total": 1, "limit": 5, "offset": 0}
            )
        if name == "feedback" and request.url.path == "/api/v1/rating-invitations":
            item = {"booking_id": str(uuid.uuid4()), "status": query["status"]}
            return JSONResponse({"items": [item], "total": 1, "limit": int(query["limit"]), "offset": 0})
        return JSONResponse({"type": "about:blank", "status": 404}, status_code=404)

    return app


Serve = Callable[..., Awaitable[Server]]


@pytest.fixture
def seen() -> dict[str, list[dict[str, Any]]]:
    return {"registry": [], "booking": [], "feedback": [], "procurement": []}


@pytest.fixture
async def home_services(serve: Serve, seen: dict[str, list[dict[str, Any]]]) -> dict[str, Server]:
    return {name: await serve(stand_in(name, calls)) for name, calls in seen.items()}


@pytest.fixture
def home_settings(make_settings: Callable[..., GatewaySettings], home_services: dict[str, Server]) -> GatewaySettings:
    return make_settings(home_services, home_part_timeout_seconds=0.5)


@pytest.fixture
async def home_client(
    open_gateway: Callable[[GatewaySettings], Any], home_settings: GatewaySettings
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    async with open_gateway(home_settings) as client:
        yield client, client._transport.app  # type: ignore[attr-defined]


def bearer(app: FastAPI, *roles: str, **claims: Any) -> dict[str, str]:
    settings: GatewaySettings = app.state.settings
    now = datetime.now(UTC)
    token = app.state.keyring.current.sign(
        {
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "sub": str(uuid.uuid4()),
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp()),
            "roles": list(roles),
            **claims,
        }
    )
    return {"Authorization": f"Bearer {token}"}


def resident(app: FastAPI) -> dict[str, str]:
    return bearer(app, "resident", resident_id=str(RESIDENT_ID))


async def test_the_three_parts_come_from_their_services_with_the_callers_token(
    home_client: tuple[httpx.AsyncClient, FastAPI], seen: dict[str, list[dict[str, Any]]]
) -> None:
    client, app = home_client
    headers = resident(app)
    request_id = uuid.uuid4().hex
    first_day = local_now().date().isoformat()
    response = await client.get("/api/v1/home", headers=headers | {"X-Request-ID": request_id})
    last_day = local_now().date().isoformat()  # the same, unless Beijing's midnight fell during the request
    assert response.status_code == 200, response.text
    home = response.json()

    nearby = home["nearby_offerings"]
    assert nearby["status"] == "ok"
    assert nearby["origin"]["community_code"] == COMMUNITY
    assert [item["name_zh"] for item in nearby["items"]] == ["老年餐桌"]
    # Without a position, the circle is drawn around the resident's community, as the booking service has it.
    assert [call["path"] for call in seen["registry"]] == ["/api/v1/circle/offerings"]
    assert seen["registry"][0]["query"] == {"community_code": COMMUNITY, "limit": "5"}

    upcoming = home["upcoming_bookings"]
    assert upcoming["status"] == "ok"
    assert upcoming["total"] == 2
    assert [item["status"] for item in upcoming["items"]] == ["confirmed", "requested"]  # soonest first
    bookings = [call for call in seen["booking"] if call["path"] == "/api/v1/bookings"]
    assert sorted(call["query"]["status"] for call in bookings) == ["confirmed", "requested"]
    assert len({call["query"]["from"] for call in bookings}) == 1
    assert bookings[0]["query"]["from"] in {first_day, last_day}

    invitations = home["rating_invitations"]
    assert invitations == {"status": "ok", "items": [invitations["items"][0]], "total": 1}
    assert seen["feedback"][0]["query"] == {"status": "pending", "limit": "5"}

    every_call = [call for calls in seen.values() for call in calls]
    assert len(every_call) == 5
    for call in every_call:
        assert call["headers"]["authorization"] == headers["Authorization"]
        assert call["headers"]["x-request-id"] == request_id
    assert seen["procurement"] == []


async def test_a_given_position_is_searched_around_without_asking_for_the_community(
    home_client: tuple[httpx.AsyncClient, FastAPI], seen: dict[str, list[dict[str, Any]]]
) -> None:
    client, app = home_client
    response = await client.get("/api/v1/home?lat=39.7351&lng=116.1392&limit=3", headers=resident(app))
    assert response.status_code == 200, response.text
    assert response.json()["nearby_offerings"]["status"] == "ok"
    assert seen["registry"][0]["query"] == {"lat": "39.7351", "lng": "116.1392", "limit": "3"}
    assert not any(call["path"].startswith("/api/v1/residents") for call in seen["booking"])


async def test_each_part_degrades_on_its_own(
    serve: Serve,
    make_settings: Callable[..., GatewaySettings],
    open_gateway: Callable[[GatewaySettings], Any],
    seen: dict[str, list[dict[str, Any]]],
) -> None:
    services = {
        "registry": await serve(stand_in("registry", seen["registry"])),
        "booking": await serve(stand_in("booking", seen["booking"])),
        # Slower than the part timeout: its part gives up, the answer does not wait for it.
        "feedback": await serve(stand_in("feedback", seen["feedback"], sleep=3.0)),
        "procurement": await serve(stand_in("procurement", seen["procurement"])),
    }
    await services["booking"].stop()  # down: nothing listens on its port any more
    async with open_gateway(make_settings(services, home_part_timeout_seconds=0.5)) as client:
        app = client._transport.app
        with_position = await client.get("/api/v1/home?lat=39.7351&lng=116.1392", headers=resident(app))
        assert with_position.status_code == 200, with_position.text
        home = with_position.json()
        assert home["nearby_offerings"]["status"] == "ok"
        assert home["upcoming_bookings"] == {"status": "unavailable"}
        assert home["rating_invitations"] == {"status": "unavailable"}

        # Without a position the resident's community comes from the booking service: down, so is that part.
        without_position = await client.get("/api/v1/home", headers=resident(app))
        assert without_position.status_code == 200, without_position.text
        assert without_position.json() == {
            "nearby_offerings": {"status": "unavailable"},
            "upcoming_bookings": {"status": "unavailable"},
            "rating_invitations": {"status": "unavailable"},
        }


async def test_a_service_refusing_the_part_makes_it_unavailable(
    home_client: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = home_client
    # A resident the booking service does not know (404): no community to search around.
    stranger = bearer(app, "resident", resident_id=str(uuid.uuid4()))
    response = await client.get("/api/v1/home", headers=stranger)
    assert response.status_code == 200, response.text
    home = response.json()
    assert home["nearby_offerings"] == {"status": "unavailable"}
    assert home["upcoming_bookings"]["status"] == "ok"


@pytest.mark.parametrize(
    ("query", "roles", "claims", "status", "code"),
    [
        ("", None, {}, 401, "unauthorized"),
        ("", ("operator",), {}, 403, "forbidden"),
        ("", ("resident",), {}, 403, "not_a_resident"),
        ("?lat=39.7", ("resident",), {"resident_id": str(RESIDENT_ID)}, 422, "lat_lng_together"),
        ("?lat=91&lng=116", ("resident",), {"resident_id": str(RESIDENT_ID)}, 422, "validation_error"),
        ("?limit=0", ("resident",), {"resident_id": str(RESIDENT_ID)}, 422, "validation_error"),
        ("?lat=abc&lng=116", ("resident",), {"resident_id": str(RESIDENT_ID)}, 422, "validation_error"),
    ],
)
async def test_refusals_are_problems(
    home_client: tuple[httpx.AsyncClient, FastAPI],
    seen: dict[str, list[dict[str, Any]]],
    query: str,
    roles: tuple[str, ...] | None,
    claims: dict[str, Any],
    status: int,
    code: str,
) -> None:
    client, app = home_client
    headers = bearer(app, *roles, **claims) if roles is not None else {}
    response = await client.get(f"/api/v1/home{query}", headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert not any(seen.values())


async def test_home_is_in_the_aggregated_openapi(home_client: tuple[httpx.AsyncClient, FastAPI]) -> None:
    client, _ = home_client
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/home"]["get"]
    assert {"lat", "lng", "limit"} <= {parameter["name"] for parameter in operation["parameters"]}
    assert {"200", "401", "403", "422"} <= set(operation["responses"])
    assert "Unavailable" in spec["components"]["schemas"]
