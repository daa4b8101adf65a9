"""The evaluation decides, through the gateway: a contract that delivered 1 of the 65 services it promised
(1.54% KPI attainment) used to score 87.14, pass acceptance and be paid in full; now its acceptance is refused
with the way forward, and so is its last installment. Only the evaluator the official assigned scores it."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from .conftest import DevStack, login, new_uscc, wait_for

PASSWORD = "evaluation-password-2026"
PAYER = "房山区社会建设工作办公室"
RATIONALE = "单一来源：该镇仅此一家机构具备老年餐桌服务能力（《政府购买服务管理办法》第二十二条）。"


def new_account(
    gateway: httpx.Client, role: str, name: str, provider_id: str | None = None
) -> tuple[dict[str, str], str]:
    """An account the platform's admin makes: its signed-in headers and its subject (the account id)."""
    username = f"{role.replace('_', '-')}-{uuid.uuid4().hex[:10]}"
    body: dict[str, Any] = {"username": username, "password": PASSWORD, "roles": [role], "name": name}
    if provider_id:
        body["provider_id"] = provider_id
    created = gateway.post("/api/v1/accounts", headers=login(gateway, "admin"), json=body)
    assert created.status_code == 201, created.text
    return login(gateway, username, PASSWORD), str(created.json()["id"])


def new_provider(gateway: httpx.Client, name: str) -> dict[str, Any]:
    """A verified organization with its own admin and a published meal table open every day."""
    official = login(gateway, "official")
    org = gateway.post(
        "/api/v1/organizations", headers=official, json={"name_zh": name, "kind": "public_welfare", "uscc": new_uscc()}
    )
    assert org.status_code == 201, org.text
    provider_id = org.json()["id"]
    assert gateway.post(f"/api/v1/organizations/{provider_id}/verify", headers=official, json={}).status_code == 200
    admin, _ = new_account(gateway, "provider_admin", name, provider_id)
    offering = gateway.post(
        "/api/v1/offerings",
        headers=admin,
        json={
            "provider_id": provider_id,
            "category_code": "elderly.meal_table",
            "name_zh": f"{name}老年餐桌",
            "mode": "at_center",
            "price_fen": 1500,
            "duration_minutes": 60,
            "capacity_per_slot": 10,
            "weekly_rules": [{"weekday": d, "start": "11:00", "end": "13:00"} for d in range(7)],
            "target_groups": ["elderly"],
        },
    )
    assert offering.status_code == 201, offering.text
    published = gateway.post(f"/api/v1/offerings/{offering.json()['id']}/publish", headers=admin, json={})
    assert published.status_code == 200, published.text
    return {"id": provider_id, "name": name, "admin": admin, "offering_id": offering.json()["id"]}


def pay(gateway: httpx.Client, contract_id: str, payee: str) -> httpx.Response:
    return gateway.post(
        f"/api/v1/contracts/{contract_id}/disbursements",
        headers=login(gateway, "official"),
        json={
            "voucher_number": f"FS-{uuid.uuid4().hex[:12]}",
            "payer": PAYER,
            "payee": payee,
            "paid_on": datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat(),
        },
    )


def completed_funded_booking(
    gateway: httpx.Client, provider: dict[str, Any], contract_id: str, resident_id: str
) -> str:
    """The operator books the funded (free) meal for an eligible resident once booking-service knows the contract;
    the provider confirms, starts and completes it."""
    operator = login(gateway, "operator")
    start = date.today() + timedelta(days=1)

    def slot() -> dict[str, Any] | None:
        response = gateway.get(
            "/api/v1/availability",
            headers=operator,
            params={"offering_id": provider["offering_id"], "from": start.isoformat(), "to": start.isoformat()},
        )
        slots = response.json().get("slots", []) if response.status_code == 200 else []
        return slots[0] if slots else None

    chosen = wait_for(slot)

    def funded() -> dict[str, Any] | None:
        response = gateway.post(
            "/api/v1/bookings",
            headers=operator,
            json={"offering_id": provider["offering_id"], "slot_start": chosen["start"], "resident_id": resident_id},
        )
        assert response.status_code == 201, response.text
        booking: dict[str, Any] = response.json()
        if booking["funded_contract_id"] == contract_id and booking["price_fen"] == 0:
            return booking
        gateway.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=operator, json={"reason": "重新预约"})
        return None

    booking = wait_for(funded)
    for step in ("confirm", "start", "complete"):
        response = gateway.post(f"/api/v1/bookings/{booking['id']}/{step}", headers=provider["admin"], json={})
        assert response.status_code == 200, f"{step}: {response.text}"
    return str(booking["id"])


