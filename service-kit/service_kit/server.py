"""The HTTP protocols every Linli server runs under uvicorn, with a deadline on reading a request's headers.

uvicorn bounds the wait for the next request on a kept-alive connection (``timeout_keep_alive``), but nothing
else: a client that opens a connection and sends nothing, or trickles its headers a byte at a time (slowloris),
holds a connection and its buffers for as long as it likes. The headers are read below ASGI, so no middleware
can see them; these subclasses of uvicorn's own protocols arm a timer when a request's headers begin (when the
connection opens, and at the first byte of each later request) and disarm it when they are complete. When it
fires, the connection is closed and the cut counted (``service_kit.edge.record_cut``). The body's deadline is
the ASGI layer's (``service_kit.edge.BodyLimitMiddleware``), so its 408 is a problem+json like every answer.

A connection closed before its request's body was all read (that 408, a 413 past what is drained, a request
refused early) closes as nginx's lingering close does: the answer is sent and the server's side shut (FIN), and
whatever the client still sends is read and dropped until it closes its side, or for ``LINGER_SECONDS`` at most.
Bytes that reach a closed socket make its kernel reset the connection, and a client whose next write then fails
(asyncio's streams, as many HTTP libraries) reports the reset rather than the answer it had received and not yet
read: a phone still trickling its upload would lose the very answer that says why it was cut off, and show
"connection reset".

Every server is started with one of them: ``uvicorn --http service_kit.server:HttpToolsProtocol`` (the images,
``make run``), or ``H11Protocol`` where httptools is not wanted. The deadline is
``LINLI_HEADER_READ_TIMEOUT_SECONDS`` (``service_kit.settings.EdgeSettings``); ``with_header_timeout`` makes a
protocol with another one (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
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


# How long a connection closed in the middle of its request's body lingers, reading and dropping what still
# comes, before it is closed outright (nginx's lingering_time is 30 s, its lingering_timeout 5 s).
LINGER_SECONDS = 5.0


class _LingeringTransport:
    """The connection's transport as uvicorn sees it: ``close()`` lingers (module docstring) when the protocol says
    its request's body is not all in; everything else is the transport's own."""

    def __init__(self, transport: asyncio.Transport, protocol: _HeaderDeadline) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closing = False

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        transport = self._transport
        protocol = self._protocol
        if (
            transport.is_closing()
            or not protocol._request_unfinished()
            or not transport.can_write_eof()
            or protocol.loop in _stopping  # a server shutting down waits for no refused body
        ):
            transport.close()
            return
        transport.write_eof()  # the answer goes out, then a FIN: the client reads it and the end of the stream
        protocol._linger()

    def is_closing(self) -> bool:
        return self._closing or self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


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
    _lingering: asyncio.TimerHandle | None = None
    _socket_transport: asyncio.Transport

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
        # uvicorn hands its own transport attribute to each request's cycle: they all close through this one.
        self._socket_transport = self.transport
        self.transport = _LingeringTransport(self.transport, self)  # type: ignore[assignment]
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        if self._lingering is not None:
            self._lingering.cancel()
            self._lingering = None
        super().connection_lost(exc)  # type: ignore[misc]

    def _request_unfinished(self) -> bool:
        """Whether a request's body is still arriving (the client may be sending while the connection closes)."""
        raise NotImplementedError

    def _linger(self) -> None:
        self._disarm_header_deadline()
        self._lingering = self.loop.call_later(LINGER_SECONDS, self._socket_transport.close)
        with contextlib.suppress(RuntimeError):  # a loop that refuses to resume a transport it had not paused
            self._socket_transport.resume_reading()  # uvicorn may have paused reading a body it had no room for

    def data_received(self, data: bytes) -> None:
        if self._lingering is None:
            super().data_received(data)  # type: ignore[misc]
        # lingering: the rest of a refused body, dropped

    def eof_received(self) -> None:
        if self._lingering is None:
            super().eof_received()  # type: ignore[misc]
        # Returning None, the transport closes: when lingering, the client has read the answer and closed its side.

    def shutdown(self) -> None:
        _stopping.add(self.loop)
        if self._lingering is not None:  # the server is stopping: it waits for no refused body
            self._lingering.cancel()
            self._lingering = None
            self._socket_transport.close()
            return
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
    """uvicorn's httptools protocol (the one Linli serves with) with the header deadline and the lingering close."""

    def _request_unfinished(self) -> bool:
        return self.cycle is not None and self.cycle.more_body

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()  # a later request on a kept-alive connection: its headers begin

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()


class H11Protocol(_HeaderDeadline, _UvicornH11Protocol):
    """uvicorn's h11 protocol with the header deadline and the lingering close."""

    def _request_unfinished(self) -> bool:
        return self.conn.their_state is h11.SEND_BODY

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
