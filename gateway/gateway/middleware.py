"""Edge middleware written as plain ASGI, so proxied responses stream through without buffering."""

from __future__ import annotations

import logging
import time
import uuid

import structlog
from asgi_correlation_id import correlation_id
from asgi_correlation_id.extensions.sentry import get_sentry_extension
from asgi_correlation_id.middleware import FAILED_VALIDATION_MESSAGE, is_valid_uuid4
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.errors import PayloadTooLarge, problem_response

log = structlog.get_logger("linli.http")
correlation_logger = logging.getLogger("asgi_correlation_id")


class BodyLimitMiddleware:
    """Refuses a request body above ``max_bytes`` with 413, whether declared (Content-Length) or streamed.

    The body is read here in full (it is small by definition) and handed on as one message, so the
    gateway's own endpoints and the proxy both see a body that is known to fit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the caller left before sending its body: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        buffered: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal buffered
            if buffered is not None:
                message, buffered = buffered, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"The request body exceeds the limit of {self.max_bytes} bytes.")
        await problem_response(error.to_problem(scope["path"]))(scope, receive, send)


class EdgeMiddleware:
    """The outermost edge of every request, in one pass (each ASGI layer costs a call per message, and these run
    on every proxied request: docs/gateway-benchmark.md):

    - the request id: the caller's ``X-Request-ID`` when it is a UUID (32 hex digits), else a new one; set as
      ``correlation_id`` (logs, forwarded requests) and returned in the answer's ``X-Request-ID``, as
      ``asgi_correlation_id.CorrelationIdMiddleware`` does;
    - security headers every answer carries unless the service chose its own: no MIME sniffing, no referrer,
      never in a frame; and HSTS when the request came over HTTPS;
    - one log line per request: method, path, status, duration (the request id comes from the context)."""

    HEADER = b"x-request-id"
    HEADERS: tuple[tuple[bytes, bytes], ...] = (
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", b"frame-ancestors 'none'"),
    )
    HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.sentry_extension = get_sentry_extension()

    def _request_id(self, scope: Scope) -> str:
        given = None
        for name, value in scope["headers"]:
            if name == self.HEADER:
                given = value.decode("latin-1")
                break
        if given and is_valid_uuid4(given):
            request_id = given
        else:
            request_id = uuid.uuid4().hex
            if given:
                correlation_logger.warning(FAILED_VALIDATION_MESSAGE, request_id)
            # The request's own header says the same as the answer's, for whatever reads it further in.
            scope["headers"] = [
                *((name, value) for name, value in scope["headers"] if name != self.HEADER),
                (self.HEADER, request_id.encode()),
            ]
        correlation_id.set(request_id)
        self.sentry_extension(request_id)
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

        async def send_at_the_edge(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                headers.append((self.HEADER, request_id))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_at_the_edge)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
