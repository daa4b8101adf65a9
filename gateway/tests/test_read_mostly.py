"""The gateway answers the services' public read-mostly answers from its memory, and never keeps one the
service has since changed (gateway/readmostly.py).

The service here is the kit's real mechanism (service_kit.readmostly: its answers, its change poll) over a real
NATS server, in a small app that counts its renders; the change event is published on NATS as an outbox would."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI, Request, Response
from pydantic import TypeAdapter

from gateway.app import create_app
from gateway.config import GatewaySettings
from service_kit.events.contracts import CategoryUpserted
from service_kit.readmostly import ReadMostly
from service_kit.testing import eventually

from .conftest import Server
from .test_metrics import value

TREE = "/api/v1/categories"
NAMES = TypeAdapter(list[str])


@dataclass
class Registry:
    """A stand-in registry process: its category names, how often it rendered them, its NATS connection."""

    names: list[str] = field(default_factory=lambda: ["助餐"])
    renders: int = 0
    private: bool = False
    nc: Any = None
    app: FastAPI = field(init=False)

    def __post_init__(self) -> None:
        read_mostly = ReadMostly("registry", {"categories": (CategoryUpserted.type,)})
        app = FastAPI()

        async def render() -> list[str]:
            self.renders += 1
            return list(self.names)

        @app.get(TREE)
        async def tree(request: Request) -> Response:
            control = "private, max-age=60" if self.private else "public, max-age=60"
            answer = await read_mostly.answer(request, "categories", render, NAMES, cache_control=control)
            # What every Linli service's edge adds to an answer: its request's id, and its connection's fate.
            answer.headers["X-Request-ID"] = uuid.uuid4().hex
            answer.headers["Connection"] = "keep-alive"
            return answer

        @app.get("/internal/v1/read-mostly/registry")
        async def poll(request: Request, after: str = "", wait: float = 25.0) -> dict[str, Any]:
            # The kit's own poll (its gateway-only check is the registry's test, with real tokens).
            assert request.headers["authorization"].startswith("Bearer ")
            return await read_mostly.changes(request, after, wait)

        self.app = app

    def restart(self, *, names: list[str]) -> None:
        """As a new process of the service would be: nothing of the kit's read-mostly state kept (a new boot id),
        and the data as it is now."""
        self.names = names
        del self.app.state.read_mostly_registry  # where the kit keeps an app's read-mostly state

    async def connect(self, url: str) -> None:
        self.nc = await nats.connect(url)
        self.app.state.runtime = SimpleNamespace(nc=self.nc)


@pytest.fixture
async def registries(nats_url: str, serve: Callable[..., Awaitable[Server]]) -> AsyncIterator[list[Server]]:
    """Two replicas of the stand-in registry, each on its port, each listening on NATS."""
    servers = []
    for _ in range(2):
        registry = Registry()
        await registry.connect(nats_url)
        server = await serve(registry.app)
        server.registry = registry  # type: ignore[attr-defined]
        servers.append(server)
    yield servers
    for server in servers:
        await server.registry.nc.close()  # type: ignore[attr-defined]


def registry_of(server: Server) -> Registry:
    registry: Registry = server.registry  # type: ignore[attr-defined]
    return registry


@pytest.fixture
async def edge(
    make_settings: Callable[..., GatewaySettings], registries: list[Server]
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway whose registry is the first replica."""
    settings = make_settings(registry_url=registries[0].url, read_mostly_poll_seconds=5)
    async with gateway_over(settings) as client:
        yield client


