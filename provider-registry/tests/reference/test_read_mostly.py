"""The category tree and the gazetteer are served from memory, with ETags, and never stay stale once the event
announcing a change reaches the registry (service_kit.readmostly)."""

import asyncio
import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from registry.reference.repository import any_unannounced
from service_kit.auth import GATEWAY_SUBJECT, GatewayScope
from service_kit.events.outbox import pending_count
from service_kit.testing import TestKeys, eventually

# Set while a test's own requests run (httpx's ASGI transport runs the app in the caller's task): the registry's
# background work (its announcer's check for unannounced rows) runs beside them on the same engine, and is not theirs.
_asking: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("linli_test_statements", default=None)


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the registry's read engine runs meanwhile for the test's own requests."""
    seen: list[str] = []
    engine = app.state.runtime.read_engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        mine = _asking.get()
        if mine is not None:
            mine.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    token = _asking.set(seen)
    try:
        yield seen
    finally:
        _asking.reset(token)
        event.remove(engine, "before_cursor_execute", record)


def elderly(tree: list[dict[str, Any]]) -> dict[str, Any]:
    return next(node for node in tree if node["code"] == "elderly")


async def test_the_tree_is_served_from_memory_and_revalidated_by_its_etag(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    with statements(app) as read:
        first = await client.get("/api/v1/categories")
    assert first.status_code == 200, first.text
    assert any("FROM category" in statement for statement in read), read  # the first answer reads the tree
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


POLL = "/internal/v1/read-mostly/registry"


def gateway_headers(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers(sub=GATEWAY_SUBJECT, scope=GatewayScope.read_mostly.value)


async def test_only_the_gateway_asks_what_changed(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    assert (await client.get(POLL)).status_code == 401
    for refused in (test_keys.headers("admin"), test_keys.headers(sub=GATEWAY_SUBJECT, scope="bookings:read")):
        answer = await client.get(POLL, headers=refused)
        assert (answer.status_code, answer.json()["code"]) == (403, "gateway_only")
    bad = await client.get(POLL, params={"wait": "forever"}, headers=gateway_headers(test_keys))
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "wait")
    polled = await client.get(POLL, params={"wait": 0}, headers=gateway_headers(test_keys))
    assert polled.status_code == 200, polled.text
    state = polled.json()
    assert (state["listening"], sorted(state["groups"])) == (True, ["categories", "communities", "service_centers"])
    # Every public answer names the version it was rendered at, as the poll tells it.
    tree = await client.get("/api/v1/categories")
    assert tree.headers["linli-read-mostly"] == f"registry categories {state['groups']['categories']}"


async def test_a_poll_answers_when_a_category_changes_and_names_the_new_version(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    await client.get("/api/v1/categories")  # the registry listens from its first read-mostly answer

    async def settled() -> dict[str, Any] | None:
        """The versions once the registry's announcement of its reference data at start has left (nothing
        unannounced, nothing in the outbox) and nothing changes for a while after."""
        async with app.state.sessionmaker() as session:
            if await any_unannounced(session) or await pending_count(session):
                return None
        now = (await client.get(POLL, params={"wait": 0}, headers=gateway_headers(test_keys))).json()
        later = await client.get(
            POLL, params={"after": now["version"], "wait": 0.5}, headers=gateway_headers(test_keys)
        )
        return now if later.json() == now else None

    first = await eventually(settled)
    waiting = asyncio.create_task(
        client.get(POLL, params={"after": first["version"], "wait": 30}, headers=gateway_headers(test_keys))
    )
    changed = await client.patch(
        "/api/v1/categories/elderly",
        json={"required_qualification": "elderly_care"},
        headers=test_keys.headers("official"),
    )
    assert changed.status_code == 200, changed.text
    moved = (await waiting).json()
    assert moved["groups"]["categories"] != first["groups"]["categories"]
    # The communities did not change: their version stays, and an edge copy of them stays true.
    assert moved["groups"]["communities"] == first["groups"]["communities"]
    tree = await client.get("/api/v1/categories")
    assert elderly(tree.json())["required_qualification"] == "elderly_care"
    assert tree.headers["linli-read-mostly"] == f"registry categories {moved['groups']['categories']}"
