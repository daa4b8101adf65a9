"""The category tree and the gazetteer are served from memory, with ETags, and never stay stale once the event
announcing a change reaches the registry (service_kit.readmostly)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from service_kit.testing import TestKeys, eventually


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the registry's read engine runs meanwhile."""
    seen: list[str] = []
    engine = app.state.runtime.read_engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def elderly(tree: list[dict[str, Any]]) -> dict[str, Any]:
    return next(node for node in tree if node["code"] == "elderly")


async def test_the_tree_is_served_from_memory_and_revalidated_by_its_etag(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    first = await client.get("/api/v1/categories")
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert (etag.startswith('"'), first.headers["cache-control"]) == (True, "public, max-age=60")
    with statements(app) as seen:
        again = await client.get("/api/v1/categories")
    assert (again.json(), again.headers["etag"], seen) == (first.json(), etag, [])
    # A client holding the tree asks whether it changed: 304, no body, nothing read from the database.
    for held in (etag, f"W/{etag}", f'"stale", {etag}', "*"):
        with statements(app) as seen:
            unchanged = await client.get("/api/v1/categories", headers={"If-None-Match": held})
        assert (unchanged.status_code, unchanged.content, unchanged.headers["etag"], seen) == (304, b"", etag, [])
    changed_elsewhere = await client.get("/api/v1/categories", headers={"If-None-Match": '"stale"'})
    assert (changed_elsewhere.status_code, changed_elsewhere.json()) == (200, first.json())


async def test_a_change_is_served_once_its_event_is_out_never_the_old_tree(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    before = await client.get("/api/v1/categories")
    assert elderly(before.json())["required_qualification"] is None
    changed = await client.patch(
        "/api/v1/categories/elderly",
        json={"required_qualification": "elderly_care"},
        headers=test_keys.headers("official"),
    )
    assert changed.status_code == 200, changed.text

    async def updated() -> httpx.Response | None:
        seen = await client.get("/api/v1/categories")
        return seen if elderly(seen.json())["required_qualification"] == "elderly_care" else None

    after = await eventually(updated)
    assert after.headers["etag"] != before.headers["etag"]
    # The old ETag no longer matches: the client gets the new tree, and from then on only the new one.
    revalidated = await client.get("/api/v1/categories", headers={"If-None-Match": before.headers["etag"]})
    assert revalidated.status_code == 200
    assert elderly(revalidated.json())["required_qualification"] == "elderly_care"
    for _ in range(3):
        assert (await client.get("/api/v1/categories")).json() == after.json()


async def test_the_gazetteer_pages_are_kept_per_query_and_a_bad_query_is_still_refused(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    page = await client.get("/api/v1/communities", params={"limit": 2})
    assert page.status_code == 200, page.text
    other = await client.get("/api/v1/communities", params={"limit": 3})
    assert (len(page.json()["items"]), len(other.json()["items"])) == (2, 3)
    with statements(app) as seen:
        assert (await client.get("/api/v1/communities", params={"limit": 2})).json() == page.json()
    assert seen == []
    bad = await client.get("/api/v1/communities", params={"limit": "many"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    missing = await client.get("/api/v1/communities/NO-SUCH-PLACE")
    assert (missing.status_code, missing.json()["code"]) == (404, "community_not_found")
    assert "etag" not in missing.headers
