"""Sign-in abuse through the gateway of a stack of its own, as an attacker would try it: X-Forwarded-For is
believed only from the trusted proxy (here 127.0.0.2, standing in for the ingress), a password spray from ever
new addresses meets the attacked account's lockout while others sign in, and a phone's codes are capped per day
whatever address asks."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from itertools import count
from typing import Any

import httpx
import pytest

from service_kit.testing import DatabaseFactory

from .conftest import DEMO_PASSWORD, STACK_ENV, DevStack, login, new_phone, own_stack

pytestmark = pytest.mark.stack

PROXY = "127.0.0.2"  # the one trusted proxy; any other address of the machine (127.0.0.1, 127.0.0.3) is anyone
PASSWORD = "victim-password-2026"
ATTACKER_ADDRESSES = (f"198.51.{n // 250}.{n % 250 + 1}" for n in count())


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, _database_factory_session: DatabaseFactory) -> Iterator[DevStack]:
    """A stack with the district's sign-in limits, small enough to reach in a test."""
    env = {
        **STACK_ENV,
        "LINLI_TRUSTED_PROXIES": f'["{PROXY}"]',
        "LINLI_RATE_LIMIT_SIGN_IN": "5/minute",  # per client address and kind of sign-in
        "LINLI_SIGN_IN_DELAY_AFTER_FAILURES": "100",  # the progressive delay is the gateway suite's (no waiting here)
        "LINLI_SIGN_IN_LOCKOUT_FAILURES": "10",
        "LINLI_SIGN_IN_LOCKOUT_SECONDS": "900",
        "LINLI_OTP_SENDS_PER_WINDOW": "100",  # the 15-minute limit out of the way of the daily one
        "LINLI_OTP_SENDS_PER_DAY": "4",
        "LINLI_OTP_GUESSES_PER_DAY": "6",
    }
    with own_stack(tmp_path_factory, _database_factory_session, "abuse", env) as dev:
        yield dev