def acceptance(result: str, summary: str) -> dict[str, Any]:
    return {
        "result": result,
        "summary": summary,
        "recipient_opinions": [{"name": "张桂兰", "opinion": "送餐准时，饭菜可口。", "satisfied": True}],
        "evaluator_opinion": "评估机构意见已附。",
    }


def test_one_of_sixty_five_delivered_is_refused_acceptance_and_its_last_installment(
    gateway: httpx.Client, stack: DevStack
) -> None:
    official, operator = login(gateway, "official"), login(gateway, "operator")
    suffix = uuid.uuid4().hex[:8]
    provider = new_provider(gateway, f"长阳助餐服务社{suffix}")
    approver, _ = new_account(gateway, "official", "区社会办 李处长")
    evaluator = new_account(gateway, "evaluator", "中诚第三方评估")
    fund = gateway.post(
        "/api/v1/funds",
        headers=official,
        json={
            "name": f"区级社区服务直接委托资金{suffix}",
            "year": 2026,
            "budget_fen": 1_000_000,
            "owner_id": "fangshan-shehuiban",
            "owner_name": PAYER,
        },
    )
    assert fund.status_code == 201, fund.text
    # The official states the target when proposing the award: 65 meals.
    proposed = gateway.post(
        "/api/v1/contracts",
        headers=official,
        json={
            "title": f"长阳镇助餐服务项目{suffix}",
            "provider_id": provider["id"],
            "amount_fen": 200_000,
            "start_date": date.today().isoformat(),
            "end_date": (date.today() + timedelta(days=300)).isoformat(),
            "funded_offerings": [
                {
                    "offering_id": provider["offering_id"],
                    "unit_price_fen": 1500,
                    "resident_price_fen": 0,
                    "quota": 65,
                    "eligibility_tags": ["age_80_plus"],
                }
            ],
            "fund_id": fund.json()["id"],
            "rationale": RATIONALE,
            "targets": [
                {"name": "助餐人次", "target": "65人次", "offering_id": provider["offering_id"], "quantity": 65}
            ],
        },
    )
    assert proposed.status_code == 201, proposed.text
    contract_id = proposed.json()["id"]
    approved = gateway.post(f"/api/v1/contracts/{contract_id}/direct-award/approve", headers=approver, json={})
    assert approved.status_code == 200, approved.text
    for signer in (official, provider["admin"]):
        signed = gateway.post(f"/api/v1/contracts/{contract_id}/sign", headers=signer, json={})
        assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "active"
    shown = gateway.get(f"/api/v1/contracts/{contract_id}", headers=official).json()
    assert shown["targets"][0] == {
        "name": "助餐人次",
        "target": "65人次",
        "offering_id": provider["offering_id"],
        "quantity": 65,
    }

    # ---- An evaluator nobody assigned to this contract is refused, with a code the client can show.
    stranger, _ = new_account(gateway, "evaluator", "未受委托的评估机构")
    opened = gateway.post(f"/api/v1/contracts/{contract_id}/evaluations", headers=official, json={"stage": "midterm"})
    assert opened.status_code == 201, opened.text
    refused_score = gateway.post(
        f"/api/v1/contracts/{contract_id}/evaluations/midterm/scores", headers=stranger, json={"score": 99}
    )
    assert refused_score.status_code == 403, refused_score.text
    assert refused_score.headers["content-type"] == "application/problem+json"
    assert refused_score.json()["code"] == "evaluator_not_assigned"
    refused_declaration = gateway.post(
        f"/api/v1/contracts/{contract_id}/evaluators/declaration", headers=stranger, json={"conflict": False}
    )
    assert (refused_declaration.status_code, refused_declaration.json()["code"]) == (403, "evaluator_not_assigned")
    # Assigning evaluators is the district's: the evaluator cannot assign itself.
    self_assigned = gateway.post(
        f"/api/v1/contracts/{contract_id}/evaluators",
        headers=stranger,
        json={"evaluator_subject": "me", "evaluator_name": "我"},
    )
    assert self_assigned.status_code == 403, self_assigned.text

    # ---- One funded meal delivered of the 65 promised.
    resident = gateway.post(
        "/api/v1/residents",
        headers=operator,
        json={
            "name": "赵玉兰",
            "phone": f"136{uuid.uuid4().int % 10**8:08d}",
            "community_code": "gongchen.shidai_jiahe",  # the registry gazetteer's code
            "eligibility_tags": ["age_80_plus"],
            "consent": {"version": "2026-11", "channel": "phone"},
        },
    )
    assert resident.status_code == 201, resident.text
    booking_id = completed_funded_booking(gateway, provider, contract_id, resident.json()["id"])

    def counted() -> list[dict[str, Any]]:
        response = gateway.get(f"/api/v1/contracts/{contract_id}/deliverables", headers=official)
        return response.json()["items"] if response.status_code == 200 else []

    assert [d["booking_id"] for d in wait_for(counted)] == [booking_id]

    # ---- Paid on signing and after the mid-term evaluation, as the plan says.
    assert pay(gateway, contract_id, provider["name"]).status_code == 201
    scores = f"/api/v1/contracts/{contract_id}/evaluations/midterm/scores"
    assert gateway.post(scores, headers=official, json={"score": 90}).status_code == 200
    headers, subject = evaluator
    assigned = gateway.post(
        f"/api/v1/contracts/{contract_id}/evaluators",
        headers=official,
        json={"evaluator_subject": subject, "evaluator_name": "中诚第三方评估"},
    )
    assert assigned.status_code == 201, assigned.text
    undeclared = gateway.post(scores, headers=headers, json={"score": 85})
    assert (undeclared.status_code, undeclared.json()["code"]) == (409, "declaration_required")
    declared = gateway.post(
        f"/api/v1/contracts/{contract_id}/evaluators/declaration", headers=headers, json={"conflict": False}
    )
    assert declared.status_code == 201, declared.text
    assert gateway.post(scores, headers=headers, json={"score": 85}).status_code == 200
    midterm = gateway.post(f"/api/v1/contracts/{contract_id}/evaluations/midterm/finalize", headers=official, json={})
    assert midterm.status_code == 200, midterm.text
    assert pay(gateway, contract_id, provider["name"]).status_code == 201

    # ---- The final evaluation: 1 of 65 is 1.54%; the scores of the purchaser and the evaluator no longer hide it.
    base = f"/api/v1/contracts/{contract_id}/evaluations"
    assert gateway.post(base, headers=official, json={"stage": "final"}).status_code == 201
    assert gateway.post(f"{base}/final/scores", headers=official, json={"score": 90}).status_code == 200
    assert gateway.post(f"{base}/final/scores", headers=headers, json={"score": 85}).status_code == 200
    finalized = gateway.post(f"{base}/final/finalize", headers=official, json={})
    assert finalized.status_code == 200, finalized.text
    final = finalized.json()
    assert (final["kpi"]["delivered"], final["kpi"]["promised"], final["kpi"]["attainment_percent"]) == (1, 65, 1.54)
    assert final["parts"]["quantity"]["score"] == 1.54
    assert final["result"] == "failed"
    assert final["combined_score"] < 60

    # ---- Acceptance is refused, telling the official the way forward; nothing is recorded or published.
    refused = gateway.post(
        f"/api/v1/contracts/{contract_id}/acceptance",
        headers=official,
        json=acceptance("passed", "服务人次、满意度均达到合同约定。"),
    )
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["code"] == "attainment_below_threshold"
    assert (problem["attainment_percent"], problem["threshold_percent"]) == (1.54, 80)
    assert problem["ways_forward"] == ["settlement_amendment", "sanction"]
    assert "1 of 65" in problem["detail"]
    assert gateway.get(f"/api/v1/contracts/{contract_id}/acceptance").status_code == 404

    # ---- And the last installment is not paid.
    last = pay(gateway, contract_id, provider["name"])
    assert (last.status_code, last.json()["code"]) == (409, "installment_condition_not_met"), last.text
    paid = gateway.get(f"/api/v1/contracts/{contract_id}", headers=official).json()
    assert paid["disbursed_fen"] == 60_000 + 80_000  # 30% and 40% of 200,000 fen, not 100%
