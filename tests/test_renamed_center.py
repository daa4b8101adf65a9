"""A service center renamed and given a new address in the gazetteer: a resident's booking of a meal there shows
the center's new name and address in her list in the app, without anyone touching the offering or the booking
(the registry announces each offering at the center again; booking's catalog takes the new place)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service_kit.testing import eventually_blocking

from .conftest import free_slots, login, new_provider, publish_offering, resident_in_the_app

pytestmark = pytest.mark.stack


def test_a_renamed_center_shows_its_new_name_in_the_residents_bookings(gateway: httpx.Client) -> None:
    official = login(gateway, "official")
    created = gateway.post(
        "/api/v1/service-centers",
        headers=official,
        json={"name_zh": "拱辰街道综合服务中心", "address": "拱辰街道北关东路1号", "lat": 39.7357, "lng": 116.1436},
    )
    assert created.status_code == 201, created.text
    center = created.json()
    provider = new_provider(gateway, "拱辰邻里餐厅")
    offering_id = publish_offering(gateway, provider, "拱辰老年餐桌", center_id=center["id"])
    headers, _, _ = resident_in_the_app(gateway, "刘淑芬")
    [slot] = free_slots(gateway, offering_id, headers)
    booked = gateway.post(
        "/api/v1/bookings", headers=headers, json={"offering_id": offering_id, "slot_start": slot["start"]}
    )
    assert booked.status_code == 201, booked.text
    booking_id = booked.json()["id"]

    def place() -> dict[str, Any]:
        mine = gateway.get("/api/v1/bookings", headers=headers)
        assert mine.status_code == 200, mine.text
        shown: dict[str, Any] = next(b for b in mine.json()["items"] if b["id"] == booking_id)["service"]["place"]
        return shown

    assert (place()["label"], place()["address"]) == ("拱辰街道综合服务中心", "拱辰街道北关东路1号")
    renamed = gateway.patch(
        f"/api/v1/service-centers/{center['id']}",
        headers=official,
        json={"name_zh": "拱辰邻里中心", "address": "拱辰街道北关东路8号"},
    )
    assert renamed.status_code == 200, renamed.text

    def renamed_in_her_list() -> dict[str, Any] | None:
        shown = place()
        return shown if shown["label"] == "拱辰邻里中心" else None

    shown = eventually_blocking(renamed_in_her_list)
    assert (shown["kind"], shown["label"], shown["address"]) == ("at_center", "拱辰邻里中心", "拱辰街道北关东路8号")
