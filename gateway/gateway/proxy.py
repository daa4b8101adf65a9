"""Forwarding: every path the gateway does not serve itself goes to the service that owns it.

Method, path, query, body and end-to-end headers go through unchanged; hop-by-hop headers are dropped;
``X-Forwarded-*`` and ``X-Request-ID`` are added. The response streams back as the service sends it.
A bearer token is checked here too (services check it again), so a bad token is refused at the edge, and the
role × route policy (gateway/policy.py) is enforced before anything is forwarded.
Which replica of the service answers, and what happens when one fails, is gateway/upstreams.py's business.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable

import structlog
from asgi_correlation_id import correlation_id
from multidict import CIMultiDict
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from gateway import open311, policy
from gateway.apikeys.exchange import ApiKeyExchange, presented_api_key
from gateway.config import GatewaySettings
from gateway.errors import BadGateway
from gateway.forwarded import PEER_KEY
from gateway.http1 import UpstreamError
from gateway.ratelimit import EdgeLimiter
from gateway.readmostly import MARK, Answer, EdgeCopies
from gateway.residents import erasure
from gateway.routes import GATEWAY, owner_of, timeout_for
from gateway.transport import Response
from gateway.upstreams import Upstreams
from service_kit import tracing
from service_kit.auth import TokenVerifier
from service_kit.errors import LinliError, NotFound, Unauthorized, problem_response

log = structlog.get_logger("linli.gateway.proxy")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by the gateway itself rather than copied from the caller (the body is already read: no ``Expect``).
_REPLACED_REQUEST_HEADERS = frozenset(
    {"host", "content-length", "expect", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id"}
)
# Set by the gateway's own server and middleware (the request id is the same one): never twice in a response.
_REPLACED_RESPONSE_HEADERS = frozenset({"x-request-id", "date", "server"})
CHUNK_BYTES = 64 * 1024
# The Open311 GeoReport v2 facade (feedback-service): its clients expect the standard's error list.
OPEN311 = "/open311/"


_DROPPED_REQUEST_HEADERS = frozenset(name.encode() for name in HOP_BY_HOP | _REPLACED_REQUEST_HEADERS)
# The kit's read-mostly version (gateway/readmostly.py) is for the gateway alone.
_DROPPED_RESPONSE_HEADERS = frozenset(name.encode() for name in HOP_BY_HOP | _REPLACED_RESPONSE_HEADERS) | {MARK}


def _connection_tokens(value: bytes) -> set[bytes]:
    """Headers named in ``Connection`` are hop-by-hop too (RFC 9110 §7.6.1)."""
    return {token.strip().lower() for token in value.split(b",") if token.strip()}


class _Incoming:
    """What forwarding needs of the caller's request, read once from the ASGI scope (no Starlette ``Request``:
    on a proxied request its lazy properties cost more than the few fields used here)."""

    __slots__ = ("authorization", "headers", "method", "path", "x_api_key")

    def __init__(self, scope: Scope) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        raw: list[tuple[bytes, bytes]] = scope["headers"]
        dropped = _DROPPED_REQUEST_HEADERS
        connection = forwarded_for = host = authorization = x_api_key = None
        for name, value in raw:  # the first of a repeated header counts, as with Starlette's ``Headers.get``
            if name == b"connection":
                connection = connection or value
            elif name == b"x-forwarded-for":
                forwarded_for = forwarded_for or value
            elif name == b"host":
                host = host or value
            elif name == b"authorization":
                authorization = value if authorization is None else authorization
            elif name == b"x-api-key":
                x_api_key = value if x_api_key is None else x_api_key
        if connection is not None:
            dropped = dropped | _connection_tokens(connection)
        # ASGI servers give header names in lower case; the caller's order and repeated headers are kept.
        headers = CIMultiDict(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in raw if name.lower() not in dropped
        )
        # The chain as received, and the socket's peer (gateway/forwarded.py keeps it when it derives the client).
        client = scope.get("client")
        peer = scope.get(PEER_KEY) or (client[0] if client else None)
        forwarded = [part for part in (forwarded_for, peer.encode() if peer else None) if part]
        if forwarded:
            headers["X-Forwarded-For"] = b", ".join(forwarded).decode("latin-1")
        headers["X-Forwarded-Proto"] = scope.get("scheme", "http")
        if host:
            headers["X-Forwarded-Host"] = host.decode("latin-1")
        headers["X-Request-ID"] = correlation_id.get() or uuid.uuid4().hex
        self.headers = headers
        self.authorization = authorization.decode("latin-1").strip() if authorization is not None else ""
        self.x_api_key = x_api_key.decode("latin-1") if x_api_key is not None else None

    def bearer_token(self) -> str | None:
        """The bearer token (empty when the header names the scheme but carries none); None when there is none."""
        scheme, _, token = self.authorization.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None

    def api_key(self) -> str | None:
        """The API key of ``Authorization: ApiKey <key>`` or ``X-API-Key``; None when there is none."""
        return presented_api_key(self.authorization, self.x_api_key)


def response_headers(response: Response) -> list[tuple[bytes, bytes]]:
    dropped = _DROPPED_RESPONSE_HEADERS
    if connection := response.header(b"connection"):
        dropped = dropped | _connection_tokens(connection)
    return [(lowered, value) for name, value in response.raw_headers if (lowered := name.lower()) not in dropped]


async def _read_body(receive: Receive) -> bytes:
    """The request body (BodyLimitMiddleware has already read it and hands it on as one message)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# How long a call to a service goes before the gateway listens for its caller leaving.
