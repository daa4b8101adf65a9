"""Fixtures of the gateway's suite: tiny services served by uvicorn on real ports, and the gateway in front."""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from gateway.accounts import service as accounts_service
from gateway.accounts.schemas import AccountCreate
from gateway.app import SERVICE_DIR, create_app
from gateway.config import GatewaySettings
from gateway.routes import UPSTREAMS
from service_kit.testing import DatabaseFactory, eventually, listening_socket, refusing_socket, running_app

DOWNLOAD_BYTES = 3 * 1024 * 1024 + 17


@functools.cache
def download_body() -> bytes:
    return bytes(i % 251 for i in range(DOWNLOAD_BYTES))


# ------------------------------------------------------------------ tiny services behind the gateway


def _typed_routes(name: str, app: FastAPI) -> None:
    """Routes with models, so the services' OpenAPI documents clash on ``Offering`` as real ones may."""
    if name == "registry":

        class Offering(BaseModel):
            id: uuid.UUID
            name_zh: str
            price_fen: int

        @app.get("/api/v1/offerings/{offering_id}", response_model=Offering)
        async def get_offering(offering_id: uuid.UUID) -> Offering:
            return Offering(id=offering_id, name_zh="老年餐桌", price_fen=1500)

    if name == "booking":

        class Offering(BaseModel):  # type: ignore[no-redef]
            id: uuid.UUID
            capacity_per_slot: int

        class Booking(BaseModel):
            id: uuid.UUID
            offering: Offering

        @app.get("/api/v1/bookings/{booking_id}", response_model=Booking)
        async def get_booking(booking_id: uuid.UUID) -> Booking:
            return Booking(id=booking_id, offering=Offering(id=uuid.uuid4(), capacity_per_slot=4))

        # The resident records booking knows (E.164 phone → record id), what the gateway asked at each sign-in,
        # and a status to answer instead (to play a booking that fails).
        app.state.resident_records = {}
        app.state.link_calls = []
        app.state.link_status = None

        @app.post("/internal/v1/resident-links", include_in_schema=False)
        async def resident_links(request: Request) -> Response:
            body = await request.json()
            app.state.link_calls.append({"authorization": request.headers.get("authorization", ""), **body})
            if app.state.link_status is not None:
                return JSONResponse({"code": "internal_error"}, status_code=app.state.link_status)
            record = app.state.resident_records.get(body["phone"])
            if record is None:
                return JSONResponse({"code": "no_resident_for_phone"}, status_code=404)
            return JSONResponse({"resident_id": str(record)})

        # The records booking has erased, what it answers a DELETE of a resident with (204: erased), and the
        # erasure checks the gateway's reconciliation made.
        app.state.erased_records = set()
        app.state.erase_status = 204
        app.state.erasure_checks = []

        @app.delete("/api/v1/residents/{resident_id}", include_in_schema=False)
        async def erase_resident(resident_id: uuid.UUID) -> Response:
            if app.state.erase_status != 204:
                return JSONResponse({"code": "resident_has_active_bookings"}, status_code=app.state.erase_status)
            app.state.erased_records.add(resident_id)
            return Response(status_code=204)

        @app.post("/internal/v1/resident-links/erased", include_in_schema=False)
        async def erased_residents(request: Request) -> Response:
            asked = [uuid.UUID(r) for r in (await request.json())["resident_ids"]]
            app.state.erasure_checks.append(asked)
            return JSONResponse({"erased": [str(r) for r in asked if r in app.state.erased_records]})


def echo_service(name: str) -> FastAPI:
    """A service that answers every request by describing it; headers steer its answer:
    ``x-echo-status`` (status), ``x-echo-sleep`` (seconds before answering)."""
    app = FastAPI(title=f"echo {name}")
    app.state.ready = True
    app.state.nats = True  # False: ready without NATS, as a service says while its events wait in its outbox
    app.state.requests = []
    app.state.download_bytes = DOWNLOAD_BYTES

    @app.get("/readyz")
    async def readyz() -> Response:
        status = "ready" if app.state.nats else "degraded"
        return JSONResponse({"status": status}, status_code=200 if app.state.ready else 503)

    @app.get("/api/v1/offerings/download")
    async def download() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            sent = 0
            # Made once: the answer streams as fast as the socket takes it, within the gateway's deadline for the
            # whole body (gateway/http1.py), however busy the machine.
            whole = download_body()
            while sent < DOWNLOAD_BYTES:
                size = min(50_000, DOWNLOAD_BYTES - sent)
                yield whole[sent : sent + size]
                sent += size

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @app.get("/api/v1/categories/compressed")
    async def compressed() -> Response:
        body = gzip.compress(json.dumps({"categories": ["elderly.meal_table"] * 100}).encode())
        return Response(body, media_type="application/json", headers={"Content-Encoding": "gzip"})

    _typed_routes(name, app)

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def echo(request: Request) -> Response:
        body = await request.body()
        app.state.requests.append(request.headers)
        if sleep := request.headers.get("x-echo-sleep"):
            await asyncio.sleep(float(sleep))
        status = int(request.headers.get("x-echo-status", "200"))
        response = JSONResponse(
            {
                "service": name,
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope["raw_path"].decode(),
                "query": request.scope["query_string"].decode(),
                "headers": [[k.decode(), v.decode()] for k, v in request.headers.raw],
                "body": body.decode("utf-8", "replace"),
            },
            status_code=status,
        )
        response.headers.append("set-cookie", "district=fangshan")
        response.headers.append("set-cookie", "circle=15min")
        response.headers["x-served-by"] = name
        if 300 <= status < 400:
            response.headers["location"] = "/api/v1/somewhere-else"
        return response

    return app


