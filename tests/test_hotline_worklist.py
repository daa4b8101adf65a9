"""The hotline's work list through the gateway (issue 18): a resident living alone who did not come is on the
shift's list with the reason in a code the console words; of two operators taking it at once one gets it and the
other a 409 naming who has it; closing it takes it off the list and the handover counts it; a complaint is taken
and closed by its feedback id."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .conftest import (
    DevStack,
    book_for,
    free_slots,
    new_account,
    new_provider,
    publish_offering,
    registered_by_operator,
)

WORKLIST = "/api/v1/hotline/worklist"


def listed(gateway: httpx.Client, headers: dict[str, str], item_id: str) -> dict[str, Any] | None:
    until = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
    response = gateway.get(WORKLIST, headers=headers, params={"due_before": until, "kind": "no_show", "limit": 200})
    assert response.status_code == 200, response.text
    return next((i for i in response.json()["items"] if i["item_id"] == item_id), None)


async def take_at_once(url: str, path: str, *headers: dict[str, str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        return list(await asyncio.gather(*(client.post(path, headers=h) for h in headers)))


def test_two_operators_work_the_shift_list_through_the_gateway(stack: DevStack, gateway: httpx.Client) -> None:
    chen = new_account(gateway, "operator", "话务员 陈静").headers
    wang = new_account(gateway, "operator", "话务员 王芳").headers
    provider = new_provider(gateway, "长阳助浴服务站")
    offering_id = publish_offering(gateway, provider, "上门助浴", capacity_per_slot=1)
    [slot] = free_slots(gateway, offering_id, chen)
    alone = registered_by_operator(gateway, chen, name="刘淑珍", eligibility_tags=["living_alone"])
    booking = book_for(gateway, chen, offering_id, slot["start"], alone["id"])
    for action in ("confirm", "no-show"):
        done = gateway.post(f"/api/v1/bookings/{booking['id']}/{action}", headers=provider["admin"])
        assert done.status_code == 200, done.text

    item = listed(gateway, chen, booking["id"])
    assert item is not None
    assert (item["kind"], item["reason"], item["resident"]["name"], item["taken_by_name"]) == (
        "no_show",
        "resident_absent_living_alone",
        "刘淑珍",
        None,
    )
    assert item["about"]["offering_name"] == "上门助浴"
    assert gateway.get(WORKLIST, headers=provider["admin"], params={"due_before": slot["start"]}).status_code == 403

    answers = asyncio.run(take_at_once(stack.gateway_url, f"{WORKLIST}/no_show/{booking['id']}/take", chen, wang))
    won, lost = sorted(answers, key=lambda r: r.status_code)
    assert (won.status_code, lost.status_code) == (200, 409)
    assert lost.json()["code"] == "worklist_item_taken"
    assert lost.json()["taken_by_name"] == won.json()["taken_by_name"]
    holder, other = (chen, wang) if won.json()["taken_by_name"] == "话务员 陈静" else (wang, chen)
    assert (listed(gateway, chen, booking["id"]) or {})["taken_by_name"] == won.json()["taken_by_name"]
    refused = gateway.post(f"{WORKLIST}/no_show/{booking['id']}/done", headers=other, json={"note": "我来打"})
    assert (refused.status_code, refused.json()["code"]) == (409, "worklist_item_taken")
    closed = gateway.post(f"{WORKLIST}/no_show/{booking['id']}/done", headers=holder, json={"note": "已联系，身体无恙"})
    assert closed.status_code == 200, closed.text
    assert listed(gateway, chen, booking["id"]) is None
    again = gateway.post(f"{WORKLIST}/no_show/{booking['id']}/done", headers=holder, json={})
    assert (again.status_code, again.json()["code"]) == (409, "worklist_item_done")

    # A complaint (feedback's; the console lists the overdue ones) is taken and closed by its id.
    complaint = str(uuid.uuid4())
    took = gateway.post(f"{WORKLIST}/complaint/{complaint}/take", headers=other, json={"resident_id": alone["id"]})
    assert took.status_code == 200, took.text
    now = datetime.now(UTC)
    handover = gateway.get(
        "/api/v1/hotline/handover",
        headers=chen,
        params={"since": (now - timedelta(hours=1)).isoformat(), "until": (now + timedelta(hours=8)).isoformat()},
    ).json()
    assert complaint in [c["item_id"] for c in handover["complaints_taken"]]
    counts = {o["operator_name"]: o["items_done"] for o in handover["operators"]}
    assert counts[won.json()["taken_by_name"]] == 1
