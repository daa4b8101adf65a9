"""Who is calling: X-Forwarded-For is believed only from the trusted proxies, and the sign-in limits count both
the caller's address and the account or phone being tried."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
import structlog
from starlette.types import Receive, Scope, Send

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.forwarded import ClientAddressMiddleware, TrustedProxies
from service_kit.testing import MonotonicClock

INGRESS = "10.244.3.17"  # an ingress controller's pod


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # The peer is no trusted proxy: whatever it says about anyone else is ignored.
        ("203.0.113.7", ["198.51.100.9"], "203.0.113.7"),
        ("203.0.113.7", [], "203.0.113.7"),
        # The ingress says who called it.
        (INGRESS, ["198.51.100.9"], "198.51.100.9"),
        # What the client wrote itself (left of the address the ingress appended) never counts.
        (INGRESS, ["6.6.6.6", "198.51.100.9"], "198.51.100.9"),
        # Through two trusted proxies: the first untrusted address from the right.
        (INGRESS, ["6.6.6.6", "198.51.100.9", "10.244.0.5"], "198.51.100.9"),
        # Every hop trusted: the farthest one is as close to the client as can be known.
        (INGRESS, ["10.244.0.5"], "10.244.0.5"),
        # The ingress named no client: the ingress itself.
        (INGRESS, [], INGRESS),
        # Something no proxy writes where an address is due: the walk stops at the last trusted hop.
        (INGRESS, ["198.51.100.9", "not-an-address"], INGRESS),
        # Ports and IPv6, as some proxies write them.
        (INGRESS, ["198.51.100.9:51234"], "198.51.100.9"),
        (INGRESS, ["[2001:db8::7]:443"], "2001:db8::7"),
        ("::ffff:10.244.3.17", ["2001:db8::7"], "2001:db8::7"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(peer: str, forwarded_for: list[str], client: str) -> None:
    trusted = TrustedProxies([ip_network("10.244.0.0/16")])
    assert trusted.client(peer, forwarded_for) == client


def test_nobody_is_trusted_by_default() -> None:
    assert TrustedProxies([]).client("127.0.0.1", ["198.51.100.9"]) == "127.0.0.1"


def test_the_setting_takes_addresses_and_ranges(make_settings: Callable[..., GatewaySettings]) -> None:
    settings = make_settings(trusted_proxies=["10.244.0.0/16", "192.0.2.1", "2001:db8::/32"])
    assert [str(network) for network in settings.trusted_proxies] == ["10.244.0.0/16", "192.0.2.1/32", "2001:db8::/32"]
    assert make_settings().trusted_proxies == []
    with pytest.raises(ValueError, match="trusted_proxies"):
        make_settings(trusted_proxies=["the ingress"])


@asynccontextmanager
async def gateway_from(settings: GatewaySettings, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway whose callers connect from ``peer`` (the socket's address, as the server would give it)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.limiter._window.clock = MonotonicClock()
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def wrong_password(username: str = "nobody-here") -> dict[str, str]:
    return {"username": username, "password": "wrong password"}


async def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_no_limit(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any]
) -> None:
    settings = make_settings(services, rate_limit_sign_in="3/minute", trusted_proxies=[INGRESS])
    async with gateway_from(settings, "203.0.113.7") as client:
        statuses = []
        for n in range(4):
            response = await client.post(
                "/api/v1/auth/token", json=wrong_password(f"user-{n}"), headers={"X-Forwarded-For": f"198.51.100.{n}"}
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]
        assert response.json()["code"] == "rate_limited"
        # What the service is told: the chain as sent, and the peer the gateway saw.
        echoed = await client.get("/api/v1/offerings", headers={"X-Forwarded-For": "198.51.100.9"})
        assert dict(echoed.json()["headers"])["x-forwarded-for"] == "198.51.100.9, 203.0.113.7"


async def test_behind_a_trusted_proxy_each_client_has_its_own_budget(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any]
) -> None:
    settings = make_settings(services, rate_limit_sign_in="3/minute", trusted_proxies=["10.244.0.0/16"])
    async with gateway_from(settings, INGRESS) as client:

        async def attempt(client_address: str, n: int) -> int:
            response = await client.post(
                "/api/v1/auth/token",
                json=wrong_password(f"user-{client_address}-{n}"),
                headers={"X-Forwarded-For": f"6.6.6.{n}, {client_address}"},  # the client wrote the first part
            )
            return response.status_code

        assert [await attempt("198.51.100.1", n) for n in range(4)] == [401, 401, 401, 429]
        # Another caller through the same ingress is not held back by the first one's guesses.
        assert [await attempt("198.51.100.2", n) for n in range(3)] == [401, 401, 401]
        # The services are told the chain as received and the ingress that sent it.
        echoed = await client.get("/api/v1/offerings", headers={"X-Forwarded-For": "198.51.100.2"})
        assert dict(echoed.json()["headers"])["x-forwarded-for"] == f"198.51.100.2, {INGRESS}"


async def test_every_log_line_of_a_request_names_the_client_and_the_app_sees_it() -> None:
    seen: list[tuple[str, str]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        structlog.get_logger("test").error("inside")  # above any level a test configures
        seen.append((scope["client"][0], scope["scheme"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = ClientAddressMiddleware(app, trusted=[ip_network("10.244.0.0/16")])
    headers = {"X-Forwarded-For": "198.51.100.9", "X-Forwarded-Proto": "https"}
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        for peer in (INGRESS, "203.0.113.7"):
            transport = httpx.ASGITransport(app=middleware, client=(peer, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                await client.get("/", headers=headers)
    assert [log["client"] for log in logs] == ["198.51.100.9", "203.0.113.7"]
    # A trusted proxy's word on the scheme counts too (HSTS goes with https); anyone else's does not.
    assert seen == [("198.51.100.9", "https"), ("203.0.113.7", "http")]


async def test_guesses_at_one_account_from_ever_new_addresses_meet_its_own_limit(
    make_settings: Callable[..., GatewaySettings], services: dict[str, Any]
) -> None:
    settings = make_settings(
        services, rate_limit_sign_in="100/minute", rate_limit_sign_in_target="3/minute", trusted_proxies=[INGRESS]
    )
    async with gateway_from(settings, INGRESS) as client:
        statuses = []
        for n in range(4):
            response = await client.post(
                "/api/v1/auth/token", json=wrong_password("Li-Na "), headers={"X-Forwarded-For": f"198.51.100.{n}"}
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]
        assert response.json()["code"] == "rate_limited"
        # Another account, from the same addresses: its own budget.
        other = await client.post(
            "/api/v1/auth/token", json=wrong_password("chen"), headers={"X-Forwarded-For": "198.51.100.0"}
        )
        assert other.status_code == 401

        # The same for the codes of one phone, however it is written.
        statuses = []
        for n, phone in enumerate(["13812345678", "+86 138 1234 5678", "138-1234-5678", "8613812345678"]):
            response = await client.post(
                "/api/v1/auth/otp/verify",
                json={"phone": phone, "code": "123456"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]
        other = await client.post("/api/v1/auth/otp/verify", json={"phone": "13912345678", "code": "123456"})
        assert other.status_code == 401