class Server:
    """One ASGI app served by uvicorn in the test's event loop, on a port of 127.0.0.1 that stays its own until
    ``close``: while the server is stopped the port refuses connections (a service that is down) and is never
    handed to another process; started again, the server listens on it again."""

    def __init__(self, app: Any, *, lifespan: str = "off") -> None:
        self.app = app
        self.lifespan = lifespan
        self._port = refusing_socket()
        self.port = int(self._port.getsockname()[1])
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Server:
        config = uvicorn.Config(self.app, log_level="warning", lifespan=self.lifespan, timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        # uvicorn closes the listening socket when it stops; the refusing one keeps the port meanwhile.
        listening = listening_socket("127.0.0.1", self.port)
        self._task = asyncio.create_task(self._server.serve(sockets=[listening]))
        await eventually(lambda: self._server is not None and (self._server.started or self._task_failed()))
        return self

    def _task_failed(self) -> bool:
        if self._task is not None and self._task.done():
            self._task.result()  # raises what uvicorn raised
        return False

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    async def close(self) -> None:
        await self.stop()
        self._port.close()


@pytest.fixture
async def services() -> AsyncIterator[dict[str, Server]]:
    """The four services, each an echo service on its own port."""
    servers = {name: Server(echo_service(name)) for name in UPSTREAMS}
    await asyncio.gather(*(server.start() for server in servers.values()))
    yield servers
    await asyncio.gather(*(server.close() for server in servers.values()))


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    """Serve any ASGI app on a real port for the length of the test: ``server = await serve(app)``."""
    started: list[Server] = []

    async def start(app: Any, *, lifespan: str = "off") -> Server:
        server = Server(app, lifespan=lifespan)
        started.append(server)
        return await server.start()

    yield start
    for server in started:
        await server.close()


# ------------------------------------------------------------------ the gateway


@pytest.fixture
def database_url(database_factory: DatabaseFactory) -> str:
    return database_factory.new(SERVICE_DIR)


@pytest.fixture
def make_settings(database_url: str, tmp_path: Any) -> Callable[..., GatewaySettings]:
    def make(services: dict[str, Server] | None = None, **overrides: Any) -> GatewaySettings:
        urls = {f"{name}_url": server.url for name, server in (services or {}).items()}
        values: dict[str, Any] = {
            "environment": "test",
            "var_dir": tmp_path,
            "database_url": database_url,
            "log_level": "WARNING",
            "upstream_timeout_seconds": 2.0,
            "health_timeout_seconds": 1.0,
            "openapi_cache_seconds": 0,
            **urls,
            **overrides,
        }
        return GatewaySettings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., GatewaySettings], services: dict[str, Server]) -> GatewaySettings:
    return make_settings(services)


@pytest.fixture
async def gateway(settings: GatewaySettings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(gateway: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@asynccontextmanager
async def gateway_client(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app(settings), wait_for_events=False) as client:
        yield client


@pytest.fixture
def production() -> dict[str, Any]:
    """Settings production needs: a real data key and a real SMS sender (made-up credentials: nothing is sent)."""
    return {
        "environment": "production",
        "data_key": "a-production-data-key-0123456789abcdef",
        "public_base_url": "https://linli.fangshan.example",
        "sms_sender": "tencent",
        "sms_tencent_secret_id": "AKIDexample",
        "sms_tencent_secret_key": "example-secret",
        "sms_tencent_app_id": "1400000000",
        "sms_template_ids": {"sign_in_code": "2000001"},
    }


@pytest.fixture
def open_gateway() -> Callable[[GatewaySettings], Any]:
    """A gateway with other settings than the default fixture's (``async with open_gateway(s) as client``)."""
    return gateway_client


# ------------------------------------------------------------------ accounts and tokens

CreateAccount = Callable[..., Awaitable[dict[str, Any]]]


async def _create_account_in(
    app: FastAPI, username: str, *roles: str, password: str = "correct horse battery", **fields: Any
) -> dict[str, Any]:
    data = AccountCreate(username=username, password=password, roles=list(roles or ["operator"]), **fields)
    async with app.state.sessionmaker() as session, session.begin():
        account = await accounts_service.create(session, data)
        return {"id": str(account.id), "username": account.username, "password": password}


@pytest.fixture
def create_account_in() -> Callable[..., Awaitable[dict[str, Any]]]:
    """Create an account in a running gateway's database, straight through the accounts service (as the CLI)."""
    return _create_account_in


@pytest.fixture
def create_account(gateway: FastAPI) -> CreateAccount:
    """Create an account in the default gateway."""

    async def create(username: str, *roles: str, **fields: Any) -> dict[str, Any]:
        return await _create_account_in(gateway, username, *roles, **fields)

    return create


@pytest.fixture
def sign_in(client: httpx.AsyncClient) -> Callable[[str, str], Awaitable[dict[str, str]]]:
    async def sign_in(username: str, password: str = "correct horse battery") -> dict[str, str]:
        response = await client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return sign_in


@pytest.fixture
async def admin_headers(create_account: CreateAccount, sign_in: Any) -> dict[str, str]:
    await create_account("admin", "admin", name="平台管理员")
    headers: dict[str, str] = await sign_in("admin")
    return headers
