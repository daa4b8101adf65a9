"""The evaluation decides, through the gateway: a contract that delivered 1 of the 65 services it promised
(1.54% KPI attainment) used to score 87.14, pass acceptance and be paid in full; now its acceptance is refused
with the way forward, and so is its last installment. Only the evaluator the official assigned scores it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from service_kit.testing import eventually_blocking

from .conftest import (
    RATIONALE,
    SOCIAL_AFFAIRS,
    DevStack,
    acceptance,
    award_terms,
    completed_funded_booking,
    login,
    new_account,
    new_fund,
    pay,
    provider_with_offering,
    registered_by_operator,
    signed_direct_award,
)


def test_one_of_sixty_five_delivered_is_refused_acceptance_and_its_last_installment(
    gateway: httpx.Client, stack: DevStack
) -> None:
    official, operator = login(gateway, "official"), login(gateway, "operator")
    suffix = f"{uuid.uuid4().int % 10**8:08d}"  # digits: the names show on the console, read for stray Latin
    provider = provider_with_offering(gateway, f"长阳助餐服务社{suffix}")
    approver, _ = new_account(gateway, "official", "区社会办 李处长")
    evaluator = new_account(gateway, "evaluator", "中诚第三方评估")
    fund_id = new_fund(gateway, f"区级社区服务直接委托资金{suffix}", 1_000_000, SOCIAL_AFFAIRS, year=2026)
    # The official states the target when proposing the award: 65 meals.
    terms = award_terms(
        f"长阳镇助餐服务项目{suffix}",
        provider["id"],
        provider["offering_id"],
        200_000,
        quota=65,
        fund_id=fund_id,
        rationale=RATIONALE,
        targets=[{"name": "助餐人次", "target": "65人次", "offering_id": provider["offering_id"], "quantity": 65}],
    )
    signed = signed_direct_award(gateway, terms, approver, provider["admin"])
    assert signed["status"] == "active"
    contract_id = signed["id"]
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
    resident = registered_by_operator(
        gateway,
        operator,
        name="赵玉兰",
        community_code="gongchen.shidai_jiahe",  # the registry gazetteer's code
        eligibility_tags=["age_80_plus"],
    )
    booking_id = completed_funded_booking(gateway, provider, contract_id, resident["id"])

    def counted() -> list[dict[str, Any]]:
        response = gateway.get(f"/api/v1/contracts/{contract_id}/deliverables", headers=official)
        return response.json()["items"] if response.status_code == 200 else []

    assert [d["booking_id"] for d in eventually_blocking(counted)] == [booking_id]

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
