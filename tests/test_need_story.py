"""Issue 16's check through the gateway: a resident who submitted a need learns what became of it. She signs in
with her phone, tells the district what her community lacks, and reads each step in Chinese as procurement moves
it: received, in the needs pool, in an official's call for proposals; another need of hers is declined with the
reason. And every answer, whichever service gives it, writes its date-times one way (RFC 3339, UTC, ``Z``)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from service_kit.testing import eventually_blocking

from .conftest import bearer, login, new_fund, resident_in_the_app, sign_in_by_code

pytestmark = pytest.mark.stack

CRITERIA = [
    {"code": "feasibility", "name": "项目可行性", "weight": 40},
    {"code": "capacity", "name": "机构能力", "weight": 35},
    {"code": "budget", "name": "预算合理性", "weight": 25},
]
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")
CONVENTION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def signed_in_resident(gateway: httpx.Client, name: str) -> tuple[dict[str, str], str]:
    """A resident registered in the app, signed in again so her token names her record."""
    _, registered, phone = resident_in_the_app(gateway, name)
    return bearer(sign_in_by_code(gateway, phone)), str(registered["id"])


def submit_need(gateway: httpx.Client, resident: dict[str, str], category_code: str, text: str) -> dict[str, Any]:
    body = {"category_code": category_code, "community_code": "gongchen.haotian", "text": text}

    def submitted() -> httpx.Response | None:
        response = gateway.post("/api/v1/needs", headers=resident, json=body)
        # feedback learns the registry's categories and communities from its events, a moment after a start.
        if response.status_code == 422 and response.json().get("code") in ("unknown_category", "unknown_community"):
            return None
        return response

    response: httpx.Response = eventually_blocking(submitted)
    assert response.status_code == 201, response.text
    need: dict[str, Any] = response.json()
    return need


def pool_item(gateway: httpx.Client, group_key: str) -> dict[str, Any]:
    official = login(gateway, "official")

    def pooled() -> dict[str, Any] | None:
        items = gateway.get("/api/v1/need-pool", headers=official, params={"limit": 200}).json()["items"]
        return next((n for n in items if n["group_key"] == group_key), None)

    found: dict[str, Any] = eventually_blocking(pooled)
    return found


def story_reaches(gateway: httpx.Client, resident: dict[str, str], need_id: str, label: str) -> dict[str, Any]:
    """Her need as her app shows it, once its status reads ``label``."""

    def read() -> dict[str, Any] | None:
        response = gateway.get(f"/api/v1/needs/{need_id}", headers=resident)
        assert response.status_code == 200, response.text
        need: dict[str, Any] = response.json()
        return need if need["status_label"] == label else None

    found: dict[str, Any] = eventually_blocking(read)
    return found


def open_call(gateway: httpx.Client, title: str, need_ids: list[str]) -> dict[str, Any]:
    official = login(gateway, "official")
    fund_id = new_fund(gateway, f"社区服务专项资金{uuid.uuid4().int % 10**6:06d}", 500_000, year=2026)
    call = gateway.post(
        "/api/v1/calls",
        headers=official,
        json={
            "title": title,
            "description": "面向居民心理关爱的个案辅导服务。",
            "directions": ["special_groups"],
            "budget_cap_fen": 400_000,
            "fund_id": fund_id,
            "need_ids": need_ids,
            "criteria": CRITERIA,
            "deadline": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
        },
    )
    assert call.status_code == 201, call.text
    published = gateway.post(f"/api/v1/calls/{call.json()['id']}/publish", headers=official, json={})
    assert published.status_code == 200, published.text
    answer: dict[str, Any] = published.json()
    return answer


def date_times(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string of an answer that is a date-time (or that a ``*_at`` field holds), with where it is."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_at") and isinstance(item, str):
                found.append((f"{path}.{key}", item))
            else:
                found += date_times(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += date_times(item, f"{path}[{index}]")
    elif isinstance(value, str) and DATE_TIME.match(value):
        found.append((path, value))
    return found


def test_a_resident_follows_her_need_from_received_to_a_call_or_a_reason(gateway: httpx.Client) -> None:
    resident, resident_id = signed_in_resident(gateway, "赵淑芬")
    need = submit_need(gateway, resident, "counseling.individual", "老伴走后心里空落落的，希望社区有人来聊聊天。")
    assert (need["status"], need["status_label"]) == ("received", "已收到")
    assert [(s["status"], s["label"]) for s in need["steps"]] == [("received", "已收到")]

    # Procurement pools the group (feedback's need.submitted); procurement's need.progressed tells her.
    item = pool_item(gateway, need["group_key"])
    story_reaches(gateway, resident, need["id"], "已纳入需求池")

    # An official opens a call that answers it.
    title = f"拱辰街道心理关爱服务项目征集（{uuid.uuid4().int % 10**4:04d}）"
    call = open_call(gateway, title, [item["id"]])
    assert call["need_ids"] == [item["id"]]
    in_call = story_reaches(gateway, resident, need["id"], f"已进入项目征集：{title}")
    assert [s["label"] for s in in_call["steps"]] == ["已收到", "已纳入需求池", f"已进入项目征集：{title}"]
    assert in_call["steps"][-1]["call_id"] == call["id"]

    # Another need of hers is declined, with the reason she reads.
    other = submit_need(gateway, resident, "green.recycling", "小区没有旧衣回收点。")
    other_item = pool_item(gateway, other["group_key"])
    reason = "拱辰街道已在社区服务中心设置旧衣回收点，步行十分钟可达。"
    official = login(gateway, "official")
    declined = gateway.post(f"/api/v1/need-pool/{other_item['id']}/decline", headers=official, json={"reason": reason})
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    story_reaches(gateway, resident, other["id"], f"暂不采纳：{reason}")
    blank = gateway.post(f"/api/v1/need-pool/{item['id']}/decline", headers=official, json={"reason": ""})
    assert (blank.status_code, blank.json()["errors"][0]["field"]) == (422, "reason")

    # Her list of needs shows both stories; nobody else reads them.
    mine = gateway.get("/api/v1/needs", headers=resident).json()["items"]
    assert {n["id"]: n["status_label"] for n in mine} == {
        need["id"]: f"已进入项目征集：{title}",
        other["id"]: f"暂不采纳：{reason}",
    }
    stranger, _ = signed_in_resident(gateway, "钱国强")
    assert gateway.get(f"/api/v1/needs/{need['id']}", headers=stranger).status_code == 404
    assert gateway.get(f"/api/v1/needs/{need['id']}", headers=login(gateway, "operator")).status_code == 200

    # A need naming no known category is still refused, next to its field.
    unknown = gateway.post(
        "/api/v1/needs",
        headers=resident,
        json={"category_code": "elderly.moon_landing", "text": "希望能去月球。"},
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_category")
    assert unknown.json()["errors"][0]["field"] == "category_code"

    # ---- One convention for date-times in every service's answers (and the gateway's own).
    operator = login(gateway, "operator")
    answers = {
        "feedback need": gateway.get(f"/api/v1/needs/{need['id']}", headers=resident),
        "feedback needs": gateway.get("/api/v1/needs", headers=resident),
        "procurement call": gateway.get(f"/api/v1/calls/{call['id']}", headers=official),
        "procurement pool": gateway.get(f"/api/v1/need-pool/{other_item['id']}", headers=official),
        "procurement problem": gateway.post(f"/api/v1/calls/{call['id']}/close", headers=official, json={}),
        "booking resident": gateway.get(f"/api/v1/residents/{resident_id}", headers=resident),
        "booking export": gateway.get(f"/api/v1/residents/{resident_id}/export", headers=resident),
        "registry offerings": gateway.get("/api/v1/offerings", params={"limit": 5}),
        "registry organizations": gateway.get("/api/v1/organizations", headers=operator, params={"limit": 5}),
        "gateway me": gateway.get("/api/v1/auth/me", headers=resident),
    }
    sampled = 0
    for name, response in answers.items():
        assert response.status_code < 500, f"{name}: {response.text}"
        for where, value in date_times(response.json()):
            sampled += 1
            assert CONVENTION.match(value), f"{name}{where} = {value!r}"
    # What the check read: the need's steps, the call's deadline, the problem's deadline, the consent's time...
    assert answers["procurement problem"].json()["code"] == "deadline_not_reached"
    assert CONVENTION.match(answers["procurement problem"].json()["deadline"])
    assert sampled >= 15, sampled
