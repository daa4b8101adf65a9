"""A door-to-door visit the staff member can make, through the gateway: the provider's admin plans it from the
community and street and assigns 刘师傅; only he, and only once the visit is near, reads the address, the access
notes and the number to call; each look is in the resident's log, which she reads in the app. Her "my bookings"
names the service, the provider and the place without a call per row, and the quote reads out the cancellation
rule.

Time is not waited for: to bring the visit near, the test moves the booking's slot in booking's own database, as
the service's clock would have moved."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from service_kit.db import UTCDateTime
from service_kit.timeutil import utcnow

from .conftest import DevStack, free_slots, login, me, new_account, new_provider, publish_offering, resident_in_the_app

pytestmark = pytest.mark.stack

BOOKING = sa.table(
    "booking", sa.column("id", sa.Uuid()), sa.column("slot_start", UTCDateTime()), sa.column("slot_end", UTCDateTime())
)
ADDRESS = "拱辰街道时代嘉和小区3号楼2单元501"
NOTES = "单元门密码 2580#，家里有狗，请先打电话"


def move_slot(stack: DevStack, booking_id: str, start: datetime, end: datetime) -> None:
    async def write() -> None:
        engine = create_async_engine(stack.database_url("booking"))
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    sa.update(BOOKING)
                    .where(BOOKING.c.id == uuid.UUID(booking_id))
                    .values(slot_start=start, slot_end=end)
                )
        finally:
            await engine.dispose()

    asyncio.run(write())


def test_only_the_assigned_staff_member_sees_the_address_when_the_visit_is_near(
    gateway: httpx.Client, stack: DevStack
) -> None:
    provider = new_provider(gateway, f"康乐助浴{uuid.uuid4().int % 10**4:04d}")
    offering_id = publish_offering(
        gateway,
        provider,
        "上门助浴",
        category_code="elderly.home_care",
        mode="door_to_door",
        price_fen=8000,
        weekly_rules=[{"weekday": d, "start": "09:00", "end": "11:00"} for d in range(7)],
    )
    staff = new_account(gateway, "provider_staff", "刘师傅", provider_id=provider["id"]).headers
    other_staff = new_account(gateway, "provider_staff", "王师傅", provider_id=provider["id"]).headers
    resident, record, _ = resident_in_the_app(gateway, "孙桂芝")
    corrected = gateway.patch(
        f"/api/v1/residents/{record['id']}",
        headers=resident,
        json={"address": ADDRESS, "access_notes": NOTES, "community_code": "gongchen.shidai_jiahe"},
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["access_notes"] == NOTES

    operator = login(gateway, "operator")
    slot = free_slots(gateway, offering_id, operator)[0]
    quote = gateway.get(
        "/api/v1/bookings/quote", headers=resident, params={"offering_id": offering_id, "date": slot["start"][:10]}
    )
    assert quote.status_code == 200, quote.text
    assert quote.json()["cancellation_rule"]["text"].startswith("服务开始前2小时以前可自行取消或改期")
    made = gateway.post(
        "/api/v1/bookings",
        headers=operator,
        json={"offering_id": offering_id, "slot_start": slot["start"], "resident_id": record["id"]},
    )
    assert made.status_code == 201, made.text
    booking_id = made.json()["id"]
    assert gateway.post(f"/api/v1/bookings/{booking_id}/confirm", headers=provider["admin"]).status_code == 200

    # The admin plans from the community and the street; the address is nowhere in what they see.
    planned = gateway.get("/api/v1/bookings", headers=provider["admin"], params={"status": "confirmed"})
    row = next(b for b in planned.json()["items"] if b["id"] == booking_id)
    assert (row["visit_area"]["community_code"], row["visit_area"]["street_code"]) == (
        "gongchen.shidai_jiahe",
        "gongchen",
    )
    assert ADDRESS not in planned.text
    assigned = gateway.post(
        f"/api/v1/bookings/{booking_id}/assign",
        headers=provider["admin"],
        json={"staff_id": me(gateway, staff)["subject"], "staff_name": "刘师傅"},
    )
    assert assigned.status_code == 200, assigned.text

    details = f"/api/v1/bookings/{booking_id}/visit-details"
    not_yet = gateway.get(details, headers=staff)
    assert (not_yet.status_code, not_yet.json()["code"]) == (403, "visit_details_not_yet")

    now = utcnow()
    move_slot(stack, booking_id, now + timedelta(minutes=30), now + timedelta(minutes=90))
    shown = gateway.get(details, headers=staff)
    assert shown.status_code == 200, shown.text
    assert (shown.json()["address"], shown.json()["access_notes"], shown.json()["number_kind"]) == (
        ADDRESS,
        NOTES,
        "resident_phone",
    )
    assert shown.json()["callable_number"].startswith("+86136")
    for who, headers, status in (
        ("admin", provider["admin"], 403),
        ("other staff", other_staff, 403),
        ("operator", operator, 403),
        ("resident", resident, 403),
    ):
        refused = gateway.get(details, headers=headers)
        assert refused.status_code == status, who
        assert ADDRESS not in refused.text, who

    # She sees who looked, in the app; so does the call center.
    for headers in (resident, operator):
        log = gateway.get(f"/api/v1/residents/{record['id']}/acting-for", headers=headers)
        assert log.status_code == 200, log.text
        looks = [(e["operator_name"], e["booking_id"]) for e in log.json()["items"] if e["action"] == "visit_details"]
        assert looks == [("刘师傅", booking_id)]

    # Her list names the service, the provider and the place.
    mine = gateway.get("/api/v1/bookings", headers=resident)
    assert mine.status_code == 200, mine.text
    service: dict[str, Any] = next(b for b in mine.json()["items"] if b["id"] == booking_id)["service"]
    assert (service["offering_name"], service["provider_name"], service["place"]["label"]) == (
        "上门助浴",
        provider["name"],
        "上门",
    )
