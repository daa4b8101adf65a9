"""The category tree is public and the same for everyone: a cache may keep it. Every other answer is no-store
unless its route says otherwise (service_kit.edge)."""

import httpx


async def test_the_public_tree_keeps_its_caching_and_other_answers_are_not_stored(client: httpx.AsyncClient) -> None:
    tree = await client.get("/api/v1/categories")
    assert tree.status_code == 200
    assert tree.headers["cache-control"] == "public, max-age=60"
    refused = await client.patch("/api/v1/categories/elderly", json={"required_qualification": None})
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    assert refused.headers["cache-control"] == "no-store"
