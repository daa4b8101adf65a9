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


async def test_openapi_documents_every_module(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/complaints/{complaint_id}/reopen",
        "/api/v1/needs/groups",
        "/api/v1/scores/offerings/{offering_id}",
        "/api/v1/complaints/report",
        "/open311/v2/requests.json",
    ):
        assert path in paths
    assert "application/x-www-form-urlencoded" in paths["/open311/v2/requests.json"]["post"]["requestBody"]["content"]
