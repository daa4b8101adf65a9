"""Who is calling: the client's address, derived in one place from the socket's peer and the trusted proxies.

``X-Forwarded-For`` is believed only as far as it was written by proxies listed in ``LINLI_TRUSTED_PROXIES``
(IP addresses or CIDR ranges): starting from the socket's peer, each hop that is a trusted proxy hands over to the
address it says it was called by (the header's entries, read from the right); the first address that is not a
trusted proxy is the client. With no trusted proxies (the default) the header is ignored and the client is the
peer. Everything left of the client in the header is whatever the client wrote, and never counts.

The server must not do this on its own: uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 unless it is started
with ``--no-proxy-headers`` (``proxy_headers=False``), which every launcher of the gateway passes (``python -m
gateway``, the image's command, the dev stack). The address found here replaces the scope's ``client``, so the
rate limits (gateway/ratelimit.py), the request log (bound as ``client``) and the forwarded
``X-Forwarded-For`` all use it; the socket's peer stays in the scope as ``linli.peer``."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

Network = IPv4Network | IPv6Network
PEER_KEY = "linli.peer"


def _address(text: str) -> IPv4Address | IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The proxies whose word about the caller is believed."""

    def __init__(self, networks: Iterable[Network]) -> None:
        self.networks = tuple(networks)

    def trusts(self, address: IPv4Address | IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The client's address: ``peer`` (the socket's) unless it is a trusted proxy, then the first address of
        ``forwarded_for`` (the header's entries, left to right as sent) read from the right that is not one.
        An entry that is no address where an address is due (a proxy cannot have written it) ends the walk at
        the last trusted hop."""
        hop = peer
        if not self.trusts(_address(peer)):
            return peer
        for entry in reversed(forwarded_for):
            address = _address(entry)
            if address is None:
                return hop
            hop = str(address)
            if not self.trusts(address):
                return hop
        return hop  # every hop was a trusted proxy: the leftmost one is as close to the client as it gets


def forwarded_for_entries(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """The entries of every ``X-Forwarded-For`` header, in order (repeated headers count as one list)."""
    entries: list[str] = []
    for name, value in headers:
        if name == b"x-forwarded-for":
            entries.extend(part.strip() for part in value.decode("latin-1").split(",") if part.strip())
    return entries


class ClientAddressMiddleware:
    """The outermost layer: sets the scope's ``client`` to the derived client address, and ``scheme`` to a
    trusted proxy's ``X-Forwarded-Proto``; binds ``client`` to the request's log lines."""

    def __init__(self, app: ASGIApp, trusted: Iterable[Network]) -> None:
        self.app = app
        self.trusted = TrustedProxies(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer = scope.get("client")
        peer_host = peer[0] if peer else "unknown"
        scope[PEER_KEY] = peer_host
        if self.trusted.networks and self.trusted.trusts(_address(peer_host)):
            client = self.trusted.client(peer_host, forwarded_for_entries(scope["headers"]))
            scope["client"] = (client, 0)
            proto = [value for name, value in scope["headers"] if name == b"x-forwarded-proto"]
            if proto:
                scheme = proto[-1].decode("latin-1").split(",")[-1].strip().lower()
                if scheme in ("http", "https"):
                    scope["scheme"] = scheme if scope["type"] == "http" else {"http": "ws", "https": "wss"}[scheme]
        else:
            client = peer_host
        with structlog.contextvars.bound_contextvars(client=client):
            await self.app(scope, receive, send)
