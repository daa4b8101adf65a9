from typing import Any

import httpx


async def test_all_services_ready_is_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "services": {"registry": "ok", "booking": "ok", "procurement": "ok", "feedback": "ok"},
    }


async def test_a_service_down_or_not_ready_is_503_problem(client: httpx.AsyncClient, services: dict[str, Any]) -> None:
    await services["procurement"].stop()
    services["feedback"].app.state.ready = False
    # The liveness probe asks no service: an outage must not restart the gateway.
    live = await client.get("/livez")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "degraded"
    assert body["services"] == {"registry": "ok", "booking": "ok", "procurement": "down", "feedback": "down"}


async def test_a_service_without_nats_is_degraded_and_still_serves(
    client: httpx.AsyncClient, services: dict[str, Any], admin_headers: dict[str, str]
) -> None:
    """Its events wait in its outbox: the platform is degraded, not down, and nothing is taken out of rotation."""
    services["booking"].app.state.nats = False
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "services": {"registry": "ok", "booking": "degraded", "procurement": "ok", "feedback": "ok"},
    }
    served = await client.get("/api/v1/bookings", headers=admin_headers)
    assert served.status_code == 200, served.text


async def test_ready_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}
