"""Whole-stack fixtures: the real launcher starts nats-server, the four services and the gateway as processes."""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page, async_playwright, expect
from stdnum.cn import uscc

from service_kit.testing import DatabaseFactory, eventually_blocking

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))

from demo_data import DEMO_ACCOUNTS, DEMO_PASSWORD  # noqa: E402
from devstack import GATEWAY, SERVICES, DevStack  # noqa: E402

RATE_LIMITED = ("PRINCIPAL", "API_KEY", "ANONYMOUS", "SIGN_IN", "SIGN_IN_TARGET")

# The journeys book tomorrow and deliver at once: booking's visit timing rules (start at most 30 minutes before
# the slot, last half of it) are off in the shared stack, and tested through a stack of their own with the
# district's settings in test_delivery_evidence.py.
ANY_TIME_VISITS = {"LINLI_VISIT_START_MARGIN_MINUTES": str(366 * 24 * 60), "LINLI_VISIT_MIN_DURATION_SHARE": "0"}

# A whole-stack test's processes keep few PostgreSQL connections open: two workers, each with its stacks (a
# service per database, replicas in the scale-out test), stay under the server's 100 connections.
SMALL_POOLS = {"LINLI_DATABASE_POOL_SIZE": "2", "LINLI_DATABASE_MAX_OVERFLOW": "6"}

# The whole-stack tests' settings on top of the launcher's.
STACK_ENV = {
    **SMALL_POOLS,
    "LINLI_LOG_LEVEL": "WARNING",
    "LINLI_REGISTRY_WEBHOOK_ALLOW_LOOPBACK": "true",
    # feedback-service announces a provider's new score (score.updated) at most this often; 30 s by default.
    "LINLI_SCORE_DEBOUNCE_SECONDS": "1",
    # Every test signs in from 127.0.0.1 and the fuzzer sends hundreds of requests a minute; the gateway's
    # limits are tested in its own suite.
    **{f"LINLI_RATE_LIMIT_{kind}": "100000/minute" for kind in RATE_LIMITED},
    **ANY_TIME_VISITS,
    # The journeys run at any hour: no SMS waits for the end of the quiet hours here (21:00–08:00, tested on
    # booking's clock in booking-service/tests/notifications/test_delivery.py).
    "LINLI_SMS_QUIET_HOURS": "false",
}


@contextmanager
def own_stack(
    tmp_path_factory: pytest.TempPathFactory, databases: DatabaseFactory, name: str, env: dict[str, str]
) -> Iterator[DevStack]:
    """A whole stack of a module's own, with ``env`` (on the PostgreSQL run, on fresh databases of its own)."""
    urls = {}
    if databases.postgres_url:
        urls = {s.name: databases.new_empty(f"{name}_{s.name}", for_session=True) for s in (*SERVICES, GATEWAY)}
    dev = DevStack(var_dir=tmp_path_factory.mktemp(f"{name}-stack"), database_urls=urls, extra_env=env)
    try:
        dev.start(accounts=DEMO_ACCOUNTS)
        yield dev
    finally:
        dev.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, _database_factory_session: DatabaseFactory) -> Iterator[DevStack]:
    var_dir = tmp_path_factory.mktemp("stack")
    databases = {}
    if os.environ.get("LINLI_TEST_POSTGRES_URL"):
        databases = {
            s.name: _database_factory_session.new_empty(s.name, for_session=True) for s in (*SERVICES, GATEWAY)
        }
    dev = DevStack(var_dir=var_dir, database_urls=databases, extra_env=STACK_ENV)
    try:
        # The launcher's own start: ports bound by the supervisor (none picked in advance), every process ready
        # however long a loaded machine takes (up to its overall limit), crashed processes restarted.
        dev.start(accounts=DEMO_ACCOUNTS)
        wait_until_communities_known(dev.gateway_url)
        yield dev
    finally:
        dev.stop()
        for name in ("registry", "booking", "procurement", "feedback", "gateway", *dev.workers_started()):
            log = var_dir / "logs" / f"{name}.log"
            if log.exists() and "Traceback" in log.read_text(errors="replace"):
                print(f"\n--- {name}.log (has a traceback) ---\n{log.read_text(errors='replace')[-4000:]}")