@asynccontextmanager
async def gateway_over(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def change(nats_url: str, registry: Registry, names: list[str]) -> None:
    """A category changes: the registry's data, then its event (as the outbox publishes it after the commit)."""
    registry.names = names
    nc = await nats.connect(nats_url)
    try:
        await nc.publish(CategoryUpserted.type, json.dumps({"code": "elderly"}).encode())
        await nc.flush()
    finally:
        await nc.close()


async def kept_from_memory(client: httpx.AsyncClient) -> httpx.Response:
    """The tree once the gateway answers it from memory (its poll has told the version: a moment after start)."""

    async def from_memory() -> httpx.Response | None:
        answer = await client.get(TREE)
        assert answer.status_code == 200, answer.text
        return answer if "age" in answer.headers else None

    return await eventually(from_memory)


async def test_the_tree_is_answered_from_the_gateways_memory_with_its_etag(
    edge: httpx.AsyncClient, registries: list[Server]
) -> None:
    registry = registry_of(registries[0])
    first = await kept_from_memory(edge)
    assert first.json() == ["助餐"]
    assert (first.headers["cache-control"], first.headers["etag"].startswith('"')) == ("public, max-age=60", True)
    # The service's version mark stays inside: a caller never sees it.
    assert "linli-read-mostly" not in first.headers
    rendered = registry.renders
    for _ in range(5):
        again = await edge.get(TREE)
        assert (again.json(), again.headers["etag"], "age" in again.headers) == (["助餐"], first.headers["etag"], True)
    unchanged = await edge.get(TREE, headers={"If-None-Match": first.headers["etag"]})
    assert (unchanged.status_code, unchanged.content, unchanged.headers["etag"]) == (304, b"", first.headers["etag"])
    assert "age" in unchanged.headers
    assert registry.renders == rendered  # nothing was asked of the service
    # A copy is the service's answer as the gateway forwards it: the request id is this request's own (the
    # gateway's, once), never the id of the request the copy was taken from; no hop-by-hop header.
    ids = [answer.headers.get_list("x-request-id") for answer in (first, again, unchanged)]
    assert [len(one) for one in ids] == [1, 1, 1]
    assert len({one[0] for one in ids}) == 3
    assert "connection" not in again.headers


async def test_after_a_change_the_gateway_never_answers_the_old_tree(
    edge: httpx.AsyncClient, registries: list[Server], nats_url: str
) -> None:
    registry = registry_of(registries[0])
    old = await kept_from_memory(edge)
    await change(nats_url, registry, ["助餐", "助浴"])

    async def new_tree() -> httpx.Response | None:
        answer = await edge.get(TREE)
        return answer if answer.json() == ["助餐", "助浴"] else None

    new = await eventually(new_tree)
    assert new.headers["etag"] != old.headers["etag"]
    # From then on only the new tree, from the service or from memory, and the old ETag no longer matches.
    for _ in range(20):
        assert (await edge.get(TREE)).json() == ["助餐", "助浴"]
    revalidated = await edge.get(TREE, headers={"If-None-Match": old.headers["etag"]})
    assert (revalidated.status_code, revalidated.json()) == (200, ["助餐", "助浴"])
    assert "age" in (await kept_from_memory(edge)).headers


async def test_an_answer_from_a_replica_the_gateway_does_not_listen_to_is_passed_on_not_kept(
    make_settings: Callable[..., GatewaySettings], registries: list[Server]
) -> None:
    listened, other = registries
    # The poll goes to the first replica; the requests take both in turn.
    settings = make_settings(registry_url=f"{listened.url},{other.url}", read_mostly_poll_seconds=5)
    async with gateway_over(settings) as client:
        await kept_from_memory(client)
        rendered = registry_of(other).renders
        for _ in range(6):
            assert (await client.get(TREE)).json() == ["助餐"]
        # Every answer came from memory now, and the other replica was never asked again.
        assert registry_of(other).renders == rendered


async def test_while_the_service_cannot_be_asked_nothing_comes_from_memory(
    make_settings: Callable[..., GatewaySettings], registries: list[Server]
) -> None:
    server = registries[0]
    registry = registry_of(server)
    settings = make_settings(registry_url=server.url, read_mostly_poll_seconds=5)
    async with gateway_over(settings) as client:
        await kept_from_memory(client)
        await server.stop()
        # The poll fails: what the gateway holds is not served (the caller gets the service's own refusal).

        async def refused() -> httpx.Response | None:
            answer = await client.get(TREE)
            return answer if answer.status_code == 503 else None

        refusal = await eventually(refused)
        assert refusal.headers["content-type"].startswith("application/problem+json")
        # The service comes back as a new process, with a tree changed while the gateway could not hear (an event
        # it never hears of): its versions name another boot, so the old copy is never served again.
        registry.restart(names=["助洁"])
        await server.start()

        async def back() -> httpx.Response | None:
            answer = await client.get(TREE)
            return answer if answer.status_code == 200 else None

        assert (await eventually(back)).json() == ["助洁"]
        assert (await kept_from_memory(client)).json() == ["助洁"]
        for _ in range(5):
            assert (await client.get(TREE)).json() == ["助洁"]


async def test_when_the_service_stops_hearing_nats_the_gateway_stops_answering_from_memory(
    edge: httpx.AsyncClient, registries: list[Server]
) -> None:
    registry = registry_of(registries[0])
    await kept_from_memory(edge)
    await registry.nc.close()
    rendered = registry.renders

    async def forwarded() -> bool:
        answer = await edge.get(TREE)
        return "age" not in answer.headers and answer.json() == ["助餐"]

    await eventually(forwarded)
    for _ in range(3):
        assert "age" not in (await edge.get(TREE)).headers
    assert registry.renders > rendered


async def test_a_private_answer_is_never_kept(edge: httpx.AsyncClient, registries: list[Server]) -> None:
    registry = registry_of(registries[0])
    registry.private = True
    rendered = registry.renders
    for _ in range(5):
        answer = await edge.get(TREE)
        assert (answer.json(), answer.headers["cache-control"], "age" in answer.headers) == (
            ["助餐"],
            "private, max-age=60",
            False,
        )
    # The service renders once (its own memory), and the gateway asked it every time.
    assert registry.renders == rendered + 1


async def test_copies_can_be_turned_off(
    make_settings: Callable[..., GatewaySettings], registries: list[Server]
) -> None:
    settings = make_settings(registry_url=registries[0].url, read_mostly_copies=False)
    async with gateway_over(settings) as client:
        for _ in range(5):
            answer = await client.get(TREE)
            assert (answer.json(), "age" in answer.headers) == (["助餐"], False)


async def test_the_metrics_count_answers_from_memory_and_copies_kept(
    make_settings: Callable[..., GatewaySettings], registries: list[Server]
) -> None:
    settings = make_settings(registry_url=registries[0].url, read_mostly_poll_seconds=5, metrics_port=0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        listener = f"http://127.0.0.1:{app.state.metrics_listener.port}/metrics"
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
            httpx.AsyncClient() as internal,
        ):

            async def counted(answer: str) -> float:
                text = (await internal.get(listener)).text
                return value(text, "linli_gateway_read_mostly_total", upstream="registry", answer=answer)

            memory, kept = await counted("memory"), await counted("kept")
            await kept_from_memory(client)
            for _ in range(4):
                assert "age" in (await client.get(TREE)).headers
            assert await counted("memory") - memory >= 5
            assert await counted("kept") - kept >= 1
