"""Wrong passwords slow an account's sign-in down, then lock it for a while, in the gateway's database (every
replica agrees); its owner is told by SMS; an admin (an operator, for a resident's account) unlocks it; guesses
spread over many accounts lock none of them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.lockout.models import SignInLockout
from gateway.residents.sms import FakeSmsSender
from service_kit.testing import Clock, running_app

PASSWORD = "correct horse battery"
PHONE = "+8613812345678"


@pytest.fixture
def settings(make_settings: Callable[..., GatewaySettings], services: dict[str, Any]) -> GatewaySettings:
    # The edge's in-memory limits out of the way: what is tested here is the database's count per account.
    return make_settings(
        services,
        rate_limit_sign_in="10000/minute",
        rate_limit_sign_in_target="10000/minute",
        sign_in_delay_after_failures=3,
        sign_in_max_delay_seconds=60,
        sign_in_lockout_failures=5,
        sign_in_lockout_seconds=900,
        sign_in_failure_window_seconds=900,
    )


def sms_sent(gateway: FastAPI) -> FakeSmsSender:
    sender: FakeSmsSender = gateway.state.sms_sender
    return sender


async def attempt(client: httpx.AsyncClient, username: str, password: str = "wrong password") -> httpx.Response:
    return await client.post("/api/v1/auth/token", json={"username": username, "password": password})


async def resident_with_password_account(
    client: httpx.AsyncClient, gateway: FastAPI, services: dict[str, Any], create_account: Any
) -> dict[str, Any]:
    """Li Na: a resident whose phone signed in once (so the gateway knows her phone and record), and who also has
    a password account for the same record."""
    record = uuid.uuid4()
    services["booking"].app.state.resident_records[PHONE] = str(record)
    sent = await client.post("/api/v1/auth/otp", json={"phone": PHONE})
    assert sent.status_code == 202, sent.text
    code = sms_sent(gateway).last_code(PHONE)
    verified = await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert verified.status_code == 200, verified.text
    account: dict[str, Any] = await create_account("li-na", "resident", resident_id=record)
    return account


async def test_wrong_passwords_slow_the_account_down_then_lock_it_for_a_while(
    client: httpx.AsyncClient, gateway: FastAPI, services: dict[str, Any], create_account: Any, clock: Clock
) -> None:
    await resident_with_password_account(client, gateway, services, create_account)
    await create_account("chen", "operator")

    assert [(await attempt(client, "li-na")).status_code for _ in range(3)] == [401, 401, 401]
    # From the third failure on, the next attempt waits: 1 s, then 2 s…, and a sooner one is not even checked.
    delayed = await attempt(client, "li-na", PASSWORD)
    assert delayed.status_code == 429
    assert delayed.json()["code"] == "sign_in_delayed"
    assert delayed.headers["retry-after"] == "1"
    assert delayed.json()["message_zh"] == "密码错了几次，请等 1 秒再试。"
    clock.advance(seconds=1)
    assert (await attempt(client, "li-na")).status_code == 401
    delayed = await attempt(client, "li-na")
    assert (delayed.json()["code"], delayed.headers["retry-after"]) == ("sign_in_delayed", "2")
    clock.advance(seconds=2)
    assert (await attempt(client, "li-na")).json()["code"] == "invalid_credentials"  # the fifth: locked now

    # The right password is refused while the account is locked, with when to come back.
    locked = await attempt(client, "li-na", PASSWORD)
    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/problem+json"
    problem = locked.json()
    assert problem["code"] == "account_locked"
    assert locked.headers["retry-after"] == "900"
    assert "locked for 15 more minute(s)" in problem["detail"]
    assert problem["message_zh"] == "密码错误次数太多，账号已临时锁定，请 15 分钟后再试，或请管理员解锁。"
    # Its owner is told on her phone, once.
    [notice] = [message for message in sms_sent(gateway).sent_to(PHONE) if message.kind == "account_locked"]
    assert notice.params == ("15",)
    assert "已锁定 15 分钟" in notice.text

    # Nobody else is held back.
    assert (await attempt(client, "chen", PASSWORD)).status_code == 200

    clock.advance(seconds=899)
    assert (await attempt(client, "li-na", PASSWORD)).json()["code"] == "account_locked"
    clock.advance(seconds=1)
    # The lockout ends by itself, and the right password ends the count: the next failure is the first again.
    assert (await attempt(client, "li-na", PASSWORD)).status_code == 200
    assert (await attempt(client, "li-na")).status_code == 401
    assert (await attempt(client, "li-na")).status_code == 401

    # Locked again within hours: the lockout is no longer than the first, and her phone is not flooded.
    for _ in range(3):
        clock.advance(seconds=60)
        assert (await attempt(client, "li-na")).status_code == 401
    again = await attempt(client, "li-na", PASSWORD)
    assert (again.json()["code"], again.headers["retry-after"]) == ("account_locked", "900")
    assert [m.kind for m in sms_sent(gateway).sent_to(PHONE)].count("account_locked") == 1


async def test_failures_outside_the_window_do_not_add_up(
    client: httpx.AsyncClient, create_account: Any, clock: Clock
) -> None:
    await create_account("wang-fang", "operator")
    for _ in range(2):
        assert (await attempt(client, "wang-fang")).status_code == 401
    clock.advance(seconds=900)
    for _ in range(3):
        assert (await attempt(client, "wang-fang")).status_code == 401
    assert (await attempt(client, "wang-fang", PASSWORD)).json()["code"] == "sign_in_delayed"  # 3 in this window
    clock.advance(seconds=1)
    assert (await attempt(client, "wang-fang", PASSWORD)).status_code == 200


async def lock(client: httpx.AsyncClient, clock: Clock, username: str) -> None:
    for _ in range(5):
        clock.advance(seconds=60)
        assert (await attempt(client, username)).status_code == 401
    assert (await attempt(client, username, PASSWORD)).json()["code"] == "account_locked"


async def test_an_admin_unlocks_any_account_an_operator_only_a_residents(
    client: httpx.AsyncClient, gateway: FastAPI, create_account: Any, sign_in: Any, clock: Clock
) -> None:
    admin = await create_account("admin", "admin")
    operator = await create_account("zhao-lei", "operator")
    staff = await create_account("chen", "operator")
    resident = await create_account("li-na", "resident", resident_id=uuid.uuid4())
    admin_headers, operator_headers = await sign_in("admin"), await sign_in("zhao-lei")
    await lock(client, clock, "chen")
    chen_locked_at = clock.now.replace(tzinfo=None)
    await lock(client, clock, "li-na")

    refused = await client.delete(f"/api/v1/accounts/{staff['id']}/lockout", headers=operator_headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "role_forbidden"
    assert (await client.get(f"/api/v1/accounts/{staff['id']}/lockout", headers=operator_headers)).status_code == 403
    state = await client.get(f"/api/v1/accounts/{staff['id']}/lockout", headers=admin_headers)
    assert state.status_code == 200
    assert state.json() == {
        "locked_until": (chen_locked_at + timedelta(seconds=900)).isoformat() + "Z",
        "failures": 0,
        "last_failure_at": chen_locked_at.isoformat() + "Z",
        "lockouts": 1,
        "unlocked_at": None,
        "unlocked_by": None,
    }
    assert (await attempt(client, "chen", PASSWORD)).json()["code"] == "account_locked"

    unlocked = await client.delete(f"/api/v1/accounts/{resident['id']}/lockout", headers=operator_headers)
    assert unlocked.status_code == 204
    assert (await attempt(client, "li-na", PASSWORD)).status_code == 200
    assert (await client.delete(f"/api/v1/accounts/{staff['id']}/lockout", headers=admin_headers)).status_code == 204
    assert (await attempt(client, "chen", PASSWORD)).status_code == 200
    state = await client.get(f"/api/v1/accounts/{staff['id']}/lockout", headers=admin_headers)
    assert (state.json()["locked_until"], state.json()["lockouts"]) == (None, 1)
    assert state.json()["unlocked_by"] == admin["id"]

    # Who unlocked is kept with the account's record of failures.
    async with gateway.state.sessionmaker() as session:
        rows = (await session.execute(select(SignInLockout).where(SignInLockout.kind == "account"))).scalars().all()
        unlocked_by = {row.subject: row.unlocked_by for row in rows}
    assert unlocked_by == {staff["id"]: admin["id"], resident["id"]: operator["id"]}

    missing = await client.delete(f"/api/v1/accounts/{uuid.uuid4()}/lockout", headers=admin_headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "account_not_found")
    nobody = await client.delete(f"/api/v1/accounts/{staff['id']}/lockout")
    assert nobody.status_code == 401


async def test_spraying_many_accounts_locks_none_that_was_not_itself_guessed_at(
    client: httpx.AsyncClient, create_account: Any, clock: Clock
) -> None:
    names = [f"operator-{n}" for n in range(6)]
    for name in names:
        await create_account(name, "operator")
    # Four rounds of one common password against every account: four failures each, below the lockout.
    for _ in range(4):
        for name in names:
            response = await attempt(client, name, "Password123!")
            assert response.json()["code"] in ("invalid_credentials", "sign_in_delayed")
        clock.advance(seconds=1)
    clock.advance(seconds=60)
    for name in names:
        assert (await attempt(client, name, PASSWORD)).status_code == 200, name


async def test_guesses_at_the_same_moment_all_count(
    client: httpx.AsyncClient, gateway: FastAPI, create_account: Any, clock: Clock
) -> None:
    account = await create_account("li-na", "operator")
    # Wrong passwords at once (on two replicas they would race just so): each one checked is counted, none lost.
    responses = await asyncio.gather(*(attempt(client, "li-na") for _ in range(4)))
    codes = [response.json()["code"] for response in responses]
    assert set(codes) <= {"invalid_credentials", "sign_in_delayed"}  # a later one may meet the first ones' delay
    async with gateway.state.sessionmaker() as session:
        row = (await session.execute(select(SignInLockout).where(SignInLockout.subject == account["id"]))).scalar_one()
    assert row.failures == codes.count("invalid_credentials") >= 3


async def test_every_replica_sees_the_lockout(
    settings: GatewaySettings, client: httpx.AsyncClient, create_account: Any, clock: Clock
) -> None:
    await create_account("li-na", "operator")
    await lock(client, clock, "li-na")
    other = create_app(settings)
    clock.answers(other)
    async with running_app(other, wait_for_events=False) as second:
        response = await attempt(second, "li-na", PASSWORD)
        assert response.json()["code"] == "account_locked"
        assert int(response.headers["retry-after"]) <= 900