def wait_until_communities_known(gateway_url: str, timeout: float = 120.0) -> None:
    """Booking refuses a resident's unknown community, and learns the gazetteer from the registry's announcement at
    its start, a moment after every process is ready: wait until it knows every community the registry has."""
    with httpx.Client(base_url=gateway_url, timeout=30.0) as client:
        operator = login(client, "operator")

        def total(path: str) -> int:
            response = client.get(path, params={"limit": 1}, headers=operator)
            return int(response.json()["total"]) if response.status_code == 200 else -1

        eventually_blocking(
            lambda: 0 < total("/api/v1/communities") <= total("/api/v1/residents/communities"), timeout=timeout
        )


@pytest.fixture
def gateway(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30.0) as client:
        yield client


def login(client: httpx.Client, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def new_uscc() -> str:
    body = "91110111MA" + uuid.uuid4().hex[:7].upper()
    return body + uscc.calc_check_digit(body)


# ---------------------------------------------------------------------------------------------------------------
# Steps many journeys share: a journey names its own people, providers and services, and takes these steps with
# them. Each step asserts what it must for the journey to go on; what a journey is about, it asserts itself.

# ---- accounts and sign-in

PASSWORD = "journey-password-2026"  # of every account the steps make


class Account(NamedTuple):
    """A signed-in account: its headers and its subject (the account id)."""

    headers: dict[str, str]
    subject: str


def new_account(gateway: httpx.Client, role: str, name: str, **extra: str) -> Account:
    """An account the platform's admin makes (``extra``: provider_id, street_code), signed in."""
    username = f"{role.replace('_', '-')}-{uuid.uuid4().hex[:10]}"
    body = {"username": username, "password": PASSWORD, "roles": [role], "name": name, **extra}
    created = gateway.post("/api/v1/accounts", headers=login(gateway, "admin"), json=body)
    assert created.status_code == 201, created.text
    for key, value in extra.items():
        assert created.json()[key] == value
    return Account(login(gateway, username, PASSWORD), str(created.json()["id"]))


def new_phone() -> str:
    """A mobile number nobody else in the run has."""
    return f"136{uuid.uuid4().int % 10**8:08d}"


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    """The headers of a sign-in's tokens."""
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def otp_messages(gateway: httpx.Client, phone: str) -> list[dict[str, Any]]:
    """What the fake SMS sender "sent" to ``phone``, newest first (the admin's endpoint)."""
    response = gateway.get("/api/v1/auth/otp/messages", headers=login(gateway, "admin"), params={"phone": phone})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def code_for(gateway: httpx.Client, phone: str) -> str:
    """A sign-in code sent to ``phone``, read back from the fake SMS sender."""
    sent = gateway.post("/api/v1/auth/otp", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    code = re.search(r"\d{6}", otp_messages(gateway, phone)[0]["text"])
    assert code is not None
    return code.group()


PHONE_CONSENT = {"version": "2026-11", "channel": "phone"}  # the privacy notice, read to a caller and agreed to


def registered_by_operator(
    gateway: httpx.Client, operator: dict[str, str], *, name: str, phone: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A resident the call center registers while she is on the phone (a new number unless ``phone``): her record."""
    response = gateway.post(
        "/api/v1/residents",
        headers=operator,
        json={"name": name, "phone": phone or new_phone(), "consent": PHONE_CONSENT, **fields},
    )
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def sign_in_by_code(gateway: httpx.Client, phone: str, **extra: Any) -> dict[str, Any]:
    """The app's sign-in: a code sent to the phone, then verified (``extra``: e.g. consent_version); its tokens."""
    response = gateway.post("/api/v1/auth/otp/verify", json={"phone": phone, "code": code_for(gateway, phone), **extra})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def me(gateway: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    """Who the gateway says the bearer of ``headers`` is."""
    response = gateway.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def resident_in_the_app(gateway: httpx.Client, name: str, **sign_in: Any) -> tuple[dict[str, str], dict[str, Any], str]:
    """A resident who signed in by phone code and registered herself: (her headers, her record, her phone)."""
    phone = new_phone()
    headers = bearer(sign_in_by_code(gateway, phone, **sign_in))
    registered = gateway.post(
        "/api/v1/residents",
        headers=headers,
        json={"name": name, "phone": phone, "consent": {"version": "2026-11", "channel": "app"}},
    )
    assert registered.status_code == 201, registered.text
    return headers, registered.json(), phone


# ---- providers and offerings

OFFERING = {
    "category_code": "elderly.meal_table",
    "mode": "at_center",
    "price_fen": 1500,
    "duration_minutes": 60,
    "capacity_per_slot": 10,
    "weekly_rules": [{"weekday": d, "start": "11:00", "end": "13:00"} for d in range(7)],
    "target_groups": ["elderly"],
}


def new_provider(gateway: httpx.Client, name: str, kind: str = "public_welfare") -> dict[str, Any]:
    """A verified organization with its own admin: {"id", "name", "admin" (the admin's headers)}."""
    official = login(gateway, "official")
    org = gateway.post(
        "/api/v1/organizations", headers=official, json={"name_zh": name, "kind": kind, "uscc": new_uscc()}
    )
    assert org.status_code == 201, org.text
    provider_id = org.json()["id"]
    verified = gateway.post(f"/api/v1/organizations/{provider_id}/verify", headers=official, json={})
    assert verified.status_code == 200, verified.text
    admin = new_account(gateway, "provider_admin", name, provider_id=provider_id).headers
    return {"id": provider_id, "name": name, "admin": admin}


def publish_offering(gateway: httpx.Client, provider: dict[str, Any], name_zh: str, **fields: Any) -> str:
    """The provider's published offering: a meal table open every day at noon unless ``fields`` say otherwise."""
    body = {**OFFERING, "provider_id": provider["id"], "name_zh": name_zh, **fields}
    created = gateway.post("/api/v1/offerings", headers=provider["admin"], json=body)
    assert created.status_code == 201, created.text
    published = gateway.post(f"/api/v1/offerings/{created.json()['id']}/publish", headers=provider["admin"], json={})
    assert published.status_code == 200, published.text
    return str(created.json()["id"])


def provider_with_offering(gateway: httpx.Client, name: str, offering_name: str = "", **fields: Any) -> dict[str, Any]:
    """A verified provider with its published offering (``offering_name`` or the provider's 老年餐桌)."""
    provider = new_provider(gateway, name)
    provider["offering_id"] = publish_offering(gateway, provider, offering_name or f"{name}老年餐桌", **fields)
    return provider


def scheduling_system(gateway: httpx.Client, provider_admin: dict[str, str]) -> dict[str, str]:
    """The headers of the provider's scheduling system: an API key that reads and writes its bookings."""
    key = gateway.post(
        "/api/v1/api-keys",
        headers=provider_admin,
        json={"name": "排班系统", "scopes": ["bookings:read", "bookings:write"]},
    )
    assert key.status_code == 201, key.text
    return {"X-API-Key": key.json()["key"]}


def slots_once_known(
    gateway: httpx.Client, offering_id: str, headers: dict[str, str], days: tuple[date, date]
) -> list[dict[str, Any]]:
    """Every slot of ``offering_id`` on ``days`` (from, to), once booking has learned the offering."""

    def slots() -> list[dict[str, Any]]:
        response = gateway.get(
            "/api/v1/availability",
            headers=headers,
            params={"offering_id": offering_id, "from": days[0].isoformat(), "to": days[1].isoformat()},
        )
        return response.json().get("slots", []) if response.status_code == 200 else []

    found: list[dict[str, Any]] = eventually_blocking(slots)
    return found


def book_for(
    gateway: httpx.Client, headers: dict[str, str], offering_id: str, slot_start: str, resident_id: str
) -> dict[str, Any]:
    """The booking the call center (``headers``) makes for a resident on the phone."""
    booked = gateway.post(
        "/api/v1/bookings",
        headers=headers,
        json={"offering_id": offering_id, "slot_start": slot_start, "resident_id": resident_id},
    )
    assert booked.status_code == 201, booked.text
    booking: dict[str, Any] = booked.json()
    return booking


def free_slots(
    gateway: httpx.Client, offering_id: str, headers: dict[str, str], count: int = 1
) -> list[dict[str, Any]]:
    """The first ``count`` slots with room from the day after tomorrow, once booking has learned the offering."""
    start = date.today() + timedelta(days=2)

    def free() -> list[dict[str, Any]]:
        response = gateway.get(
            "/api/v1/availability",
            headers=headers,
            params={
                "offering_id": offering_id,
                "from": start.isoformat(),
                "to": (start + timedelta(days=3)).isoformat(),
            },
        )
        found = (
            [s for s in response.json().get("slots", []) if s["remaining"] > 0] if response.status_code == 200 else []
        )
        return found[:count] if len(found) >= count else []

    slots: list[dict[str, Any]] = eventually_blocking(free)
    return slots


# ---- contracts and payments

# Direct awards draw on funds of the social-affairs office; their owner pays them.
PAYER = "房山区社会建设工作办公室"
SOCIAL_AFFAIRS = {"owner_id": "fangshan-shehuiban", "owner_name": PAYER}
CIVIL_AFFAIRS = {"owner_id": "fangshan-civil-affairs", "owner_name": "北京市房山区民政局"}
RATIONALE = "单一来源：该镇仅此一家机构具备老年餐桌服务能力（《政府购买服务管理办法》第二十二条）。"
# What procurement answers until the registry's events (provider.verified, offering.published) have reached it.
NOT_KNOWN_YET = ("provider_not_verified", "offering_not_own")


def beijing_today() -> date:
    """The day in the district: a payment is dated by it (never in the future, never before the signature)."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def new_fund(
    gateway: httpx.Client, name: str, budget_fen: int, owner: dict[str, str] = CIVIL_AFFAIRS, year: int | None = None
) -> str:
    """A fund the demo official opens for ``owner`` (for this year unless ``year``): its id."""
    body = {"name": name, "year": year or date.today().year, "budget_fen": budget_fen, **owner}
    fund = gateway.post("/api/v1/funds", headers=login(gateway, "official"), json=body)
    assert fund.status_code == 201, fund.text
    return str(fund.json()["id"])


def proposed_when_known(gateway: httpx.Client, terms: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """A direct award's proposal (by the demo official), retried until procurement knows provider and offering."""
    official = headers or login(gateway, "official")

    def propose() -> httpx.Response | None:
        response = gateway.post("/api/v1/contracts", headers=official, json=terms)
        if response.status_code == 422 and response.json().get("code") in NOT_KNOWN_YET:
            return None
        return response

    return eventually_blocking(propose, timeout=60)


def verified_80_plus(gateway: httpx.Client, operator: dict[str, str], elder: dict[str, Any]) -> None:
    """An operator records the elder's ID card as the evidence of her age of 80 and over, checked today."""
    proof = gateway.put(
        f"/api/v1/residents/{elder['id']}/eligibility/age_80_plus",
        headers=operator,
        json={"evidence_type": "id_card", "verified_on": date.today().isoformat()},
    )
    assert proof.status_code == 200, proof.text


def funded_lunch_for_the_80_plus(
    gateway: httpx.Client,
    place: str,
    offering_name: str,
    title: str,
    *,
    amount_fen: int,
    quota: int = 100,
    resident_price_fen: int = 0,
) -> tuple[str, dict[str, Any]]:
    """A meal table of ``place`` open all day at 15 元 a lunch, and a signed direct award funding it for residents of
    80 and over (``quota`` lunches, each at ``resident_price_fen`` to them): the offering's id and the contract."""
    provider = new_provider(gateway, f"{place}{uuid.uuid4().int % 1_000_000:06d}")
    offering_id = publish_offering(
        gateway,
        provider,
        offering_name,
        price_fen=1500,
        weekly_rules=[{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)],
    )
    terms = award_terms(
        title,
        provider["id"],
        offering_id,
        amount_fen,
        quota=quota,
        fund_id=new_fund(gateway, f"助餐专项{uuid.uuid4().int % 1_000_000:06d}", 150_000),
        rationale="单一来源：本社区仅此一家老年餐桌。",
    )
    terms["funded_offerings"][0]["resident_price_fen"] = resident_price_fen
    contract = signed_direct_award(
        gateway, terms, new_account(gateway, "official", "李处长").headers, provider["admin"]
    )
    return offering_id, contract


def signed_direct_award(
    gateway: httpx.Client,
    terms: dict[str, Any],
    approver: dict[str, str],
    provider_admin: dict[str, str],
    approval: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A direct award of ``terms`` proposed, approved by a second official (four eyes), signed by both parties."""
    official = login(gateway, "official")
    proposed = proposed_when_known(gateway, terms)
    assert proposed.status_code == 201, proposed.text
    url = f"/api/v1/contracts/{proposed.json()['id']}"
    approved = gateway.post(f"{url}/direct-award/approve", headers=approver, json=approval or {})
    assert approved.status_code == 200, approved.text
    for party in (official, provider_admin):
        signed = gateway.post(f"{url}/sign", headers=party, json={})
        assert signed.status_code == 200, signed.text
    contract: dict[str, Any] = signed.json()
    return contract


def award_terms(
    title: str,
    provider_id: str,
    offering_id: str,
    amount_fen: int,
    *,
    unit_price_fen: int = 1500,
    quota: int = 100,
    eligibility_tags: tuple[str, ...] = ("age_80_plus",),
    days: int = 300,
    start: date | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A direct award's terms from ``start`` (today) for ``days``: one offering funded, free for the residents it
    names."""
    return {
        "title": title,
        "provider_id": provider_id,
        "amount_fen": amount_fen,
        "start_date": (start or date.today()).isoformat(),
        "end_date": (date.today() + timedelta(days=days)).isoformat(),
        "funded_offerings": [
            {
                "offering_id": offering_id,
                "unit_price_fen": unit_price_fen,
                "resident_price_fen": 0,
                "quota": quota,
                "eligibility_tags": list(eligibility_tags),
            }
        ],
        **more,
    }


def provider_with_funded_offering(gateway: httpx.Client) -> dict[str, Any]:
    """Door-to-door meals, free for residents of 80 and over under a signed direct award from a fund of its own."""
    provider = new_provider(gateway, "长阳助餐配送站", kind="commercial")
    offering_id = publish_offering(
        gateway,
        provider,
        "助餐送餐上门",
        mode="door_to_door",
        price_fen=1800,
        capacity_per_slot=5,
        weekly_rules=[{"weekday": d, "start": "10:00", "end": "14:00"} for d in range(7)],
    )
    amount_fen = 180_000
    terms = award_terms(
        "长阳镇高龄老人助餐服务项目",
        provider["id"],
        offering_id,
        amount_fen,
        unit_price_fen=1800,
        days=200,
        fund_id=new_fund(gateway, f"社区服务专项资金{uuid.uuid4().int % 1_000_000:06d}", amount_fen),
        rationale="单一来源：本镇仅此一家机构提供上门助餐。",
    )
    approver = new_account(gateway, "official", "李处长").headers
    signed_direct_award(gateway, terms, approver, provider["admin"])
    return {"provider_id": provider["id"], "provider": provider["admin"], "offering_id": offering_id}


def assign_evaluator(gateway: httpx.Client, contract_id: str, evaluator: tuple[dict[str, str], str]) -> None:
    """The official assigns the third-party evaluator, who declares no conflict of interest (again: 409)."""
    headers, subject = evaluator
    base = f"/api/v1/contracts/{contract_id}/evaluators"
    assigned = gateway.post(
        base,
        headers=login(gateway, "official"),
        json={"evaluator_subject": subject, "evaluator_name": "中诚第三方评估"},
    )
    assert assigned.status_code in (201, 409), assigned.text
    declared = gateway.post(f"{base}/declaration", headers=headers, json={"conflict": False, "note": "与该机构无关联"})
    assert declared.status_code in (201, 409), declared.text


def evaluate(
    gateway: httpx.Client,
    contract_id: str,
    stage: str,
    evaluator: tuple[dict[str, str], str],
    purchaser: float,
    third: float,
) -> dict[str, Any]:
    """The purchaser and the assigned third party score the ``stage`` and the official finalizes it."""
    official = login(gateway, "official")
    assign_evaluator(gateway, contract_id, evaluator)
    base = f"/api/v1/contracts/{contract_id}/evaluations"
    opened = gateway.post(base, headers=official, json={"stage": stage})
    assert opened.status_code == 201, opened.text
    for score, who in ((purchaser, official), (third, evaluator[0])):
        scored = gateway.post(f"{base}/{stage}/scores", headers=who, json={"score": score})
        assert scored.status_code == 200, scored.text
    finalized = gateway.post(f"{base}/{stage}/finalize", headers=official, json={})
    assert finalized.status_code == 200, finalized.text
    body: dict[str, Any] = finalized.json()
    return body


def pay(gateway: httpx.Client, contract_id: str, payee: str, paid_on: date | None = None) -> httpx.Response:
    """The official records a payment of the contract's next installment (dated today in the district)."""
    return gateway.post(
        f"/api/v1/contracts/{contract_id}/disbursements",
        headers=login(gateway, "official"),
        json={
            "voucher_number": f"FS-{uuid.uuid4().hex[:12]}",
            "payer": PAYER,
            "payee": payee,
            "paid_on": (paid_on or beijing_today()).isoformat(),
        },
    )


def acceptance(result: str, summary: str) -> dict[str, Any]:
    """An acceptance report of ``result``, with the residents' and the evaluator's opinions."""
    return {
        "result": result,
        "summary": summary,
        "recipient_opinions": [
            {"name": "张桂兰", "opinion": "送餐准时，饭菜可口。", "satisfied": result == "passed"},
            {"name": "李德顺", "opinion": "希望增加探访次数。", "satisfied": False},
        ],
        "evaluator_opinion": "评估机构意见已附。",
    }


# ---- residents and bookings


def booked_when_funded(
    gateway: httpx.Client,
    offering_id: str,
    slot: dict[str, Any],
    resident_id: str,
    funded: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    """The operator books ``slot`` for the resident, cancelling and booking again until the booking is ``funded``."""
    operator = login(gateway, "operator")

    def book() -> dict[str, Any] | None:
        response = gateway.post(
            "/api/v1/bookings",
            headers=operator,
            json={"offering_id": offering_id, "slot_start": slot["start"], "resident_id": resident_id},
        )
        assert response.status_code == 201, response.text
        booking: dict[str, Any] = response.json()
        if funded(booking):
            return booking
        gateway.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=operator, json={"reason": "重新预约"})
        return None

    booking: dict[str, Any] = eventually_blocking(book)
    return booking


def completed_funded_booking(
    gateway: httpx.Client,
    provider: dict[str, Any],
    contract_id: str | None,
    resident_id: str,
    day_offset: int = 1,
) -> str:
    """A booking of the provider's meal, funded by ``contract_id`` (None: at the full price), delivered."""
    operator = login(gateway, "operator")
    day = date.today() + timedelta(days=day_offset)

    def slot() -> dict[str, Any] | None:
        response = gateway.get(
            "/api/v1/availability",
            headers=operator,
            params={"offering_id": provider["offering_id"], "from": day.isoformat(), "to": day.isoformat()},
        )
        slots = response.json().get("slots", []) if response.status_code == 200 else []
        return slots[0] if slots else None

    def funded(booking: dict[str, Any]) -> bool:
        if contract_id is None:
            assert (booking["funded_contract_id"], booking["price_fen"]) == (None, 1500), booking
            return True
        return bool(booking["funded_contract_id"] == contract_id and booking["price_fen"] == 0)

    booking = booked_when_funded(gateway, provider["offering_id"], eventually_blocking(slot), resident_id, funded)
    for step in ("confirm", "start", "complete"):
        response = gateway.post(f"/api/v1/bookings/{booking['id']}/{step}", headers=provider["admin"], json={})
        assert response.status_code == 200, f"{step}: {response.text}"
    return str(booking["id"])


# ---- the console in a browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--no-first-run",
]


@asynccontextmanager
async def console_page(gateway_url: str, **context_options: Any) -> AsyncIterator[Page]:
    """A page of Debian's Chromium on the gateway; the test fails if the page raised a script error.

    Under libfaketime (the run a year ahead, docs/testing.md) Chromium does not load a page at all: it starts
    without the preload, and the page's clock starts at the date the rest of the run lives in (the console works
    out "today" itself), then runs on, timers and all."""
    faked = "faketime" in os.environ.get("LD_PRELOAD", "")
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"} if faked else None
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, env=env
        )
        try:
            context = await browser.new_context(base_url=gateway_url, locale="zh-CN", **context_options)
            if faked:
                await context.clock.install(time=datetime.now(UTC))
            page = await context.new_page()
            page.set_default_timeout(20_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            assert errors == [], f"the console raised in the browser: {errors}"
        finally:
            await browser.close()


# The demo data's services the console tests book: funded lunch for residents aged 80+ or on a low income, and one
# paid service.
MEAL_TABLE = "时代家和老年餐桌"
COUNSELING = "心理疏导一对一"


class Demo:
    """The demo data `make run` loads, as the console's browser tests need it."""

    def __init__(self, gateway: httpx.Client) -> None:
        self.gateway = gateway
        self.operator = login(gateway, "operator")
        offerings = gateway.get("/api/v1/offerings", params={"limit": 200}).json()["items"]
        self.offerings = {o["name_zh"]: o for o in offerings}

    def resident(self, phone: str) -> dict[str, Any]:
        found = self.gateway.get("/api/v1/residents", params={"phone": phone}, headers=self.operator)
        assert found.status_code == 200, found.text
        return dict(found.json()["items"][0])

    def free_slots(self, offering_name: str) -> list[dict[str, Any]]:
        today = date.today()
        response = self.gateway.get(
            "/api/v1/availability",
            params={
                "offering_id": self.offerings[offering_name]["id"],
                "from": today.isoformat(),
                "to": (today + timedelta(days=13)).isoformat(),
            },
        )
        if response.status_code != 200 or not response.json()["bookable"]:
            return []
        return [s for s in response.json()["slots"] if s["remaining"] > 0]

    def bookings_of(self, resident_id: str) -> list[dict[str, Any]]:
        response = self.gateway.get("/api/v1/bookings", params={"resident_id": resident_id}, headers=self.operator)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])


@pytest.fixture(scope="module")
def demo(stack: DevStack) -> Any:
    from demo_data import load_demo_data

    load_demo_data(stack.gateway_url)
    with httpx.Client(base_url=stack.gateway_url, timeout=30.0) as client:
        data = Demo(client)
        # The booking service learns of the offerings through events: wait until it can book them.
        eventually_blocking(lambda: data.free_slots(MEAL_TABLE) and data.free_slots(COUNSELING))
        yield data


# The operator's keyboard, as the console's browser tests press it.


async def sign_in(page: Page) -> None:
    await page.goto("/console/")
    await expect(page.locator("#signin-username")).to_be_focused()
    await page.keyboard.type("operator")
    await page.keyboard.press("Tab")
    await page.keyboard.type("linli-demo-2026")
    await page.keyboard.press("Enter")
    await expect(page.locator("#operator-name")).to_have_text("当前坐席：话务员 小陈")
    await expect(page.locator("#phone")).to_be_focused()


async def look_up(page: Page, query: str) -> None:
    """As the operator does it: F2 to the search box, type what the caller gives, Enter."""
    await page.keyboard.press("F2")
    await expect(page.locator("#phone")).to_be_focused()
    await page.keyboard.type(query)
    await page.keyboard.press("Enter")


async def tab_to(page: Page, selector: str, presses: int = 150) -> None:
    """Tab, as the operator does, until ``selector`` has the focus."""
    target = page.locator(selector)
    await expect(target).to_be_attached()
    for _ in range(presses):
        if await target.evaluate("el => el === document.activeElement"):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{selector} is not reached by Tab")