@pytest.fixture
def anyone(guarded: DevStack) -> Iterator[httpx.Client]:
    """A caller connecting straight to the gateway (not a trusted proxy), from 127.0.0.1. Its sign-ins in this
    module stay within one address's budget: the staff sign in once (``staff``)."""
    with httpx.Client(base_url=guarded.gateway_url, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def staff(guarded: DevStack) -> dict[str, dict[str, str]]:
    """The admin's and the operator's headers, signed in once for the module."""
    with httpx.Client(base_url=guarded.gateway_url, timeout=30.0) as client:
        return {name: login(client, name) for name in ("admin", "operator")}


@pytest.fixture
def attacker(guarded: DevStack) -> Iterator[httpx.Client]:
    """Another caller straight to the gateway, from 127.0.0.3, writing whatever X-Forwarded-For it likes."""
    transport = httpx.HTTPTransport(local_address="127.0.0.3")
    with httpx.Client(base_url=guarded.gateway_url, timeout=30.0, transport=transport) as client:
        yield client


@pytest.fixture
def through_proxy(guarded: DevStack) -> Iterator[httpx.Client]:
    """Requests that reach the gateway through the trusted proxy, which names their client in X-Forwarded-For."""
    transport = httpx.HTTPTransport(local_address=PROXY)
    with httpx.Client(base_url=guarded.gateway_url, timeout=30.0, transport=transport) as client:
        yield client


def from_(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def wrong_password(username: str) -> dict[str, str]:
    return {"username": username, "password": "wrong-password"}


def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_no_limit(attacker: httpx.Client) -> None:
    statuses = [
        attacker.post(
            "/api/v1/auth/token", json=wrong_password(f"nobody-{uuid.uuid4().hex[:8]}"), headers=from_(address)
        )
        for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5", "203.0.113.6")
    ]
    assert [response.status_code for response in statuses] == [401] * 5 + [429]
    assert statuses[-1].json()["code"] == "rate_limited"
    assert int(statuses[-1].headers["retry-after"]) >= 1


def test_through_the_trusted_proxy_each_client_has_its_own_budget(through_proxy: httpx.Client) -> None:
    first, second = next(ATTACKER_ADDRESSES), next(ATTACKER_ADDRESSES)

    def attempt(address: str) -> int:
        name = f"nobody-{uuid.uuid4().hex[:8]}"
        return through_proxy.post("/api/v1/auth/token", json=wrong_password(name), headers=from_(address)).status_code

    assert [attempt(first) for _ in range(6)] == [401] * 5 + [429]
    # The proxy's other client is not held back, and what a client writes before the proxy's entry never counts.
    assert [attempt(f"{first}, {second}") for _ in range(5)] == [401] * 5


def test_a_password_spray_meets_the_attacked_accounts_lockout_and_no_one_elses(
    through_proxy: httpx.Client, anyone: httpx.Client, staff: dict[str, dict[str, str]]
) -> None:
    admin = staff["admin"]
    victim = f"operator-{uuid.uuid4().hex[:8]}"
    created = anyone.post(
        "/api/v1/accounts",
        headers=admin,
        json={"username": victim, "password": PASSWORD, "roles": ["operator"], "name": "话务员 小王"},
    )
    assert created.status_code == 201, created.text

    # Ten guesses, each from an address never seen before: no address's budget is ever spent.
    for _ in range(10):
        guess = through_proxy.post(
            "/api/v1/auth/token", json=wrong_password(victim), headers=from_(next(ATTACKER_ADDRESSES))
        )
        assert guess.json()["code"] == "invalid_credentials"

    # The account is locked now: the right password too, from anywhere.
    for client, headers in ((through_proxy, from_(next(ATTACKER_ADDRESSES))), (anyone, {})):
        locked = client.post("/api/v1/auth/token", json={"username": victim, "password": PASSWORD}, headers=headers)
        assert locked.status_code == 429
        assert locked.headers["content-type"] == "application/problem+json"
        assert locked.json()["code"] == "account_locked"
        assert 0 < int(locked.headers["retry-after"]) <= 900
        assert "locked" in locked.json()["detail"]

    # Everyone else signs in, from the attacker's addresses as well.
    response = through_proxy.post(
        "/api/v1/auth/token",
        json={"username": "operator", "password": DEMO_PASSWORD},
        headers=from_(next(ATTACKER_ADDRESSES)),
    )
    assert response.status_code == 200, response.text

    # The admin ends the lockout; the owner signs in.
    assert anyone.delete(f"/api/v1/accounts/{created.json()['id']}/lockout", headers=admin).status_code == 204
    assert login(anyone, victim, PASSWORD)


def _code(client: httpx.Client, admin: dict[str, str], phone: str) -> str:
    response = client.get("/api/v1/auth/otp/messages", headers=admin, params={"phone": phone})
    assert response.status_code == 200, response.text
    found = re.search(r"\d{6}", response.json()["items"][0]["text"])
    assert found is not None
    return found.group()


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_phones_daily_code_caps_hold_from_ever_new_addresses(
    through_proxy: httpx.Client, anyone: httpx.Client, staff: dict[str, dict[str, str]]
) -> None:
    phone = new_phone()

    def send(target: str = phone) -> httpx.Response:
        return through_proxy.post("/api/v1/auth/otp", json={"phone": target}, headers=from_(next(ATTACKER_ADDRESSES)))

    assert [send().status_code for _ in range(4)] == [202] * 4
    refused = send()
    assert refused.status_code == 429
    problem: dict[str, Any] = refused.json()
    assert problem["code"] == "too_many_codes"
    assert problem["message_zh"].startswith("这个号码今天的验证码次数已用完")
    assert int(refused.headers["retry-after"]) > 23 * 3600

    # Guesses: six a day, over every code of the phone, the right one refused after them.
    guessed = new_phone()
    assert send(guessed).status_code == 202
    first = _code(anyone, staff["admin"], guessed)

    def verify(code: str) -> httpx.Response:
        return through_proxy.post(
            "/api/v1/auth/otp/verify", json={"phone": guessed, "code": code}, headers=from_(next(ATTACKER_ADDRESSES))
        )

    assert [verify(_wrong(first)).json()["code"] for _ in range(5)] == ["invalid_code"] * 5
    assert send(guessed).status_code == 202
    second = _code(anyone, staff["admin"], guessed)
    assert verify(_wrong(second)).json()["code"] == "invalid_code"
    assert verify(second).json()["code"] == "too_many_codes"

    # The resident calls the hotline; the operator gives the phone its codes back.
    lifted = anyone.post("/api/v1/auth/otp/unlock", json={"phone": guessed}, headers=staff["operator"])
    assert lifted.status_code == 204
    assert send(guessed).status_code == 202
    response = verify(_code(anyone, staff["admin"], guessed))
    assert response.status_code == 200, response.text
