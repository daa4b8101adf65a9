"""The role × route policy over the whole stack: every operation of the aggregated OpenAPI document, called
by every kind of caller, is answered as gateway/gateway/policy.py's table says, and one provider cannot reach
another's objects.

For each operation and caller: a role the table does not allow is refused by the gateway (401 for an
anonymous caller, 403 otherwise); an allowed role is never refused (401/403) — whatever else the service
answers (200, 201, 404, 409, 422) is its own business. Path parameters name real objects of provider A
(organization, offering, booking, resident, contract) where there are some; other ids are made up, since
the point is the role check. An operation without a row in the table fails the test, listed by name.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from gateway.policy import NO_KEY, PUBLIC, SIGNED_IN, Rule, rule_for
from gateway.routes import GATEWAY, owner_of
from service_kit.auth import MACHINE_ROLES, PROVIDER_KEY_SCOPES, ApiKeyScope, Role

from .conftest import (
    DevStack,
    free_slots,
    login,
    new_account,
    new_fund,
    new_provider,
    proposed_when_known,
    publish_offering,
    resident_in_the_app,
)

pytestmark = pytest.mark.stack

# Every caller's headers, the ids of provider A's objects by path parameter, and provider B's admin's headers.
World = tuple[dict[str, dict[str, str]], dict[str, str], dict[str, str]]
ANONYMOUS = "anonymous"
CALLERS = (ANONYMOUS, *(role.value for role in Role))
# Calls whose effect reaches beyond this test (every caller's tokens would be signed by a new key): the
# refusals are checked, the allowed calls are not made.
NOT_CALLED_WHEN_ALLOWED = {("POST", "/api/v1/auth/keys/rotate")}


def _account(gateway: httpx.Client, role: str, **extra: str) -> dict[str, str]:
    return new_account(gateway, role, "策略测试", **extra).headers


def _world(gateway: httpx.Client) -> World:
    """Every caller's headers, the ids of provider A's objects by path parameter, and provider B's admin."""
    admin, official, operator = login(gateway, "admin"), login(gateway, "official"), login(gateway, "operator")
    provider_a = new_provider(gateway, "策略测试甲服务社")
    provider_b = new_provider(gateway, "策略测试乙服务社")
    provider_admin = provider_a["admin"]
    offering_id = publish_offering(
        gateway,
        provider_a,
        "策略测试助餐",
        price_fen=1200,
        capacity_per_slot=20,
        weekly_rules=[{"weekday": d, "start": "10:00", "end": "14:00"} for d in range(7)],
    )
    award = {
        "title": "策略测试助餐服务项目",
        "provider_id": provider_a["id"],
        "amount_fen": 100_000,
        "start_date": date.today().isoformat(),
        "end_date": (date.today() + timedelta(days=100)).isoformat(),
        "funded_offerings": [
            {"offering_id": offering_id, "unit_price_fen": 1200, "resident_price_fen": 0, "quota": 10}
        ],
        "fund_id": new_fund(gateway, "策略测试资金", 1_000_000),
        "rationale": "单一来源：策略测试。",
    }

    # Proposed by another official: the walk's official may then approve it (nobody approves their own proposal).
    contract = proposed_when_known(gateway, award, headers=_account(gateway, "official"))
    assert contract.status_code == 201, contract.text
    resident, registered, _ = resident_in_the_app(gateway, "周桂芳")
    resident_id = str(registered["id"])
    (slot,) = free_slots(gateway, offering_id, {})
    booking = gateway.post(
        "/api/v1/bookings", headers=resident, json={"offering_id": offering_id, "slot_start": slot["start"]}
    )
    assert booking.status_code == 201, booking.text

    key = gateway.post(
        "/api/v1/api-keys",
        headers=provider_admin,
        json={"name": "策略测试排班系统", "scopes": sorted(PROVIDER_KEY_SCOPES)},
    )
    assert key.status_code == 201, key.text
    application = gateway.post("/api/v1/api-keys", headers=admin, json={"name": "策略测试热线", "kind": "open311"})
    assert application.status_code == 201, application.text

    callers = {
        ANONYMOUS: {},
        Role.resident.value: resident,
        Role.operator.value: operator,
        Role.provider_admin.value: provider_admin,
        Role.provider_staff.value: _account(gateway, "provider_staff", provider_id=provider_a["id"]),
        Role.official.value: official,
        Role.reviewer.value: _account(gateway, "reviewer"),
        Role.evaluator.value: _account(gateway, "evaluator"),
        Role.auditor.value: _account(gateway, "auditor"),
        Role.admin.value: admin,
        Role.provider_system.value: {"X-API-Key": key.json()["key"]},
        Role.open311_client.value: {"X-API-Key": application.json()["key"]},
    }
    ids = {
        "organization_id": provider_a["id"],
        "provider_id": provider_a["id"],
        "offering_id": offering_id,
        "booking_id": booking.json()["id"],
        "resident_id": resident_id,
        "contract_id": contract.json()["id"],
    }
    return callers, ids, provider_b["admin"]


@pytest.fixture(scope="module")
def world(stack: DevStack) -> Iterator[World]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30.0) as client:
        yield _world(client)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    methods = ("get", "post", "put", "patch", "delete")
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in methods
    ]


