"""A provider's system as a real HTTP server on 127.0.0.1, and a registry allowed to reach it (loopback only)."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from registry.app import SERVICE_DIR
from registry.config import Settings
from service_kit.testing import service_settings

FAST_SCHEDULE = (0.05, 0.05)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every POST; answers each path with the statuses queued for it (then with ``default``)."""

    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)
    default: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def answer(self, path: str, *statuses: int) -> None:
        with self.lock:
            self.answers.setdefault(path, []).extend(statuses)

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def _respond(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.requests.append(Received(path, headers, body))
            queued = self.answers.get(path)
            return queued.pop(0) if queued else self.default


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = state._respond(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            reply = f'{{"received": true, "status": {status}}}'.encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # socketserver's default backlog is 5: two senders' bursts (up to 14 connections at once) overflowed it
        # and a connection was reset before its request was read. A provider's real server queues more.
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


# The registry of these tests may call 127.0.0.1 (never private ranges) and retries within milliseconds.
settings = service_settings(
    Settings,
    SERVICE_DIR,
    webhook_allow_loopback=True,
    webhook_retry_schedule_seconds=FAST_SCHEDULE,
    webhook_poll_seconds=0.05,
    webhook_timeout_seconds=3.0,
)
