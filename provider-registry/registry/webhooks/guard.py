"""Keep webhooks from reaching inside Linli's own network (SSRF).

An endpoint URL must be ``http(s)://host[:port]/…`` without credentials, and every address its host resolves
to must be a public unicast address: loopback, private (RFC 1918, ULA), shared (100.64/10, where cloud metadata
services also live), link-local (169.254/16, the metadata address), multicast, reserved and documentation
ranges are refused, and so are IPv6 forms that carry an IPv4 address (mapped, compatible, 6to4, NAT64, Teredo)
unless the carried address itself passes. The check runs when the endpoint is registered and again before
every request, because DNS may answer differently later; the request then goes to the address checked, never
to a fresh lookup. Loopback may be allowed for tests; private ranges never are.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_EMBEDDING_V4 = tuple(
    ipaddress.IPv6Network(n)
    for n in ("::/96", "2002::/16", "64:ff9b::/96", "64:ff9b:1::/48", "2001::/32")  # compatible, 6to4, NAT64, Teredo
)
RESOLVE_TIMEOUT_SECONDS = 3.0


class UnsafeWebhookUrl(ValueError):
    """The URL, or an address its host resolves to, may not receive webhooks."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``addresses``, in the resolver's order), and the names the request must
    carry (Host, TLS SNI)."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def check_address(address: IPAddress, *, allow_loopback: bool) -> None:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            check_address(address.ipv4_mapped, allow_loopback=allow_loopback)
            return
        if address.is_loopback:
            if allow_loopback:
                return
            raise UnsafeWebhookUrl(f"{address} is a loopback address")
        if any(address in network for network in _EMBEDDING_V4):
            raise UnsafeWebhookUrl(f"{address} embeds an IPv4 address in a transition range")
    elif address.is_loopback:
        if allow_loopback:
            return
        raise UnsafeWebhookUrl(f"{address} is a loopback address")
    if address.is_link_local:
        raise UnsafeWebhookUrl(f"{address} is a link-local address (metadata services live there)")
    if address.is_private:
        raise UnsafeWebhookUrl(f"{address} is a private address")
    if address.is_multicast or address.is_unspecified or address.is_reserved or not address.is_global:
        raise UnsafeWebhookUrl(f"{address} is not a public unicast address")


def parse_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a well-formed http(s) URL without credentials; the host without brackets."""
    if len(url) > 2000 or any(c.isspace() or ord(c) < 0x20 for c in url):
        raise UnsafeWebhookUrl("the URL is too long or holds whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookUrl(f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeWebhookUrl("only http and https URLs receive webhooks")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeWebhookUrl("the URL must not carry credentials; sign with the endpoint's secret instead")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeWebhookUrl("the URL has no host")
    if port == 0:
        raise UnsafeWebhookUrl("port 0 is not a port")
    try:
        host.encode("idna")
    except UnicodeError as exc:
        raise UnsafeWebhookUrl("the host name is not valid") from exc
    return scheme, host, port or (443 if scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP),
            timeout=RESOLVE_TIMEOUT_SECONDS,
        )
    except (OSError, UnicodeError, TimeoutError) as exc:
        raise UnsafeWebhookUrl(f"the host {host} does not resolve") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # An IPv6 sockaddr may carry a zone (``fe80::1%eth0``); the zone never makes an address safe.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeWebhookUrl(f"the host {host} does not resolve")
    return addresses


async def checked_target(url: str, *, allow_loopback: bool) -> Target:
    """Resolve the URL's host and check every address it has: the request may go to any of them, no other."""
    scheme, host, port = parse_url(url)
    addresses = await resolve(host, port)
    for address in addresses:
        check_address(address, allow_loopback=allow_loopback)
    return Target(scheme=scheme, host=host, port=port, addresses=tuple(addresses))
