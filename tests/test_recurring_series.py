"""Through the gateway: a resident books weekday lunches for three weeks in one request from the app; a retried
request (the app lost the answer) books nothing twice; each date is a booking of her own, cancelled alone."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from .conftest import beijing_today, free_slots, provider_with_offering, resident_in_the_app

pytestmark = pytest.mark.stack


def test_a_resident_books_weekday_lunches_once_however_often_the_app_retries(gateway: httpx.Client) -> None:
    provider = provider_with_offering(gateway, "周期预约测试助餐社", "周期预约测试午餐（仅测试用）")
    headers, resident, _ = resident_in_the_app(gateway, "刘淑珍")
    free_slots(gateway, provider["offering_id"], headers)  # booking has learned the offering
    start = beijing_today() + timedelta(days=2)
    body = {
        "offering_id": provider["offering_id"],
        "kind": "working_days",
        "time": "11:00",
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=20)).isoformat(),
    }
    retried = headers | {"Idempotency-Key": f"lunch-series-{resident['id']}"}
    first = gateway.post("/api/v1/bookings/series", headers=retried, json=body)
    assert first.status_code == 201, first.text
    again = gateway.post("/api/v1/bookings/series", headers=retried, json=body)
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]

    series = first.json()
    booked = [o for o in series["occurrences"] if o["outcome"] == "booked"]
    dates = [o["date"] for o in booked]
    assert len(dates) >= 10
    assert len(dates) == len(set(dates))
    assert not {d["date"] for d in series["days_off_skipped"]} & set(dates)
    mine = gateway.get("/api/v1/bookings", headers=headers, params={"limit": 100})
    assert sorted(b["id"] for b in mine.json()["items"]) == sorted(o["booking"]["id"] for o in booked)

    one = booked[-1]["booking"]["id"]
    cancelled = gateway.post(f"/api/v1/bookings/{one}/cancel", headers=headers, json={"reason": "那天去女儿家"})
    assert cancelled.status_code == 200, cancelled.text
    shown = gateway.get(f"/api/v1/bookings/series/{series['id']}", headers=headers).json()
    statuses = [o["booking"]["status"] for o in shown["occurrences"] if o["booking"]]
    assert statuses.count("cancelled") == 1
    assert len(statuses) == len(dates)

    refused = gateway.post(
        "/api/v1/bookings/series",
        headers=headers,
        json={**body, "end_date": start.isoformat(), "start_date": (start + timedelta(days=1)).isoformat()},
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "end_before_start"
