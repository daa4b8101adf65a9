"""Forwarding: every path the gateway does not serve itself goes to the service that owns it.

Method, path, query, body and end-to-end headers go through unchanged; hop-by-hop headers are dropped;
``X-Forwarded-*`` and ``X-Request-ID`` are added. The response streams back as the service sends it.
A bearer token is checked here too (services check it again), so a bad token is refused at the edge, and the
role × route policy (gateway/policy.py) is enforced before anything is forwarded.
Which replica of the service answers, and what happens when one fails, is gateway/upstreams.py's business.
"""

from __future__ import annotations

import uuid

import aiohttp
import structlog
from asgi_correlation_id import correlation_id
from multidict import CIMultiDict
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from gateway import policy
from gateway.apikeys.exchange import ApiKeyExchange
from gateway.config import GatewaySettings
from gateway.ratelimit import EdgeLimiter, client_ip
from gateway.routes import GATEWAY, owner_of, timeout_for
from gateway.upstreams import Upstreams
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


def _connection_tokens(value: str | None) -> set[str]:
    """Headers named in ``Connection`` are hop-by-hop too (RFC 9110 §7.6.1)."""
    return {token.strip().lower() for token in (value or "").split(",") if token.strip()}


def request_headers(request: Request) -> CIMultiDict[str]:
    dropped = HOP_BY_HOP | _REPLACED_REQUEST_HEADERS | _connection_tokens(request.headers.get("connection"))
    headers: CIMultiDict[str] = CIMultiDict()
    for raw_name, raw_value in request.headers.raw:
        name = raw_name.decode("latin-1")
        if name.lower() not in dropped:
            headers.add(name, raw_value.decode("latin-1"))
    forwarded_for = [request.headers.get("x-forwarded-for"), request.client.host if request.client else None]
    if any(forwarded_for):
        headers["X-Forwarded-For"] = ", ".join(part for part in forwarded_for if part)
    headers["X-Forwarded-Proto"] = request.url.scheme
    if host := request.headers.get("host"):
        headers["X-Forwarded-Host"] = host
    headers["X-Request-ID"] = correlation_id.get() or uuid.uuid4().hex
    return headers


def response_headers(response: aiohttp.ClientResponse) -> list[tuple[bytes, bytes]]:
    dropped = HOP_BY_HOP | _REPLACED_RESPONSE_HEADERS | _connection_tokens(response.headers.get("Connection"))
    return [
        (name.lower(), value) for name, value in response.raw_headers if name.decode("latin-1").lower() not in dropped
    ]


def _bearer_token(request: Request) -> str | None:
    """The bearer token (empty when the header names the scheme but carries none); None when there is none."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _api_key(request: Request) -> str | None:
    """The API key of ``Authorization: ApiKey <key>`` or ``X-API-Key``; None when there is none."""
    scheme, _, key = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "apikey":
        return key.strip()
    return request.headers.get("x-api-key")


class Proxy:
    """The router's fallback app: reached only when no gateway route matched the path."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await WebSocketClose()(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            upstream, response = await self._forward(request)
        except LinliError as exc:
            headers = {}
            if "retry_after" in exc.extra:
                headers["Retry-After"] = str(exc.extra["retry_after"])
            if exc.status == 401:
                headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            await problem_response(exc.to_problem(request.url.path), headers)(scope, receive, send)
            return
        await self._stream_back(upstream, response, send)

    async def _forward(self, request: Request) -> tuple[str, aiohttp.ClientResponse]:
        upstream = owner_of(request.url.path)
        if upstream is None or upstream == GATEWAY:
            raise NotFound("Linli has no endpoint at this path.")
        headers = request_headers(request)
        api_key = _api_key(request)
        token = _bearer_token(request)
        limiter: EdgeLimiter = request.app.state.limiter
        method, path = request.method, request.url.path
        if api_key is not None:
            # A provider's system: its key becomes a short-lived token, and the key never leaves the edge.
            exchange: ApiKeyExchange = request.app.state.api_keys
            exchanged = await exchange.exchange(api_key, request.app.state.keyring.current)
            await limiter.check(limiter.api_key, "api-key", str(exchanged.key_id))
            policy.authorize(method, path, None, key_scopes=exchanged.scopes)
            headers.popall("X-API-Key", None)
            headers["Authorization"] = f"Bearer {exchanged.token}"
        elif token is not None:
            if not token:
                raise Unauthorized("The bearer token is empty.", code="invalid_token")
            verifier: TokenVerifier = request.app.state.token_verifier
            principal = await verifier.verify(token)
            await limiter.check(limiter.principal, "principal", principal.subject)
            policy.authorize(method, path, principal)
        else:
            await limiter.check(limiter.anonymous, "ip", client_ip(request))
            policy.authorize(method, path, None)
        upstreams: Upstreams = request.app.state.upstreams
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        target = raw_path.split(b"?", 1)[0].decode("latin-1")
        if query := request.scope.get("query_string", b""):
            target += "?" + query.decode("latin-1")
        settings: GatewaySettings = request.app.state.settings
        timeout = timeout_for(request.url.path, settings.upstream_timeout_seconds)
        response = await upstreams.request(
            upstream, request.method, target, headers=headers, body=await request.body(), timeout=timeout
        )
        return upstream, response

    async def _stream_back(self, upstream: str, response: aiohttp.ClientResponse, send: Send) -> None:
        try:
            await send(
                {"type": "http.response.start", "status": response.status, "headers": response_headers(response)}
            )
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Headers are gone already: the only honest signal left is an incomplete response.
            log.warning("service broke off its response", upstream=upstream, error=repr(exc))
            response.close()
        finally:
            response.release()
