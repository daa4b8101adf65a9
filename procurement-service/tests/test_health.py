import httpx


async def test_ready_when_database_and_nats_are_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "nats": "ok"}


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


async def test_openapi_describes_the_contract_routes(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/contracts",
        "/api/v1/contracts/{contract_id}",
        "/api/v1/contracts/{contract_id}/sign",
        "/api/v1/contracts/{contract_id}/direct-award/approve",
        "/api/v1/contracts/{contract_id}/direct-award/reject",
        "/api/v1/contracts/{contract_id}/terminate",
        "/api/v1/contracts/{contract_id}/history",
        "/api/v1/contracts/{contract_id}/deliverables",
    ):
        assert path in paths, path
