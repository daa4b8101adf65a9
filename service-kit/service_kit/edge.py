"""The edge of every Linli server, the gateway's and each service's alike: plain ASGI middleware, so answers
(proxied ones too) stream through without buffering.

A service reached on its own port behaves as the gateway does: the same request id, security headers and
``Cache-Control: no-store`` by default, the same body limit and body deadline, the same request log (a caller
that left before its answer began is logged as 499, as nginx does, never as 500). The header deadline is read
below ASGI (``service_kit.server``). Clients cut off are counted in ``CUTS`` and in ``/metrics``
(``linli_edge_cuts_total``, service_kit.metrics) and logged, each line with the running count.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog
from asgi_correlation_id import correlation_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit import metrics
from service_kit.errors import LinliError, PayloadTooLarge, RequestTimeout, problem_response

log = structlog.get_logger("linli.http")

# The status logged for a request whose caller left before its answer began (nginx's "client closed request").
CLIENT_CLOSED_REQUEST = 499

# Clients this process cut off, by why: ``header_read_timeout`` (service_kit.server), ``body_read_timeout``.
CUTS: Counter[str] = Counter()


def request_id() -> str | None:
    """The id of the request under way (``EdgeMiddleware``), for what it forwards and logs; None outside one."""
    return correlation_id.get()


def _is_uuid(value: str) -> bool:
    """A UUID in any of its spellings (32 hex digits, with or without hyphens): nginx's ``$request_id`` too."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def record_cut(reason: str, **fields: Any) -> None:
    """Count a client cut off, and log it with the count so far (a log search reads the rate without metrics)."""
    CUTS[reason] += 1
    metrics.EDGE_CUTS.labels(reason).inc()
    log.warning("client cut off", reason=reason, count=CUTS[reason], **fields)


# What is read and dropped of a refused body at most, and for how long, before its connection closes.
DRAIN_BYTES = 8 * 1024 * 1024
DRAIN_SECONDS = 5.0


async def _drain(receive: Receive) -> None:
    """Read the rest of a refused request body and drop it, within ``DRAIN_BYTES`` and ``DRAIN_SECONDS``."""
    drained = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while drained <= DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
                drained += len(message.get("body", b""))
    except TimeoutError:
        return


class BodyLimitMiddleware:
    """Reads the request body in full before anything else sees it, and refuses it:

    - with 413 when it is above ``max_bytes``, declared (Content-Length, before a byte of it is read) or streamed
      (chunked);
    - with 408 when it has not all arrived ``read_timeout_seconds`` after the request began: one deadline for the
      whole body, not one per chunk, so a client trickling it a byte at a time is cut off as surely as one that
      stops. The cut is counted (``record_cut``).

    Both answers close the connection (``Connection: close``). Before a 413, what is left of the body is read and
    dropped, up to ``DRAIN_BYTES`` within ``DRAIN_SECONDS`` (as nginx's lingering close does; once the answer is
    sent the server reads no more): closing a socket with unread data in it makes the kernel reset the connection,
    and a caller still sending its body may then lose the answer. A body larger still, or a trickle, is cut. The body
    is handed on as one message (it is small by definition), so the endpoints (and the gateway's proxy) see a
    body that is known to fit and has already arrived.

    A route that takes a document (``is_upload(path)``, for a POST) may have a body of ``upload_bytes``
    instead: the document limit is the only larger one, and only there.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        read_timeout_seconds: float = 30.0,
        *,
        upload_bytes: int | None = None,
        is_upload: Callable[[str], bool] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout_seconds = read_timeout_seconds
        self.upload_bytes = upload_bytes
        self.is_upload = is_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if self.upload_bytes and self.is_upload and scope["method"] == "POST" and self.is_upload(scope["path"]):
            limit = max(limit, self.upload_bytes)
        declared = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
        if declared.isdigit() and int(declared) > limit:
            await _drain(receive)
            await self._refuse(scope, receive, send, self._too_large(limit))
            return
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.read_timeout_seconds):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return  # the caller left before sending its body: nothing to answer
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        if message.get("more_body", False):
                            await _drain(receive)
                        await self._refuse(scope, receive, send, self._too_large(limit))
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            record_cut("body_read_timeout", path=scope["path"], received_bytes=size, seconds=self.read_timeout_seconds)
            late = RequestTimeout(
                f"The request body did not arrive within {self.read_timeout_seconds:g} s.", received_bytes=size
            )
            await self._refuse(scope, receive, send, late)
            return
        buffered: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal buffered
            if buffered is not None:
                message, buffered = buffered, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self, limit: int) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: LinliError) -> None:
        response = problem_response(error.to_problem(scope["path"]), {"Connection": "close"})
        await response(scope, receive, send)


class EdgeMiddleware:
    """The outermost edge of every request, in one pass (each ASGI layer costs a call per message, and these run
    on every proxied request: docs/gateway-benchmark.md):

    - the request id: the caller's ``X-Request-ID`` when it is a UUID (32 hex digits), else a new one; set as
      ``correlation_id`` (logs, forwarded requests) and returned in the answer's ``X-Request-ID``, as
      ``asgi_correlation_id.CorrelationIdMiddleware`` does;
    - headers every answer carries unless the route chose its own: no MIME sniffing, no referrer, never in a
      frame, and ``Cache-Control: no-store`` (answers carry personal data; a public route that may be cached says
      so itself, e.g. ``public, max-age=300``); HSTS when the request came over HTTPS;
    - one log line per request: method, path, status, duration (the request id comes from the context); 499 when
      the caller left before the answer began."""

    HEADER = b"x-request-id"
    HEADERS: tuple[tuple[bytes, bytes], ...] = (
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", b"frame-ancestors 'none'"),
        (b"cache-control", b"no-store"),
    )
    HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def _request_id(self, scope: Scope) -> str:
        given = None
        for name, value in scope["headers"]:
            if name == self.HEADER:
                given = value.decode("latin-1")
                break
        if given and _is_uuid(given):
            request_id = given
        else:
            request_id = uuid.uuid4().hex
            if given:
                log.warning("request id refused: not a UUID; a new one is used", request_id=request_id)
            # The request's own header says the same as the answer's, for whatever reads it further in.
            scope["headers"] = [
                *((name, value) for name, value in scope["headers"] if name != self.HEADER),
                (self.HEADER, request_id.encode()),
            ]
        correlation_id.set(request_id)
        return request_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                self._request_id(scope)
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = self._request_id(scope).encode("latin-1")
        extra = (*self.HEADERS, self.HSTS) if scope.get("scheme") == "https" else self.HEADERS
        status = 500
        answered = left = False

        async def receive_at_the_edge() -> Message:
            nonlocal left
            message = await receive()
            if message["type"] == "http.disconnect" and not answered:
                left = True
            return message

        async def send_at_the_edge(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                headers.append((self.HEADER, request_id))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive_at_the_edge, send_at_the_edge)
        finally:
            if left and not answered:
                status = CLIENT_CLOSED_REQUEST
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
