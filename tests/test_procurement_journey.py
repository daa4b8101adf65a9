"""Issue 5's check through the gateway, as a new official and new providers would drive it: from a resident's need
to a call for proposals, two applications, three reviewers (one linked to an applicant, refused), approval within
the fund's budget, the public notice with an objection answered, a signed contract, an amendment that waits for
the provider's approval, a 12% supplement refused, funded bookings completed and counted, the three-party
evaluation, acceptance, every installment paid and a fourth refused, a failing provider sanctioned and refused in
the next call — and the OCDS export of all of it valid against the official OCDS 1.1 schemas.

And "every yuan to a verified delivery": no bare contract (a direct award names its fund and legal rationale and
is approved by a second official), payments only to the provider's own account from the fund's owner on a true
day, an unfunded booking no deliverable, an application promising only the applicant's own offerings."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpx
import ocdsmerge
import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT4
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service_kit.testing import eventually_blocking

from .conftest import (
    NOT_KNOWN_YET,
    PAYER,
    RATIONALE,
    ROOT,
    SOCIAL_AFFAIRS,
    DevStack,
    acceptance,
    award_terms,
    beijing_today,
    completed_funded_booking,
    evaluate,
    login,
    new_account,
    new_fund,
    pay,
    provider_with_offering,
    registered_by_operator,
)

pytestmark = pytest.mark.stack

OCDS = ROOT / "standards" / "ocds-1.1"
RELEASE_SCHEMA_URI = "https://standard.open-contracting.org/schema/1__1__5/release-schema.json"
CRITERIA = [
    {"code": "feasibility", "name": "项目可行性", "weight": 40},
    {"code": "capacity", "name": "机构能力", "weight": 35},
    {"code": "budget", "name": "预算合理性", "weight": 25},
]


# ---- OCDS validation: the official schemas, with the two formats jsonschema leaves unchecked without extras


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    date_time = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not date_time.match(value):
            return False
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
        return True

    @checker.checks("uri", raises=ValueError)
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        if not parts.scheme or re.search(r"\s", value):
            return False
        return bool(parts.netloc) if parts.scheme in ("http", "https") else bool(parts.path or parts.netloc)

    return checker


@cache
def _validator(name: str) -> Draft4Validator:
    release = json.loads((OCDS / "release-schema.json").read_text())
    registry: Registry[Any] = Registry().with_resource(RELEASE_SCHEMA_URI, DRAFT4.create_resource(release))
    return Draft4Validator(
        json.loads((OCDS / f"{name}.json").read_text()), registry=registry, format_checker=_format_checker()
    )


@cache
def _merger() -> ocdsmerge.Merger:
    # The Open Contracting Partnership's reference merge, reading the vendored release schema: nothing is fetched.
    return ocdsmerge.Merger(schema=json.loads((OCDS / "release-schema.json").read_text()))


def assert_ocds_valid(name: str, document: dict[str, Any]) -> None:
    """0 errors against the schema; each record's releases, compiled by ocdsmerge, valid and equal to its own
    compiledRelease (but for the compiled release's id)."""
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:20])
    for record in document.get("records", []):
        compiled = _merger().create_compiled_release(copy.deepcopy(record["releases"]))
        errors = sorted(_validator("release-schema").iter_errors(compiled), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:20])
        ours = {k: v for k, v in record["compiledRelease"].items() if k != "id"}
        assert ours == {k: v for k, v in compiled.items() if k != "id"}


# ---- the steps of the story (those other journeys take too are in conftest.py)


def application(budget_request_fen: int, offering_id: str) -> dict[str, Any]:
    return {
        "title": "长阳镇老年餐桌与探访服务",
        "proposal": "在长阳镇设老年餐桌，每周探访独居老人。",
        "budget_request_fen": budget_request_fen,
        "deliverables": [
            {
                "offering_id": offering_id,
                "quantity": 200,
                "target_group": "80+",
                "period_start": date.today().isoformat(),
                "period_end": (date.today() + timedelta(days=300)).isoformat(),
            }
        ],
        "kpis": [{"name": "服务满意度", "target": "≥ 90%"}],
    }


