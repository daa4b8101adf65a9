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


async def test_the_api_describes_itself(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200, response.text
    paths = response.json()["paths"]
    assert {
        "/api/v1/organizations",
        "/api/v1/organizations/{organization_id}/verify",
        "/api/v1/categories",
        "/api/v1/offerings",
        "/api/v1/offerings/{offering_id}/publish",
    } <= set(paths)
