"""The role × route policy: which row decides, what each kind of caller is answered, and that the edge refuses
before any service is asked."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from gateway import policy
from gateway.apikeys.schemas import Scope
from gateway.policy import ADMIN, PUBLIC, authorize, rule_for
from gateway.routes import GATEWAY, ROUTE_TABLE
from service_kit.auth import Principal, Role
from service_kit.errors import Forbidden, NotFound, Unauthorized


def caller(*roles: Role, scopes: frozenset[str] = frozenset()) -> Principal:
    return Principal(subject=str(uuid.uuid4()), roles=frozenset(roles), scopes=scopes)


@pytest.mark.parametrize(
    ("method", "path", "decided_by"),
    [
        ("GET", "/api/v1/complaints/overdue", "/api/v1/complaints/overdue"),  # a literal beats {complaint_id}
        ("GET", "/api/v1/complaints/7f1c", "/api/v1/complaints/**"),
        ("POST", "/api/v1/complaints", "/api/v1/complaints"),  # a named route beats the prefix's default
        ("POST", "/api/v1/complaints/7f1c/notes", "/api/v1/complaints/**"),
        ("GET", "/api/v1/calls", "/api/v1/calls"),
        ("GET", "/api/v1/calls/c-1/applications/a-1", "/api/v1/calls/{call_id}/applications/**"),
        ("POST", "/api/v1/calls/c-1/applications/a-1/approve", "/api/v1/calls/**"),
        ("GET", "/api/v1/organizations/o-1/webhooks/w-1", "/api/v1/organizations/{organization_id}/webhooks/**"),
        ("GET", "/api/v1/organizations/o-1", "/api/v1/organizations/**"),
        ("POST", "/api/v1/contracts/k-1/amendments/a-1/approve", "/api/v1/contracts/{contract_id}/amendments/**"),
        ("POST", "/api/v1/contracts/k-1/some-new-step", "/api/v1/contracts/**"),
        ("HEAD", "/open-data/hsds/services", "/open-data/**"),
        ("GET", "/api/v1/residents/", "/api/v1/residents"),  # a trailing slash is the same route
    ],
)
def test_the_most_specific_row_decides(method: str, path: str, decided_by: str) -> None:
    rule = rule_for(method, path)
    assert rule is not None
    assert rule.path == decided_by


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/open-data/hsds/services"),  # open data is read only
        ("POST", "/api/v1/scores/providers/p-1"),
        ("GET", "/api/v1/nothing-here"),
        ("OPTIONS", "/api/v1/bookings"),
    ],
)
def test_no_row_is_404_no_policy(method: str, path: str) -> None:
    assert rule_for(method, path) is None
    with pytest.raises(NotFound) as refused:
        authorize(method, path, caller(ADMIN))
    assert refused.value.code == "no_policy"


def test_anonymous_callers_reach_only_public_rows() -> None:
    assert authorize("GET", "/api/v1/offerings/o-1", None).who == PUBLIC
    assert authorize("POST", "/api/v1/notices/n-1/objections", None).who == PUBLIC
    with pytest.raises(Unauthorized):
        authorize("GET", "/api/v1/bookings", None)


def test_a_role_not_in_the_row_is_403_role_forbidden() -> None:
    authorize("POST", "/api/v1/contracts/k-1/terminate", caller(Role.official))
    for role in (Role.resident, Role.operator, Role.provider_admin, Role.evaluator):
        with pytest.raises(Forbidden) as refused:
            authorize("POST", "/api/v1/contracts/k-1/terminate", caller(role))
        assert refused.value.code == "role_forbidden"
    # One allowed role among several is enough.
    authorize("POST", "/api/v1/contracts/k-1/terminate", caller(Role.resident, Role.official))
    # Signed in is enough where the row says so.
    authorize("GET", "/api/v1/auth/me", caller(Role.reviewer))


def test_an_auditor_reads_the_procurement_records_and_writes_nothing() -> None:
    auditor = caller(Role.auditor)
    for path in (
        "/api/v1/contracts",
        "/api/v1/contracts/k-1",
        "/api/v1/contracts/k-1/disbursements",
        "/api/v1/contracts/k-1/amendments",
        "/api/v1/contracts/k-1/evaluations/final",
        "/api/v1/audit-trail/s-1",
        "/api/v1/funds",
        "/api/v1/funds/f-1",
        "/api/v1/sanctions",
        "/api/v1/need-pool",
        "/api/v1/calls/c-1/reviewers",
        "/api/v1/calls/c-1/applications/a-1/scores",
        "/api/v1/calls/c-1/applications/a-1/past-performance",
    ):
        authorize("GET", path, auditor)
    for method, path in (
        ("POST", "/api/v1/contracts"),
        ("POST", "/api/v1/contracts/k-1/disbursements"),
        ("POST", "/api/v1/contracts/k-1/amendments"),
        ("POST", "/api/v1/contracts/k-1/amendments/m-1/approve"),
        ("POST", "/api/v1/contracts/k-1/evaluations/final/scores"),
        ("POST", "/api/v1/funds"),
        ("POST", "/api/v1/sanctions/s-1/lift"),
        ("POST", "/api/v1/calls"),
        ("PUT", "/api/v1/need-pool/ranking"),
        ("POST", "/api/v1/audit-trail/s-1"),
    ):
        with pytest.raises(Forbidden) as refused:
            authorize(method, path, auditor)
        assert refused.value.code == "role_forbidden", (method, path)
    # Reviewers see an applicant's past performance; the public a provider's standing.
    authorize("GET", "/api/v1/calls/c-1/applications/a-1/past-performance", caller(Role.reviewer))
    assert authorize("GET", "/open-data/providers/p-1/standing", None).who == PUBLIC


def test_api_keys_need_the_rows_scope() -> None:
    reader = frozenset({Scope.bookings_read.value})
    authorize("GET", "/api/v1/bookings/b-1", None, key_scopes=reader)
    authorize("GET", "/api/v1/organizations/o-1/webhooks", None, key_scopes=reader)  # any key
    with pytest.raises(Forbidden) as refused:
        authorize("POST", "/api/v1/bookings/b-1/confirm", None, key_scopes=reader)
    assert refused.value.code == "scope_missing"
    with pytest.raises(Forbidden) as refused:
        authorize("GET", "/api/v1/streets", None, key_scopes=reader)  # public, yet not for keys
    assert refused.value.code == "route_not_for_api_keys"
    # The token the gateway made from a key (role provider_system) is held to the same column.
    system = caller(Role.provider_system, scopes=frozenset({Scope.bookings_write.value}))
    authorize("POST", "/api/v1/bookings/b-1/confirm", system)
    with pytest.raises(Forbidden):
        authorize("GET", "/api/v1/bookings/b-1", system)


def test_every_prefix_has_a_default_for_routes_added_later() -> None:
    read_only = (
        "/open-data/hsds",
        "/open-data/ocds",
        "/open-data/providers",
        "/api/v1/scores",
        "/api/v1/qualifications",
    )
    read_only += ("/api/v1/rating-invitations", "/api/v1/review-assignments", "/api/v1/circle")
    for prefix, owner in ROUTE_TABLE.items():
        if owner == GATEWAY:
            continue  # the gateway's own endpoints, each named
        new_route = f"{prefix}/some-id/some-new-route"
        assert rule_for("GET", new_route) is not None, prefix
        if prefix not in read_only:
            assert rule_for("POST", new_route) is not None, prefix


def test_every_row_is_well_formed() -> None:
    seen = set()
    for rule in policy.POLICY:
        assert rule.path.startswith("/"), rule
        assert rule.methods, rule
        assert rule.methods <= policy.ALL, rule
        assert rule.who in (policy.PUBLIC, policy.SIGNED_IN) or (isinstance(rule.who, frozenset) and rule.who), rule
        for method in rule.methods:
            assert (method, rule.path) not in seen, f"two rows for {method} {rule.path}"
            seen.add((method, rule.path))


# ------------------------------------------------------------------ through the gateway


async def test_the_edge_refuses_before_any_service_is_asked(
    client: httpx.AsyncClient, services: dict[str, Any], create_account: Any, sign_in: Any
) -> None:
    await create_account("resident-zhao", "resident")
    resident = await sign_in("resident-zhao")

    anonymous = await client.get("/api/v1/bookings")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.json()["code"] == "unauthorized"

    forbidden = await client.get("/api/v1/funds", headers=resident)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    assert forbidden.json()["code"] == "role_forbidden"

    unknown = await client.delete("/open-data/hsds/services", headers=resident)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "no_policy"

    assert services["booking"].app.state.requests == []
    assert services["procurement"].app.state.requests == []
    assert services["registry"].app.state.requests == []

    # Allowed: forwarded with the caller's token.
    allowed = await client.get("/api/v1/bookings", headers=resident)
    assert allowed.status_code == 200
    assert allowed.json()["service"] == "booking"
    public = await client.get("/api/v1/offerings")
    assert public.status_code == 200