def open_call(gateway: httpx.Client, fund_id: str, title: str, *, seconds: int, need_ids: list[str]) -> str:
    official = login(gateway, "official")
    deadline = datetime.now(UTC) + timedelta(seconds=seconds)
    call = gateway.post(
        "/api/v1/calls",
        headers=official,
        json={
            "title": title,
            "description": "面向80岁以上及独居老人的助餐、探访服务。",
            "directions": ["elderly_care"],
            "budget_cap_fen": 400_000,
            "fund_id": fund_id,
            "need_ids": need_ids,
            "criteria": CRITERIA,
            "deadline": deadline.isoformat(),
        },
    )
    assert call.status_code == 201, call.text
    published = gateway.post(f"/api/v1/calls/{call.json()['id']}/publish", headers=official, json={})
    assert published.status_code == 200, published.text
    return str(call.json()["id"])


def apply_when_known(gateway: httpx.Client, call_id: str, provider: dict[str, Any], amount_fen: int) -> httpx.Response:
    """Procurement learns a verified provider from provider.verified and its offering from offering.published;
    until then it answers provider_not_verified or offering_not_own."""

    def attempt() -> httpx.Response | None:
        response = gateway.post(
            f"/api/v1/calls/{call_id}/applications",
            headers=provider["admin"],
            json=application(amount_fen, provider["offering_id"]),
        )
        if response.status_code == 422 and response.json().get("code") in NOT_KNOWN_YET:
            return None
        return response

    result: httpx.Response = eventually_blocking(attempt)
    return result


def direct_contract(
    gateway: httpx.Client,
    provider: dict[str, Any],
    title: str,
    amount_fen: int,
    fund_id: str,
    approver: dict[str, str],
    *,
    target: int,
) -> dict[str, Any]:
    """A direct award (直接委托, no call) from ``fund_id``: proposed by the official with its legal rationale and
    its targets (``target`` services of the funded offering, a satisfaction goal), approved by ``approver``, a
    second official (four eyes); paid 30% on signing, 40% after mid-term, 30% on passing."""
    official = login(gateway, "official")
    contract = gateway.post(
        "/api/v1/contracts",
        headers=official,
        json=award_terms(
            title,
            provider["id"],
            provider["offering_id"],
            amount_fen,
            fund_id=fund_id,
            rationale=RATIONALE,
            targets=[
                {
                    "name": "助餐人次",
                    "target": f"{target}人次",
                    "offering_id": provider["offering_id"],
                    "quantity": target,
                },
                {"name": "服务满意度", "target": "≥ 90%"},
            ],
        ),
    )
    assert contract.status_code == 201, contract.text
    assert [(t["name"], t["quantity"]) for t in contract.json()["targets"]] == [
        ("助餐人次", target),
        ("服务满意度", None),
    ]
    approve = f"/api/v1/contracts/{contract.json()['id']}/direct-award/approve"
    own = gateway.post(approve, headers=official, json={})
    assert (own.status_code, own.json()["code"]) == (403, "own_proposal"), own.text
    approved = gateway.post(approve, headers=approver, json={"reason": "符合单一来源条件"})
    assert approved.status_code == 200, approved.text
    assert (approved.json()["procurement_method"], approved.json()["fund_id"]) == ("direct", fund_id)
    # Both parties sign (双方签署): the district first, then the provider; only then is the contract active.
    url = f"/api/v1/contracts/{contract.json()['id']}/sign"
    purchaser = gateway.post(url, headers=official, json={})
    assert (purchaser.status_code, purchaser.json()["status"]) == (200, "draft"), purchaser.text
    signed = gateway.post(url, headers=provider["admin"], json={})
    assert signed.status_code == 200, signed.text
    body: dict[str, Any] = signed.json()
    assert body["purchaser_signature"] is not None
    assert body["provider_signature"] is not None
    return body


def procurement_knows_ratings(stack: DevStack, provider_id: str) -> int:
    """How many of the provider's bookings' ratings procurement has heard of (its copy of feedback's
    rating.submitted, which the evaluation's quality part reads)."""

    async def read() -> int:
        engine = create_async_engine(stack.database_url("procurement"))
        try:
            async with engine.connect() as connection:
                found = await connection.execute(text("SELECT provider_id FROM booking_rating"))
                rows = found.all()
        finally:
            await engine.dispose()
        return sum(1 for (pid,) in rows if uuid.UUID(str(pid)) == uuid.UUID(provider_id))

    return asyncio.run(read())