def _fill(path: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return ids.get(name) or (str(uuid.uuid4()) if name.endswith("_id") else "policy-walk")

    return re.sub(r"\{([^}]+)\}", value, path)


def _expected(rule: Rule, caller: str, proxied: bool) -> tuple[bool, int]:
    """Whether ``caller`` may call a route under ``rule``, and the gateway's status when not."""
    if caller == ANONYMOUS:
        return rule.who == PUBLIC, 401
    if caller in MACHINE_ROLES:
        if not proxied:
            # The gateway's own endpoints know no API keys, but for the one that tells a key who it is.
            return rule.who == PUBLIC or rule.key != NO_KEY, 401
        if caller == Role.open311_client.value:  # an Open311 application's key: the /open311 facade only
            return rule.key == ApiKeyScope.open311_requests, 403
        # this provider's key has every provider's scope
        return rule.key not in (NO_KEY, ApiKeyScope.open311_requests), 403
    if rule.who in (PUBLIC, SIGNED_IN):
        return True, 0
    return Role(caller) in rule.who, 403


def test_a_provider_cannot_reach_another_providers_objects(gateway: httpx.Client, world: World) -> None:
    # Runs before the walk below, which changes provider A's objects (confirms the booking, say).
    callers, ids, other_provider = world
    own = callers[Role.provider_admin.value]
    org, offering, booking, contract = ids["organization_id"], ids["offering_id"], ids["booking_id"], ids["contract_id"]
    # Provider A's admin reaches them (the control), provider B's admin finds nothing there.
    reads: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/api/v1/bookings/{booking}", None),
        ("GET", f"/api/v1/organizations/{org}/webhooks", None),
        ("GET", f"/api/v1/contracts/{contract}", None),
    ]
    for method, path, body in reads:
        assert gateway.request(method, path, headers=own, json=body).status_code == 200, path
        refused = gateway.request(method, path, headers=other_provider, json=body)
        assert refused.status_code == 404, f"{method} {path}: {refused.status_code} {refused.text}"
    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("PATCH", f"/api/v1/offerings/{offering}", {"name_zh": "改名"}),
        ("POST", f"/api/v1/offerings/{offering}/withdraw", {}),
        ("POST", f"/api/v1/bookings/{booking}/confirm", {}),
        (
            "POST",
            f"/api/v1/organizations/{org}/webhooks",
            {"url": "https://b.example/hook", "event_types": ["booking.*"]},
        ),
    ]
    for method, path, body in writes:
        refused = gateway.request(method, path, headers=other_provider, json=body)
        assert refused.status_code == 404, f"{method} {path}: {refused.status_code} {refused.text}"
    # Nothing changed for provider A.
    assert gateway.get(f"/api/v1/bookings/{booking}", headers=own).json()["status"] == "requested"
    assert gateway.get(f"/api/v1/offerings/{offering}").json()["status"] == "published"


# The gateway's refusals, as a GeoReport error list gives them (its description alone).
GEOREPORT_REFUSALS = {"Your role may not call this endpoint.": "role_forbidden"}


def test_the_policy_table_is_enforced_for_every_route_and_role(gateway: httpx.Client, world: World) -> None:
    spec = gateway.get("/openapi.json").json()
    assert spec["x-linli-missing"] == []
    operations = _operations(spec)
    without_rule = sorted(f"{method} {path}" for method, path, _ in operations if rule_for(method, path) is None)
    assert without_rule == [], "operations without a row in gateway/policy.py:\n" + "\n".join(without_rule)

    callers, ids, _ = world
    calls: list[tuple[str, str, str, str, Rule, bool]] = []
    for method, template, _operation in operations:
        path = _fill(template, ids)
        rule = rule_for(method, template)
        assert rule is not None
        assert rule_for(method, path) == rule, f"{method} {template}: another row decides the filled-in path"
        proxied = owner_of(path) not in (None, GATEWAY)
        for caller in CALLERS:
            allowed, _ = _expected(rule, caller, proxied)
            if allowed and (method, template) in NOT_CALLED_WHEN_ALLOWED:
                continue
            calls.append((method, template, path, caller, rule, proxied))

    def call(entry: tuple[str, str, str, str, Rule, bool]) -> tuple[int, str]:
        method, _template, path, caller, _rule, _proxied = entry
        body = {} if method in ("POST", "PUT", "PATCH") else None
        response = gateway.request(method, path, headers=callers[caller], json=body)
        if path.startswith("/open311/") and response.status_code >= 400:
            # Under /open311 the gateway refuses in the GeoReport error list its clients read (no code field),
            # JSON or XML as the path's suffix asks.
            if path.endswith(".xml"):
                description = ET.fromstring(response.content).findtext("error/description") or ""
            else:
                description = response.json()[0]["description"]
            return response.status_code, GEOREPORT_REFUSALS.get(description, "")
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return response.status_code, str(payload.get("code", "")) if isinstance(payload, dict) else ""

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, calls))

    wrong: list[str] = []
    for (method, template, _path, caller, rule, proxied), (status, code) in zip(calls, answers, strict=True):
        allowed, refusal = _expected(rule, caller, proxied)
        if allowed and status in (401, 403):
            wrong.append(f"{method} {template} as {caller}: {status} {code}, but the table allows {caller}")
        elif not allowed and status != refusal:
            wrong.append(f"{method} {template} as {caller}: {status} {code}, expected {refusal}")
        elif not allowed and proxied and refusal == 403 and caller not in MACHINE_ROLES and code != "role_forbidden":
            wrong.append(f"{method} {template} as {caller}: 403 {code}, expected the gateway's role_forbidden")
    assert wrong == [], f"{len(wrong)} of {len(calls)} calls were not answered as the table says:\n" + "\n".join(wrong)