_LISTEN_AFTER_SECONDS = 0.02


class _CallerLeft(Exception):
    """The caller closed its connection before the service answered."""


async def _unless_the_caller_leaves(call: Awaitable[Response], receive: Receive) -> Response:
    """The service's answer to ``call``, unless the caller leaves first (``receive`` says ``http.disconnect``):
    then the call is cancelled and ``_CallerLeft`` raised. Waiting on for a caller who is gone would hold a
    connection to the service for nothing; and a cancelled call proves nothing about the replica, so its circuit
    breaker does not count it as a failure (``CircuitBreakers.abandoned``). The request log says 499.

    Most answers come within milliseconds, and listening costs a task (tens of µs, docs/gateway-benchmark.md):
    the caller is listened to only once the call has taken ``_LISTEN_AFTER_SECONDS`` (a caller who left sooner is
    heard at once then)."""
    task = asyncio.current_task()
    assert task is not None
    listening: asyncio.Future[Message] | None = None
    left = False

    def heard(message: asyncio.Future[Message]) -> None:
        nonlocal left
        if message.cancelled() or message.exception() is not None:
            return
        if message.result()["type"] == "http.disconnect":
            left = True
            task.cancel()

    def listen() -> None:
        nonlocal listening
        listening = asyncio.ensure_future(receive())
        listening.add_done_callback(heard)

    timer = asyncio.get_running_loop().call_later(_LISTEN_AFTER_SECONDS, listen)
    try:
        return await call
    except asyncio.CancelledError:
        if left and task.uncancel() == 0:  # our own cancellation, not the server's (shutting down)
            raise _CallerLeft from None
        raise
    finally:
        timer.cancel()
        if listening is not None:
            listening.remove_done_callback(heard)
            listening.cancel()


