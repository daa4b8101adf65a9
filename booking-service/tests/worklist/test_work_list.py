"""The shift's work list: callbacks, bookings a provider did not confirm in time, unanswered waitlist offers,
eligibility re-checks and no-shows in one list the longest due first; each item taken by one operator and closed
once, even by two at once; closed items leave the list, and the handover says what is open and who took it."""

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from booking.bookings.service import expire_overdue
from booking.entitlements.service import open_rechecks
from service_kit.testing import Clock, eventually

pytestmark = pytest.mark.usefixtures("gazetteer")

WORKLIST = "/api/v1/hotline/worklist"


@pytest.fixture
def app(app_on_clock: FastAPI) -> FastAPI:
    return app_on_clock


def chen(world: Any) -> dict[str, str]:
    return dict(world.keys.headers("operator", name="话务员 小陈", sub="op-chen"))


def wang(world: Any) -> dict[str, str]:
    return dict(world.keys.headers("operator", name="话务员 王芳", sub="op-wang"))


async def work_list(world: Any, clock: Clock, **params: Any) -> list[dict[str, Any]]:
    due_before = (clock() + timedelta(hours=8)).isoformat()
    response = await world.client.get(
        WORKLIST, params={"due_before": due_before, "limit": 200, **params}, headers=chen(world)
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def of(items: list[dict[str, Any]], item_id: str) -> dict[str, Any] | None:
    return next((i for i in items if i["item_id"] == item_id), None)


async def act(world: Any, action: str, kind: str, item_id: str, headers: dict[str, str], **body: Any) -> Any:
    return await world.client.post(f"{WORKLIST}/{kind}/{item_id}/{action}", json=body or None, headers=headers)


async def a_callback(world: Any, clock: Clock, resident: dict[str, Any]) -> dict[str, Any]:
    response = await world.client.post(
        f"/api/v1/residents/{resident['id']}/calls",
        json={
            "reason": "book_service",
            "callback": {"due_at": (clock() + timedelta(hours=1)).isoformat(), "reason": "有名额时回电"},
        },
        headers=chen(world),
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["callback"])


async def a_no_show(world: Any, offering: Any, resident: dict[str, Any], hour: int) -> dict[str, Any]:
    response = await world.book(offering, resident, world.at(world.tomorrow(), hour))
    assert response.status_code == 201, response.text
    booking: dict[str, Any] = response.json()
    for action in ("confirm", "no-show"):
        done = await world.client.post(f"/api/v1/bookings/{booking['id']}/{action}", headers=chen(world))
        assert done.status_code == 200, done.text
    return booking


async def an_offer(world: Any, offering: Any, resident: dict[str, Any]) -> str:
    """A place in a full slot at 11:00 freed and held for ``resident``, who has not answered: the entry's id."""
    slot = world.at(world.tomorrow(), 11)
    holder = await world.resident(name="赵大爷")
    held = await world.book(offering, holder, slot)
    assert held.status_code == 201, held.text
    body = {"offering_id": str(offering.offering_id), "slot_start": slot.isoformat()}
    joined = await world.client.post("/api/v1/bookings/waitlist", json=body, headers=world.resident_headers(resident))
    assert joined.status_code == 201, joined.text
    entry_id: str = joined.json()["id"]
    assert (await world.cancel(held.json(), "住院了")).status_code == 200
    await eventually(lambda: world.offered(entry_id, resident))
    return entry_id


async def a_recheck(world: Any, resident: dict[str, Any]) -> str:
    expires = world.tomorrow() + timedelta(days=3)
    recorded = await world.client.put(
        f"/api/v1/residents/{resident['id']}/eligibility/age_80_plus",
        json={"evidence_type": "id_card", "verified_on": "2026-01-05", "expires_on": expires.isoformat()},
        headers=chen(world),
    )
    assert recorded.status_code == 200, recorded.text
    now = datetime.combine(world.tomorrow(), time(2), tzinfo=UTC)
    assert await open_rechecks(world.sessionmaker, now=now, lead_days=30, batch=100) >= 1
    listed = await world.client.get("/api/v1/entitlements/rechecks", params={"limit": 200}, headers=chen(world))
    [task] = [r for r in listed.json()["items"] if r["resident_id"] == resident["id"]]
    return str(task["id"])


async def test_every_kind_of_call_the_shift_owes_is_listed_and_leaves_when_done(world: Any, clock: Clock) -> None:
    offering = await world.offering(capacity_per_slot=1)
    guilan = await world.resident(name="张桂兰")
    callback = await a_callback(world, clock, guilan)
    unconfirmed = (await world.book(offering, guilan, world.at(world.tomorrow(), 9))).json()
    assert unconfirmed["status"] == "requested"
    alone = await world.resident(name="刘淑珍", tags=["living_alone"])
    no_show = await a_no_show(world, offering, alone, hour=10)
    waiting = await world.resident(name="孙玉梅")
    entry_id = await an_offer(world, offering, waiting)
    recheck_id = await a_recheck(world, await world.resident(name="周建国"))

    before_deadline = await work_list(world, clock)
    assert of(before_deadline, unconfirmed["id"]) is None  # the provider still has time to confirm
    clock.advance(hours=2, minutes=1)  # 09:01, past the booking's deadline
    items = await work_list(world, clock)
    assert [i["due_at"] for i in items] == sorted(i["due_at"] for i in items)
    seen = {i["item_id"]: i for i in items}
    assert (seen[callback["id"]]["kind"], seen[callback["id"]]["reason"]) == ("callback", "callback_due")
    assert seen[callback["id"]]["about"]["callback_reason"] == "有名额时回电"
    assert seen[callback["id"]]["resident"]["name"] == "张桂兰"
    late = seen[unconfirmed["id"]]
    assert (late["kind"], late["reason"], late["about"]["offering_name"]) == (
        "unconfirmed_booking",
        "provider_not_confirmed",
        "老年餐桌",
    )
    absent = seen[no_show["id"]]
    assert (absent["kind"], absent["reason"], absent["resident"]["name"]) == (
        "no_show",
        "resident_absent_living_alone",
        "刘淑珍",
    )
    offer = seen[entry_id]
    assert (offer["kind"], offer["reason"], offer["resident"]["name"]) == (
        "waitlist_offer",
        "offer_unanswered",
        "孙玉梅",
    )
    assert offer["about"]["hold_until"] is not None
    check = seen[recheck_id]
    assert (check["kind"], check["reason"], check["about"]["tag"]) == ("recheck", "eligibility_expiring", "age_80_plus")
    assert all(i["taken_by_name"] is None for i in items)
    only = await work_list(world, clock, kind=["no_show", "recheck"])
    assert {i["kind"] for i in only} == {"no_show", "recheck"}

    # The sweep expires the unconfirmed booking: still owed a call, now to rebook.
    assert await expire_overdue(world.sessionmaker, batch=10, now=clock()) >= 1
    assert of(await work_list(world, clock), unconfirmed["id"])["reason"] == "booking_expired_unconfirmed"  # type: ignore[index]

    for kind, item_id in [
        ("callback", callback["id"]),
        ("unconfirmed_booking", unconfirmed["id"]),
        ("no_show", no_show["id"]),
        ("waitlist_offer", entry_id),
        ("recheck", recheck_id),
    ]:
        taken = await act(world, "take", kind, item_id, chen(world))
        assert taken.status_code == 200, taken.text
        assert of(await work_list(world, clock), item_id)["taken_by_name"] == "话务员 小陈"  # type: ignore[index]
        closed = await act(world, "done", kind, item_id, chen(world), note="已电话联系")
        assert closed.status_code == 200, closed.text
        assert (closed.json()["done_by_name"], closed.json()["note"]) == ("话务员 小陈", "已电话联系")
        assert of(await work_list(world, clock), item_id) is None
    # Done on a callback is the callback's own outcome.
    due = await world.client.get(
        "/api/v1/hotline/callbacks",
        params={"due_before": (clock() + timedelta(hours=8)).isoformat()},
        headers=chen(world),
    )
    assert callback["id"] not in {c["id"] for c in due.json()["items"]}


async def test_an_item_that_needs_no_call_any_more_leaves_by_itself(world: Any, clock: Clock) -> None:
    recheck_id = await a_recheck(world, await world.resident(name="周建国"))
    assert of(await work_list(world, clock), recheck_id) is not None
    closed = await world.client.post(
        f"/api/v1/entitlements/rechecks/{recheck_id}/close",
        json={"outcome": "removed", "note": "已迁出本区"},
        headers=wang(world),
    )
    assert closed.status_code == 200, closed.text
    assert of(await work_list(world, clock), recheck_id) is None
    late = await act(world, "take", "recheck", recheck_id, chen(world))
    assert (late.status_code, late.json()["code"]) == (409, "worklist_item_done")


@pytest.mark.parametrize("action", ["take", "done"])
async def test_two_operators_never_both_work_an_item(world: Any, clock: Clock, action: str) -> None:
    offering = await world.offering()
    guilan = await world.resident(name="张桂兰")
    no_show = await a_no_show(world, offering, guilan, hour=10)
    callback = await a_callback(world, clock, guilan)
    # The loser of two takes finds the item taken; of two closes, taken (the winner holds it) or already done.
    refusals = {"take": {"worklist_item_taken"}, "done": {"worklist_item_taken", "worklist_item_done"}}[action]
    for kind, item_id in [("no_show", no_show["id"]), ("callback", callback["id"])]:
        first, second = await asyncio.gather(
            act(world, action, kind, item_id, chen(world)), act(world, action, kind, item_id, wang(world))
        )
        won, lost = sorted([first, second], key=lambda r: r.status_code)
        assert (won.status_code, lost.status_code) == (200, 409), [won.text, lost.text]
        assert lost.json()["code"] in refusals
        winner = won.json()["taken_by_name"]
        loser = wang(world) if winner == "话务员 小陈" else chen(world)
        assert (await act(world, "done", kind, item_id, loser)).status_code == 409
        listed = of(await work_list(world, clock), item_id)
        assert (listed or {}).get("taken_by_name") == (winner if action == "take" else None)
        # Taking again what one holds changes nothing; the other still may not.
        holder = chen(world) if winner == "话务员 小陈" else wang(world)
        again = await act(world, "take", kind, item_id, holder)
        assert again.status_code == (200 if action == "take" else 409)


async def test_bad_or_hostile_requests_are_told_what_is_wrong(world: Any, clock: Clock) -> None:
    nobody = str(uuid.uuid4())
    unknown = await act(world, "take", "no_show", nobody, chen(world))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "worklist_item_not_found")
    bad_kind = await act(world, "take", "gossip", nobody, chen(world))
    assert bad_kind.status_code == 422
    assert bad_kind.json()["errors"][0]["field"] == "kind"
    not_an_id = await act(world, "done", "callback", "12", chen(world))
    assert not_an_id.status_code == 422
    extra = await act(world, "done", "callback", nobody, chen(world), note="x", shout="!")
    assert extra.status_code == 422
    long_note = await act(world, "done", "complaint", nobody, chen(world), note="长" * 501)
    assert long_note.status_code == 422
    naive = await world.client.get(WORKLIST, params={"due_before": "2026-12-07T09:00:00"}, headers=chen(world))
    assert naive.status_code == 422
    # A time UTC has no moment for is the caller's mistake at its parameter, on every list of the shift.
    for path, name in [
        (WORKLIST, "due_before"),
        ("/api/v1/hotline/callbacks", "due_before"),
        ("/api/v1/hotline/handover?until=2027-01-01T00:00:00Z", "since"),
    ]:
        far = await world.client.get(path, params={name: "0001-01-01T00:00:00+14:00"}, headers=chen(world))
        assert far.status_code == 422, far.text
        assert far.json()["errors"][0]["field"] == name
    late = await world.client.get(WORKLIST, params={"due_before": "9999-12-31T23:59:59-12:00"}, headers=chen(world))
    assert late.status_code == 422, late.text
    missing = await world.client.get(WORKLIST, headers=chen(world))
    assert missing.status_code == 422
    wrong_kind = await world.client.get(
        WORKLIST, params={"due_before": clock().isoformat(), "kind": "complaint"}, headers=chen(world)
    )
    assert wrong_kind.status_code == 422
    resident = await world.resident()
    for path in (f"{WORKLIST}?due_before={clock().isoformat().replace('+', '%2B')}",):
        assert (await world.client.get(path, headers=world.resident_headers(resident))).status_code == 403
        assert (await world.client.get(path, headers=world.keys.headers("provider_admin"))).status_code == 403
    provider = await act(world, "take", "complaint", nobody, world.keys.headers("provider_admin"))
    assert provider.status_code == 403


