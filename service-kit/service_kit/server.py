"""The HTTP protocols every Linli server runs under uvicorn, with a deadline on reading a request's headers.

uvicorn bounds the wait for the next request on a kept-alive connection (``timeout_keep_alive``), but nothing
else: a client that opens a connection and sends nothing, or trickles its headers a byte at a time (slowloris),
holds a connection and its buffers for as long as it likes. The headers are read below ASGI, so no middleware
can see them; these subclasses of uvicorn's own protocols arm a timer when a request's headers begin (when the
connection opens, and at the first byte of each later request) and disarm it when they are complete. When it
fires, the connection is closed and the cut counted (``service_kit.edge.record_cut``). The body's deadline is
the ASGI layer's (``service_kit.edge.BodyLimitMiddleware``), so its 408 is a problem+json like every answer.

Every server is started with one of them: ``uvicorn --http service_kit.server:HttpToolsProtocol`` (the images,
``make run``), or ``H11Protocol`` where httptools is not wanted. The deadline is
``LINLI_HEADER_READ_TIMEOUT_SECONDS`` (``service_kit.settings.EdgeSettings``); ``with_header_timeout`` makes a
protocol with another one (tests).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import weakref
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol as _UvicornH11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _UvicornHttpToolsProtocol

from service_kit.edge import record_cut
from service_kit.settings import EdgeSettings


@functools.cache
def _configured_header_timeout() -> float:
    return EdgeSettings().header_read_timeout_seconds


def _no_delay(transport: asyncio.BaseTransport) -> None:
    """Send each write at once (``TCP_NODELAY``), as the event loop does for every TCP connection it knows is one.

    A socket handed over by its descriptor (``uvicorn --fd``: ``make run``, the image check, the benchmarks) is
    taken for a Unix socket by uvicorn, so the loop leaves Nagle's algorithm on. An answer goes out as two writes
    (headers, then body): the body then waited for the client's delayed acknowledgement of the headers, 40 ms on
    Linux, on every answer (23 requests a second on one connection). The socket's real family says what it is."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    try:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN) in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not a socket this platform can ask (no SO_DOMAIN): left as the loop set it
        pass


# The event loops whose server has begun to shut down (uvicorn tells each open connection; the app hears nothing
# until every request under way has ended, so a long poll would hold the shutdown for its whole wait).
_stopping: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def shutting_down() -> bool:
    """Whether the server of this event loop has begun to shut down: a request that waits for something (a long
    poll) answers now instead."""
    try:
        return asyncio.get_running_loop() in _stopping
    except RuntimeError:
        return False


class _HeaderDeadline:
    """The timer both protocols share; ``header_read_timeout_seconds`` None: the environment's setting."""

    header_read_timeout_seconds: ClassVar[float | None] = None
    transport: asyncio.Transport
    client: tuple[str, int] | None
    loop: asyncio.AbstractEventLoop
    _header_deadline: asyncio.TimerHandle | None = None

    def _header_timeout(self) -> float:
        configured = type(self).header_read_timeout_seconds
        return configured if configured is not None else _configured_header_timeout()

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self._header_timeout(), self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    # Both protocols: the first request's headers begin when the connection opens.
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        _no_delay(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)  # type: ignore[misc]

    def shutdown(self) -> None:
        _stopping.add(self.loop)
        super().shutdown()  # type: ignore[misc]

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        record_cut(
            "header_read_timeout",
            client=self.client[0] if self.client else None,
            seconds=self._header_timeout(),
        )
        self.transport.close()


class HttpToolsProtocol(_HeaderDeadline, _UvicornHttpToolsProtocol):
    """uvicorn's httptools protocol (the one Linli serves with) with the header deadline."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()  # a later request on a kept-alive connection: its headers begin

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()


class H11Protocol(_HeaderDeadline, _UvicornH11Protocol):
    """uvicorn's h11 protocol with the header deadline."""

    def handle_events(self) -> None:
        super().handle_events()
        if self.transport.is_closing():
            self._disarm_header_deadline()
        elif self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()  # the request line and headers are in (h11.Request was handled)
        elif self.conn.trailing_data[0]:
            self._arm_header_deadline()  # some of the next request's headers, not all


def with_header_timeout(protocol: type[Any], seconds: float) -> type[Any]:
    """``protocol`` with a header deadline of ``seconds`` rather than the environment's (a test's server)."""
    return type(protocol.__name__, (protocol,), {"header_read_timeout_seconds": seconds})
