"""A booking answer carries what an app's list row shows (the service, the provider, the place, the resident's
share and the subsidy), a page of them costs the same few queries however many rows it holds, and the quote says
the cancellation rule before anyone books."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event

from service_kit.events.contracts import FundedOffering

BOOKINGS = "/api/v1/bookings"
COUNTING: ContextVar[bool] = ContextVar("counting", default=False)


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the booking service runs for the requests made meanwhile."""
    seen: list[str] = []
    runtime = app.state.runtime
    engines = {id(e.sync_engine): e.sync_engine for e in (runtime.engine, runtime.read_engine)}.values()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The outbox relay and the consumers share the engines: only what the request (this context) runs counts.
        if COUNTING.get():
            seen.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    counting = COUNTING.set(True)
    try:
        yield seen
    finally:
        COUNTING.reset(counting)
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def test_a_list_row_names_the_service_the_provider_and_the_place(world: Any) -> None:
    lunch = await world.offering(
        name_zh="老年餐桌·午餐",
        provider_name="时代嘉和社区养老驿站",
        place_name="时代嘉和社区老年餐桌",
        place_address="拱辰街道时代嘉和小区12号楼底商",
        price_fen=1500,
    )
    bathing = await world.offering(name_zh="上门助浴", provider_name="康乐家政", mode="door_to_door", price_fen=8000)
    funded = (FundedOffering(offering_id=lunch.offering_id, unit_price_fen=1500, resident_price_fen=300, quota=5),)
    await world.apply(world.contract_event(offering_id=lunch.offering_id, funded=funded), source="procurement")
    elder = await world.resident()
    made = await world.book(lunch, elder, world.at(world.tomorrow(), 9))
    assert made.status_code == 201, made.text
    assert made.json()["service"] == {
        "offering_name": "老年餐桌·午餐",
        "offering_name_en": "Meal table",
        "category_code": "elderly.meal_table",
        "provider_name": "时代嘉和社区养老驿站",
        "place": {"kind": "at_center", "label": "时代嘉和社区老年餐桌", "address": "拱辰街道时代嘉和小区12号楼底商"},
    }
    assert (await world.book(bathing, elder, world.at(world.tomorrow(), 10))).status_code == 201

    mine = await world.client.get(BOOKINGS, headers=world.resident_headers(elder))
    assert mine.status_code == 200, mine.text
    rows = {
        row["service"]["offering_name"]: (
            row["service"]["provider_name"],
            row["service"]["place"]["label"],
            row["service"]["place"]["address"],
            row["resident_share_fen"],
            row["subsidy_fen"],
        )
        for row in mine.json()["items"]
    }
    assert rows == {
        "老年餐桌·午餐": ("时代嘉和社区养老驿站", "时代嘉和社区老年餐桌", "拱辰街道时代嘉和小区12号楼底商", 300, 1200),
        "上门助浴": ("康乐家政", "上门", None, 8000, 0),
    }


async def test_a_center_the_registry_names_no_place_for_is_shown_as_at_the_center(world: Any) -> None:
    walk_in = await world.offering(name_zh="理发", mode="at_center")
    row = (await world.book(walk_in, await world.resident(), world.at(world.tomorrow(), 9))).json()
    assert row["service"]["place"] == {"kind": "at_center", "label": "到店服务", "address": None}


async def test_a_page_of_bookings_costs_the_same_queries_for_two_rows_as_for_twelve(app: FastAPI, world: Any) -> None:
    operator = world.keys.headers("operator")
    elder = await world.resident()
    offerings = [await world.offering(name_zh=f"服务{n}", capacity_per_slot=1) for n in range(6)]
    for n, offering in enumerate(offerings[:2]):
        assert (await world.book(offering, elder, world.at(world.tomorrow(), 9))).status_code == 201, n
    with statements(app) as few:
        two = await world.client.get(BOOKINGS, params={"resident_id": elder["id"]}, headers=operator)
    for day in range(1, 3):
        for offering in offerings[: 6 if day == 1 else 4]:
            slot = world.at(world.tomorrow() + timedelta(days=day), 10)
            assert (await world.book(offering, elder, slot)).status_code == 201
    with statements(app) as many:
        twelve = await world.client.get(BOOKINGS, params={"resident_id": elder["id"]}, headers=operator)
    assert (two.json()["total"], twelve.json()["total"]) == (2, 12)
    assert all(row["service"] is not None for row in twelve.json()["items"])
    assert len(many) == len(few), many


async def test_the_quote_reads_out_the_cancellation_rule_before_booking(world: Any) -> None:
    lunch = await world.offering(name_zh="老年餐桌·午餐", provider_name="时代嘉和社区养老驿站")
    elder = await world.resident()
    params = {"offering_id": str(lunch.offering_id), "resident_id": elder["id"]}
    operator = world.keys.headers("operator")
    quote = (await world.client.get(f"{BOOKINGS}/quote", params=params, headers=operator)).json()
    assert quote["cancellation_rule"] == {
        "window_minutes": 120,
        "text": "服务开始前2小时以前可自行取消或改期；此后请联系服务商或致电服务中心。",
    }
    assert (quote["service"]["offering_name"], quote["service"]["place"]["label"]) == ("老年餐桌·午餐", "到店服务")

    rules = {"cancellation_window_minutes": 90}
    put = await world.client.put(f"/api/v1/availability/{lunch.offering_id}/rules", json=rules, headers=operator)
    assert put.status_code == 200, put.text
    quote = (await world.client.get(f"{BOOKINGS}/quote", params=params, headers=operator)).json()
    assert (
        quote["cancellation_rule"]["text"] == "服务开始前90分钟以前可自行取消或改期；此后请联系服务商或致电服务中心。"
    )