async def test_the_handover_says_what_is_open_who_took_it_and_who_closed_what(world: Any, clock: Clock) -> None:
    offering = await world.offering()
    guilan = await world.resident(name="张桂兰")
    first = await a_no_show(world, offering, guilan, hour=10)
    second = await a_no_show(world, offering, await world.resident(name="刘淑珍"), hour=11)
    assert (await act(world, "take", "no_show", first["id"], wang(world))).status_code == 200
    assert (await act(world, "done", "no_show", second["id"], chen(world))).status_code == 200
    # A complaint the console found overdue in feedback's list: booking records who took it.
    complaint_id = str(uuid.uuid4())
    taken = await act(world, "take", "complaint", complaint_id, chen(world), resident_id=guilan["id"])
    assert taken.status_code == 200, taken.text
    followups = await world.client.get(
        f"{WORKLIST}/followups", params={"kind": "complaint", "item_id": [complaint_id, nobody()]}, headers=chen(world)
    )
    assert [(f["item_id"], f["taken_by_name"]) for f in followups.json()] == [(complaint_id, "话务员 小陈")]

    since, until = clock() - timedelta(hours=1), clock() + timedelta(hours=8)
    response = await world.client.get(
        "/api/v1/hotline/handover",
        params={"since": since.isoformat(), "until": until.isoformat()},
        headers=chen(world),
    )
    assert response.status_code == 200, response.text
    handover = response.json()
    open_items = {i["item_id"]: i["taken_by_name"] for i in handover["worklist_open"]}
    assert open_items[first["id"]] == "话务员 王芳"
    assert second["id"] not in open_items
    assert [c["item_id"] for c in handover["complaints_taken"]] == [complaint_id]
    counts = {o["operator_name"]: o["items_done"] for o in handover["operators"]}
    assert counts["话务员 小陈"] == 1


def nobody() -> str:
    return str(uuid.uuid4())