class Proxy:
    """The router's fallback app: reached only when no gateway route matched the path."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await WebSocketClose()(scope, receive, send)
            return
        try:
            upstream, response = await self._forward(scope, receive)
        except LinliError as exc:
            headers = {}
            if "retry_after" in exc.extra:
                headers["Retry-After"] = str(exc.extra["retry_after"])
            if exc.status == 401:
                headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            # On /open311 the standard's error list, as the facade's own (service_kit.errors.problem_response).
            path = Request(scope, receive).url.path
            await problem_response(exc.to_problem(path), headers)(scope, receive, send)
            return
        except _CallerLeft:
            return  # nobody to answer
        if isinstance(response, Answer):
            await response.send(send)
            return
        if (erased := erasure.erased_by(scope["method"], scope["path"], response.status)) is not None:
            # Booking erased the resident: the gateway forgets their app account before the answer leaves.
            await erasure.forget_after(scope["app"].state.sessionmaker, erased)
        await self._stream_back(upstream, response, send)

    async def _forward(self, scope: Scope, receive: Receive) -> tuple[str, Response | Answer]:
        incoming = _Incoming(scope)
        method, path = incoming.method, incoming.path
        upstream = owner_of(path)
        if upstream is None or upstream == GATEWAY:
            raise NotFound("Linli has no endpoint at this path.")
        state = scope["app"].state
        headers = incoming.headers
        api_key = incoming.api_key()
        token = incoming.bearer_token()
        query: str = scope.get("query_string", b"").decode("latin-1")
        body: bytes | None = None
        if api_key is None and token is None and path.startswith(OPEN311):
            # A GeoReport client's key is the standard's ``api_key`` parameter (query or form), not a header.
            body = await _read_body(receive)
            api_key, query, body = open311.take_api_key(query, body, incoming.headers.get("Content-Type", ""))
        limiter: EdgeLimiter = state.limiter
        if api_key is not None:
            # A provider's system: its key becomes a short-lived token, and the key never leaves the edge.
            exchange: ApiKeyExchange = state.api_keys
            exchanged = await exchange.exchange(api_key, state.keyring.current)
            await limiter.check(limiter.api_key, "api-key", str(exchanged.key_id))
            rule = policy.authorize(method, path, None, key_scopes=exchanged.scopes)
            headers.popall("X-API-Key", None)
            headers["Authorization"] = f"Bearer {exchanged.token}"
        elif token is not None:
            if not token:
                raise Unauthorized("The bearer token is empty.", code="invalid_token")
            verifier: TokenVerifier = state.token_verifier
            principal = await verifier.verify(token)
            await limiter.check(limiter.principal, "principal", principal.subject)
            rule = policy.authorize(method, path, principal)
        else:
            client = scope.get("client")
            await limiter.check(limiter.anonymous, "ip", client[0] if client else "unknown")
            rule = policy.authorize(method, path, None)
        # The span is named by the policy row's template (the route), never by the path: ids stay out of it.
        tracing.name_route(method, rule.path)
        upstreams: Upstreams = state.upstreams
        raw_path: bytes = scope.get("raw_path") or path.encode()
        target = raw_path.split(b"?", 1)[0].decode("latin-1")
        if query:
            target += "?" + query
        copies: EdgeCopies = state.read_mostly
        if method == "GET" and copies.enabled:
            # A public read-mostly answer the gateway holds, still true: no call (gateway/readmostly.py).
            answer = copies.lookup(upstream, target, headers)
            if answer is not None:
                return upstream, answer
        settings: GatewaySettings = state.settings
        timeout = timeout_for(path, settings.upstream_timeout_seconds)
        if body is None:
            body = await _read_body(receive)
        # The service continues the trace under the gateway's call (its traceparent replaces the caller's).
        with tracing.outgoing(f"{method} {rule.path}", headers, {"linli.upstream": upstream}) as span:
            call = upstreams.request(upstream, method, target, headers=headers, body=body, timeout=timeout)
            response = await _unless_the_caller_leaves(call, receive)
            if span is not None and span.is_recording():
                span.set_attribute("http.response.status_code", response.status)
        if method == "GET" and copies.enabled:
            try:
                kept = await copies.keep(upstream, target, response, response_headers)
            except (UpstreamError, TimeoutError) as exc:
                raise BadGateway(f"The {upstream} service broke off its answer.") from exc
            if kept is not None:
                return upstream, kept
        return upstream, response

    async def _stream_back(self, upstream: str, response: Response, send: Send) -> None:
        try:
            await send(
                {"type": "http.response.start", "status": response.status, "headers": response_headers(response)}
            )
            length = response.content_length
            if length is not None and length <= CHUNK_BYTES:
                # A small answer of known length goes on in one message (one pass fewer through the middleware).
                await send({"type": "http.response.body", "body": await response.read(), "more_body": False})
                return
            async for chunk in response.iter_chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (UpstreamError, TimeoutError) as exc:
            # Headers are gone already: the only honest signal left is an incomplete response.
            log.warning("service broke off its response", upstream=upstream, error=repr(exc))
            response.close()
        finally:
            response.release()
