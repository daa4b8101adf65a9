"""The kit's read-mostly change poll (service_kit.readmostly) as a server runs it: a poll waiting for a change
answers when its server begins to shut down, instead of holding the restart for its whole wait."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
import nats
import uvicorn
from fastapi import FastAPI, Request

from service_kit.readmostly import ReadMostly
from service_kit.server import HttpToolsProtocol
from service_kit.testing import eventually, listening_socket

# Ends a test that is broken (the poll's own wait is longer): never what is asserted.
GIVE_UP = 30.0


async def test_a_waiting_poll_answers_when_its_server_shuts_down(nats_url: str) -> None:
    read_mostly = ReadMostly("kit", {"things": ("linli.kit.thing.v1",)})
    app = FastAPI()
    nc = await nats.connect(nats_url)
    app.state.runtime = SimpleNamespace(nc=nc)

    @app.get("/poll")
    async def poll(request: Request, after: str = "", wait: float = 0) -> dict[str, Any]:
        return await read_mostly.changes(request, after, wait)

    sock = listening_socket()
    server = uvicorn.Server(uvicorn.Config(app, http=HttpToolsProtocol, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started or serving.done())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}") as client:
            first = (await client.get("/poll")).json()
            assert first["listening"] is True
            waiting = asyncio.create_task(client.get("/poll", params={"after": first["version"], "wait": 120}))
            await eventually(lambda: len(server.server_state.tasks) == 1)  # the poll is waiting in the server
            server.should_exit = True
            answered = await asyncio.wait_for(waiting, GIVE_UP)
        assert (answered.status_code, answered.json()) == (200, first)
        await asyncio.wait_for(serving, GIVE_UP)
    finally:
        server.should_exit = True
        await nc.close()