def test_procurement_from_need_to_sanction(gateway: httpx.Client, stack: DevStack) -> None:
    official, operator = login(gateway, "official"), login(gateway, "operator")
    suffix = f"{uuid.uuid4().int % 10**8:08d}"  # digits: the names show on the console, read for stray Latin

    # Two new providers, each verified by the district with an admin account and a published meal table.
    yangfang = provider_with_offering(gateway, f"阳坊助老服务社{suffix}")
    liangxiang = provider_with_offering(gateway, f"良乡邻里互助中心{suffix}")
    reviewers = [new_account(gateway, "reviewer", f"评审专家{n}") for n in ("甲", "乙", "丙")]
    evaluator = new_account(gateway, "evaluator", "中诚第三方评估")
    approver, _ = new_account(gateway, "official", "区社会办 李处长")  # a second official: four eyes

    # ---- From a need to a call. A caller tells the operator there is no meal table nearby; the need reaches
    # procurement's needs pool, and the official's call for proposals answers it.
    # The community is new in the gazetteer: the official adds it, and feedback learns it from the registry's event.
    community = f"changyang.j{suffix}"
    added = gateway.post(
        "/api/v1/communities",
        headers=official,
        json={
            "code": community,
            "street_code": "changyang",
            "name_zh": f"长阳测试社区{suffix}",
            "lat": 39.76,
            "lng": 116.21,
        },
    )
    assert added.status_code == 201, added.text

    def file_need() -> httpx.Response | None:
        response = gateway.post(
            "/api/v1/needs",
            headers=operator,
            json={"category_code": "elderly.meal_table", "community_code": community, "text": "附近没有老年餐桌"},
        )
        if response.status_code == 422 and response.json()["code"] == "unknown_community":
            return None  # not known to feedback yet
        return response

    need = eventually_blocking(file_need)
    assert need.status_code == 201, need.text
    group_key = need.json()["group_key"]

    def pooled() -> dict[str, Any] | None:
        pool = gateway.get("/api/v1/need-pool", headers=official, params={"limit": 200}).json()
        return next((item for item in pool.get("items", []) if item.get("group_key") == group_key), None)

    pool_need = eventually_blocking(pooled)
    fund_id = new_fund(gateway, f"社区服务专项资金{suffix}", 500_000, year=2026)
    # Direct awards draw on a fund of their own, owned (and paid) by the social-affairs office.
    direct_fund_id = new_fund(gateway, f"区级社区服务直接委托资金{suffix}", 1_000_000, SOCIAL_AFFAIRS, year=2026)
    # The call stays open a short while: both providers apply before its deadline, then it closes.
    call_id = open_call(gateway, fund_id, "长阳镇老年助餐服务项目征集", seconds=30, need_ids=[pool_need["id"]])

    # ---- Two applications.
    first = apply_when_known(gateway, call_id, yangfang, 300_000)
    assert first.status_code == 201, first.text
    second = apply_when_known(gateway, call_id, liangxiang, 250_000)
    assert second.status_code == 201, second.text
    app_a, app_b = first.json()["id"], second.json()["id"]

    closed = eventually_blocking(
        lambda: gateway.post(f"/api/v1/calls/{call_id}/close", headers=official, json={}).is_success, timeout=60
    )
    assert closed

    # ---- Three reviewers; the third is linked to 阳坊 and may not score its application.
    for n in range(3):
        assigned = gateway.post(
            f"/api/v1/calls/{call_id}/reviewers",
            headers=official,
            json={
                "reviewer_subject": reviewers[n][1],
                "reviewer_name": f"评审专家{n}",
                "linked_provider_ids": [yangfang["id"]] if n == 2 else [],
            },
        )
        assert assigned.status_code == 201, assigned.text
    for n, (reviewer, _) in enumerate(reviewers):
        for app_id, scores in ((app_a, (90, 85, 80)), (app_b, (70, 75, 70))):
            base = f"/api/v1/calls/{call_id}/applications/{app_id}"
            if n == 2 and app_id == app_a:
                denied = gateway.post(f"{base}/declaration", headers=reviewer, json={"conflict": False})
                assert (denied.status_code, denied.json()["code"]) == (409, "conflict_of_interest"), denied.text
                declared = gateway.post(
                    f"{base}/declaration", headers=reviewer, json={"conflict": True, "note": "曾任该机构顾问"}
                )
                assert declared.status_code == 201, declared.text
                sheet = dict(zip(("feasibility", "capacity", "budget"), scores, strict=True))
                refused = gateway.put(f"{base}/my-scores", headers=reviewer, json={"scores": sheet})
                assert (refused.status_code, refused.json()["code"]) == (409, "conflict_of_interest"), refused.text
                continue
            declared = gateway.post(f"{base}/declaration", headers=reviewer, json={"conflict": False})
            assert declared.status_code == 201, declared.text
            sheet = dict(zip(("feasibility", "capacity", "budget"), scores, strict=True))
            scored = gateway.put(f"{base}/my-scores", headers=reviewer, json={"scores": sheet})
            assert scored.status_code == 200, scored.text
    review_closed = gateway.post(f"/api/v1/calls/{call_id}/close-review", headers=official, json={})
    assert review_closed.status_code == 200, review_closed.text
    ranked = gateway.get(f"/api/v1/calls/{call_id}/applications/{app_a}", headers=official).json()
    assert (ranked["rank"], ranked["reviewer_count"]) == (1, 2)

    # ---- Approval (立项) within the fund's budget: 阳坊's 300,000 fen fit; 良乡's 250,000 more would not.
    approved = gateway.post(f"/api/v1/calls/{call_id}/applications/{app_a}/approve", headers=official, json={})
    assert approved.status_code == 200, approved.text
    over = gateway.post(f"/api/v1/calls/{call_id}/applications/{app_b}/approve", headers=official, json={})
    assert (over.status_code, over.json()["code"]) == (409, "budget_exceeded"), over.text
    assert gateway.get(f"/api/v1/funds/{fund_id}", headers=official).json()["committed_fen"] == 300_000

    # ---- The public notice (公示); a member of the public objects, without signing in; the official answers.
    notice = gateway.post(f"/api/v1/calls/{call_id}/notice", headers=official, json={"period_working_days": 1})
    assert notice.status_code == 201, notice.text
    notice_id = notice.json()["id"]
    objection = gateway.post(
        f"/api/v1/notices/{notice_id}/objections",
        json={
            "filer_name": "周建国",
            "filer_phone": "13912345678",
            "application_id": app_a,
            "content": "该机构场地是否足够？",
        },
    )
    assert objection.status_code == 201, objection.text
    answered = gateway.post(
        f"/api/v1/notices/{notice_id}/objections/{objection.json()['id']}/answer",
        headers=official,
        json={"answer": "经核实，该机构在长阳镇有两处服务场地。"},
    )
    assert answered.status_code == 200, answered.text
    # The official publishes the approval (立项批复) with the notice: a document like a call's, public at once.
    approval = (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Title (lixiang pifu) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    lying = gateway.post(
        f"/api/v1/notices/{notice_id}/documents", headers=official, files={"file": ("批复.png", approval)}
    )
    assert (lying.status_code, lying.json()["code"]) == (415, "lying_extension"), lying.text
    attached = gateway.post(
        f"/api/v1/notices/{notice_id}/documents",
        headers=official,
        files={"file": ("立项批复.pdf", approval, "application/pdf")},
    )
    assert attached.status_code == 201, attached.text
    notice_document = attached.json()
    public = gateway.get(f"/api/v1/notices/{notice_id}", headers={"Host": "evil.example"}).json()
    assert public["objections"][0]["answer"]
    assert "13912345678" not in json.dumps(public, ensure_ascii=False)
    assert [(d["id"], d["filename"]) for d in public["documents"]] == [(notice_document["id"], "立项批复.pdf")]
    # Its URL is the configured public address (the stack's gateway), never the Host a caller sent.
    assert public["documents"][0]["url"] == f"{stack.gateway_url}/api/v1/documents/procurement/{notice_document['id']}"
    served = gateway.get(urlsplit(public["documents"][0]["url"]).path)  # no sign-in: it is public
    assert (served.status_code, served.content) == (200, approval)

    # The awarded contract is drafted from the application; it is signed only after the notice has run (at least
    # one working day, which this test cannot wait for), so signing it today is refused.
    terms = {
        "start_date": date.today().isoformat(),
        "end_date": (date.today() + timedelta(days=300)).isoformat(),
        "funded_offerings": [
            {"offering_id": yangfang["offering_id"], "unit_price_fen": 1500, "resident_price_fen": 0, "quota": 100}
        ],
    }
    awarded = gateway.post(f"/api/v1/calls/{call_id}/applications/{app_a}/contract", headers=official, json=terms)
    assert awarded.status_code == 201, awarded.text
    early = gateway.post(f"/api/v1/contracts/{awarded.json()['id']}/sign", headers=official, json={})
    assert (early.status_code, early.json()["code"]) == (409, "notice_period_running"), early.text

    # ---- No contract without a procurement method: what the issue saw drafted bare (9 billion yuan, no fund, no
    # call, no review) is refused and leaves nothing.
    bare = gateway.post(
        "/api/v1/contracts",
        headers=official,
        json={
            "title": "未经程序的合同",
            "provider_id": yangfang["id"],
            "amount_fen": 900_000_000_000,
            "start_date": date.today().isoformat(),
            "end_date": (date.today() + timedelta(days=300)).isoformat(),
            "funded_offerings": [
                {"offering_id": yangfang["offering_id"], "unit_price_fen": 1500, "resident_price_fen": 0, "quota": 1}
            ],
        },
    )
    assert bare.status_code == 422, bare.text
    assert sorted(e["field"] for e in bare.json()["errors"]) == ["fund_id", "rationale"]

    # ---- A direct award the district signs with 阳坊 (so the rest of the life runs today).
    contract = direct_contract(
        gateway, yangfang, f"阳坊镇老年餐桌服务项目{suffix}", 300_000, direct_fund_id, approver, target=2
    )
    contract_id = contract["id"]
    assert (contract["status"], contract["version"]) == ("active", 1)
    assert [i["amount_fen"] for i in contract["installments"]] == [90_000, 120_000, 90_000]

    # ---- A one-sided amendment: the official proposes 5% more and a longer term; nothing changes until the
    # provider approves, and the official cannot approve the official's own proposal.
    new_end = (date.today() + timedelta(days=330)).isoformat()
    amendment = gateway.post(
        f"/api/v1/contracts/{contract_id}/amendments",
        headers=official,
        json={
            "summary": "增加助餐服务人次",
            "reason": "高龄老人报名超出预期",
            "supplement_fen": 15_000,
            "end_date": new_end,
        },
    )
    assert amendment.status_code == 201, amendment.text
    amendment_id = amendment.json()["id"]
    unchanged = gateway.get(f"/api/v1/contracts/{contract_id}", headers=official).json()
    assert (unchanged["version"], unchanged["amount_fen"], unchanged["end_date"]) == (
        1,
        300_000,
        contract["end_date"],
    )
    own = gateway.post(f"/api/v1/contracts/{contract_id}/amendments/{amendment_id}/approve", headers=official, json={})
    assert (own.status_code, own.json()["code"]) == (403, "own_proposal"), own.text
    agreed = gateway.post(
        f"/api/v1/contracts/{contract_id}/amendments/{amendment_id}/approve", headers=yangfang["admin"], json={}
    )
    assert agreed.status_code == 200, agreed.text
    amended = gateway.get(f"/api/v1/contracts/{contract_id}", headers=official).json()
    assert (amended["version"], amended["amount_fen"], amended["supplement_fen"], amended["end_date"]) == (
        2,
        315_000,
        15_000,
        new_end,
    )
    versions = gateway.get(f"/api/v1/contracts/{contract_id}/versions", headers=official).json()
    assert sorted(v["version"] for v in versions["items"]) == [1, 2]

    # A supplement of 12% of the original amount is refused (at most 10%, and 5% is already approved).
    too_much = gateway.post(
        f"/api/v1/contracts/{contract_id}/amendments",
        headers=yangfang["admin"],
        json={"summary": "再增加探访服务", "reason": "服务范围扩大", "supplement_fen": 36_000},
    )
    assert (too_much.status_code, too_much.json()["code"]) == (422, "supplement_above_limit"), too_much.text

    # ---- Funded bookings, completed and counted as the contract's deliverables.
    residents = []
    for name in ("王秀英", "刘淑珍"):
        resident = registered_by_operator(
            gateway, operator, name=name, community_code=community, eligibility_tags=["age_80_plus"]
        )
        residents.append(resident["id"])
    # First a resident the contract does not fund (no eligibility tag): she pays the full ¥15, and the service is
    # no deliverable of the contract (the district does not pay for it a second time).
    unfunded = registered_by_operator(gateway, operator, name="陈丽华", community_code=community)
    completed_funded_booking(gateway, yangfang, None, unfunded["id"], day_offset=3)
    bookings = [
        completed_funded_booking(gateway, yangfang, contract_id, resident_id, day_offset=n + 1)
        for n, resident_id in enumerate(residents)
    ]

    def counted() -> list[dict[str, Any]]:
        response = gateway.get(f"/api/v1/contracts/{contract_id}/deliverables", headers=official)
        items: list[dict[str, Any]] = response.json()["items"] if response.status_code == 200 else []
        return items if len(items) == 2 else []

    assert sorted(d["booking_id"] for d in eventually_blocking(counted)) == sorted(bookings)
    assert gateway.get(f"/api/v1/contracts/{contract_id}", headers=official).json()["delivered_count"] == 2

    # The residents rate the meals (through the operator); their satisfaction reaches the provider's score.
    for booking_id, resident_id, stars in zip(bookings, residents, (5, 4), strict=True):

        def invited(booking_id: str = booking_id, resident_id: str = resident_id) -> bool:
            response = gateway.get("/api/v1/rating-invitations", headers=operator, params={"resident_id": resident_id})
            return any(i["booking_id"] == booking_id for i in response.json().get("items", []))

        eventually_blocking(invited)
        rated = gateway.post("/api/v1/ratings", headers=operator, json={"booking_id": booking_id, "stars": stars})
        assert rated.status_code == 201, rated.text
    org_path = f"/api/v1/organizations/{yangfang['id']}"
    eventually_blocking(lambda: gateway.get(org_path, headers=official).json().get("score", {}).get("count") == 2)

    # ---- A payment is what it claims: to a private person's account, dated 2001 or 2031, it is refused.
    for payee, paid_on, code in (
        ("张三", None, "payee_not_provider"),
        (yangfang["name"], date(2001, 1, 1), "paid_on_outside_contract_period"),
        (yangfang["name"], date(2031, 1, 1), "paid_on_in_future"),
    ):
        refused_pay = pay(gateway, contract_id, payee, paid_on)
        assert (refused_pay.status_code, refused_pay.json()["code"]) == (422, code), refused_pay.text

    # ---- The first installment is paid on signing; the second waits for the mid-term evaluation.
    first_paid = pay(gateway, contract_id, yangfang["name"])
    assert first_paid.status_code == 201, first_paid.text
    assert (first_paid.json()["payer"], first_paid.json()["payee_id"]) == (PAYER, yangfang["id"])
    early_pay = pay(gateway, contract_id, yangfang["name"])
    assert (early_pay.status_code, early_pay.json()["code"]) == (409, "installment_condition_not_met")

    # ---- A satisfaction callback: the service draws one of the contract's funded bookings at random; the
    # operator calls its resident and records the answer.
    drawn = gateway.post(f"/api/v1/contracts/{contract_id}/callbacks", headers=operator, json={})
    assert drawn.status_code == 201, drawn.text
    assert drawn.json()["booking_id"] in bookings
    answered_callback = gateway.post(
        f"/api/v1/contracts/{contract_id}/callbacks/{drawn.json()['id']}/result",
        headers=operator,
        json={"reached": True, "satisfied": True, "note": "老人说饭菜可口"},
    )
    assert (answered_callback.status_code, answered_callback.json()["status"]) == (200, "recorded")

    # ---- An evaluator nobody assigned to this contract cannot score it.
    stranger, _ = new_account(gateway, "evaluator", "未受委托的评估机构")
    unassigned = gateway.post(
        f"/api/v1/contracts/{contract_id}/evaluations/midterm/scores", headers=stranger, json={"score": 99}
    )
    assert (unassigned.status_code, unassigned.json()["code"]) == (403, "evaluator_not_assigned"), unassigned.text

    # ---- The evaluation: quantity, the contract's own recipients, fund use, the purchaser, the third party.
    midterm = evaluate(gateway, contract_id, "midterm", evaluator, purchaser=88, third=84)
    assert midterm["kpi"]["delivered"] == 2
    assert pay(gateway, contract_id, yangfang["name"]).status_code == 201
    # No API shows when procurement has heard of the ratings (rating.submitted): the final evaluation waits until
    # procurement's own copy of them (what the quality part reads) holds both.
    eventually_blocking(lambda: procurement_knows_ratings(stack, yangfang["id"]) == 2, timeout=60)
    final = evaluate(gateway, contract_id, "final", evaluator, purchaser=90, third=86)
    assert final["recipients_rating_count"] == 2, final
    parts = final["parts"]
    # 5 and 4 stars (90) and the one callback, satisfied (100).
    assert (parts["quality"]["score"], parts["quality"]["basis"]["callbacks_satisfied"]) == (95, 1)
    assert (parts["quantity"]["score"], final["kpi"]["attainment_percent"]) == (100, 100)
    assert final["missing_parts"] == []
    assert final["combined_score"] == pytest.approx(
        sum(p["weight"] * p["score"] for p in parts.values()) / 100, abs=0.01
    )
    assert final["result"] == "passed"

    # ---- Acceptance (验收) passes; it is published without a login, the residents' names masked.
    accepted = gateway.post(
        f"/api/v1/contracts/{contract_id}/acceptance",
        headers=official,
        json=acceptance("passed", "服务人次、满意度均达到合同约定。"),
    )
    assert accepted.status_code == 201, accepted.text
    published = gateway.get(f"/api/v1/contracts/{contract_id}/acceptance")
    assert published.status_code == 200, published.text
    assert [a["result"] for a in published.json()["items"]] == ["passed"]
    assert "张桂兰" not in published.text
    assert "张**" in published.text

    # ---- The last installment (with the supplement) is paid; a fourth payment is refused.
    last = pay(gateway, contract_id, yangfang["name"])
    assert last.status_code == 201, last.text
    assert last.json()["amount_fen"] == 90_000 + 15_000
    fourth = pay(gateway, contract_id, yangfang["name"])
    assert (fourth.status_code, fourth.json()["code"]) == (409, "plan_fully_paid"), fourth.text
    paid = gateway.get(f"/api/v1/contracts/{contract_id}", headers=official).json()
    assert paid["disbursed_fen"] == paid["amount_fen"] == 315_000

    # ---- 优胜劣汰: 良乡's contract fails its acceptance; the provider is sanctioned ...
    failing = direct_contract(
        gateway, liangxiang, f"良乡镇助餐服务项目{suffix}", 200_000, direct_fund_id, approver, target=100
    )
    evaluate(gateway, failing["id"], "midterm", evaluator, purchaser=65, third=62)
    failing_final = evaluate(gateway, failing["id"], "final", evaluator, purchaser=62, third=61)
    assert (failing_final["kpi"]["attainment_percent"], failing_final["result"]) == (0, "failed")
    # Nothing delivered: the acceptance cannot pass; the way forward is a settlement or the sanction process.
    not_passed = gateway.post(
        f"/api/v1/contracts/{failing['id']}/acceptance",
        headers=official,
        json=acceptance("passed", "服务人次、满意度均达到合同约定。"),
    )
    assert (not_passed.status_code, not_passed.json()["code"]) == (409, "attainment_below_threshold")
    assert not_passed.json()["ways_forward"] == ["settlement_amendment", "sanction"]
    failed = gateway.post(
        f"/api/v1/contracts/{failing['id']}/acceptance",
        headers=official,
        json=acceptance("failed", "服务人次不足约定的一半。"),
    )
    assert failed.status_code == 201, failed.text
    sanctions = gateway.get("/api/v1/sanctions", headers=official, params={"provider_id": liangxiang["id"]})
    assert sanctions.status_code == 200, sanctions.text
    listed = [(s["status"], s["cause"], s["contract_id"]) for s in sanctions.json()["items"]]
    # The final score (24.6, below 60) sanctioned it already; the failed acceptance adds no second sanction.
    assert listed == [("active", "final_score_below_threshold", failing["id"])]

    # ... and refused in the next call for proposals, while 阳坊 may apply.
    next_call = open_call(gateway, fund_id, "2027年良乡镇助餐服务项目征集", seconds=600, need_ids=[])
    refused = gateway.post(
        f"/api/v1/calls/{next_call}/applications",
        headers=liangxiang["admin"],
        json=application(100_000, liangxiang["offering_id"]),
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "provider_sanctioned"), refused.text
    # 阳坊 promises only its own published offerings: 良乡's meal table is not its to promise.
    not_own = gateway.post(
        f"/api/v1/calls/{next_call}/applications",
        headers=yangfang["admin"],
        json=application(100_000, liangxiang["offering_id"]),
    )
    assert (not_own.status_code, not_own.json()["code"]) == (422, "offering_not_own"), not_own.text
    assert not_own.json()["errors"][0]["field"] == "deliverables.0.offering_id"
    welcome = gateway.post(
        f"/api/v1/calls/{next_call}/applications",
        headers=yangfang["admin"],
        json=application(100_000, yangfang["offering_id"]),
    )
    assert welcome.status_code == 201, welcome.text

    # ---- The OCDS export (public, no login) validates against the official OCDS 1.1 schemas: the release
    # packages page by page, and the record of the call and of the contract signed without a call.
    ocids: set[str] = set()
    url: str | None = "/open-data/ocds/releases?limit=50"
    pages = 0
    while url and pages < 40:
        response = gateway.get(url)
        assert response.status_code == 200, response.text
        package = response.json()
        assert_ocds_valid("release-package-schema", package)
        ocids |= {r["ocid"] for r in package["releases"]}
        next_link = package.get("links", {}).get("next")
        url = (
            None
            if not package["releases"] or not next_link
            else urlsplit(next_link).path + "?" + urlsplit(next_link).query
        )
        pages += 1
    compiled: dict[str, dict[str, Any]] = {}
    for process_id in (call_id, contract_id):
        [ocid] = [o for o in ocids if o.endswith(process_id)]
        record = gateway.get(f"/open-data/ocds/records/{ocid}")
        assert record.status_code == 200, record.text
        assert_ocds_valid("record-package-schema", record.json())
        assert record.json()["records"][0]["ocid"] == ocid
        compiled[process_id] = record.json()["records"][0]["compiledRelease"]
    assert compiled[call_id]["tender"]["procurementMethod"] == "open"
    # The notice's document is published beside the notice itself, at the configured public URL whatever the Host.
    call_ocid = next(o for o in ocids if o.endswith(call_id))
    as_evil = gateway.get(f"/open-data/ocds/records/{call_ocid}", headers={"Host": "evil.example"})
    assert as_evil.status_code == 200, as_evil.text
    assert "evil.example" not in as_evil.text
    published = {d["id"]: d for d in compiled[call_id]["tender"]["documents"]}
    assert published[notice_id]["documentType"] == "awardNotice"
    assert (published[notice_document["id"]]["documentType"], published[notice_document["id"]]["url"]) == (
        "awardNotice",
        notice_document["url"],
    )
    direct = compiled[contract_id]
    assert (direct["tender"]["procurementMethod"], direct["tender"]["procurementMethodRationale"]) == (
        "direct",
        RATIONALE,
    )
    # The payer is the fund's owner, and only the payments made are published (none of the refused ones).
    transactions = direct["contracts"][0]["implementation"]["transactions"]
    assert {t["payer"]["name"] for t in transactions} == {PAYER}
    assert sorted(t["date"][:10] for t in transactions) == [beijing_today().isoformat()] * 3
    # Every ocid has the registered prefix form (ocds- and six characters); a link under the former prefix answers.
    assert all(o.startswith("ocds-lnl0fs-") for o in ocids), ocids
    former = gateway.get(f"/open-data/ocds/records/ocds-linli-fs-{contract_id}")
    assert (former.status_code, former.json()["records"][0]["ocid"]) == (200, f"ocds-lnl0fs-{contract_id}")
    assert gateway.get("/open-data/ocds/records/ocds-lnl0fs-not-a-process").status_code == 404


def test_ocds_schemas_are_where_the_check_looks() -> None:
    """The validation above cannot pass vacuously: the schemas exist and refuse a release without its ocid."""
    assert (OCDS / "release-package-schema.json").exists()
    bad = {
        "uri": "https://linli.example.cn/open-data/ocds/releases",
        "version": "1.1",
        "publishedDate": "2026-11-27T10:00:00+08:00",
        "publisher": {"name": "北京市房山区民政局"},
        "releases": [{"id": "1", "date": "2026-11-27T10:00:00+08:00", "tag": ["tender"], "initiationType": "tender"}],
    }
    with pytest.raises(AssertionError, match="ocid"):
        assert_ocds_valid("release-package-schema", bad)
