"""Bad input is refused, with nothing created (issue "Residents are known and reached"): through the gateway, as a
resident in the app and as an operator on the phone, complaints about a provider, booking, offering or center that
does not exist or is not the complainant's, and needs in a category or community the registry does not know, are
422 problem+json naming the field (400 GeoReport errors on Open311), and leave every list as it was: no complaint,
no deadline, no need, nothing in the needs pool or the Open311 feed."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from service_kit.testing import eventually_blocking

from .conftest import (
    free_slots,
    login,
    new_provider,
    publish_offering,
    registered_by_operator,
    resident_in_the_app,
)

pytestmark = pytest.mark.stack

PROBLEM = "application/problem+json"


def a_provider_with_an_offering(gateway: httpx.Client) -> dict[str, Any]:
    provider = new_provider(gateway, "拱辰居家照护服务社")
    offering_id = publish_offering(
        gateway,
        provider,
        "上门助洁",
        category_code="elderly.home_care",
        mode="door_to_door",
        price_fen=3000,
        capacity_per_slot=3,
        weekly_rules=[{"weekday": d, "start": "09:00", "end": "12:00"} for d in range(7)],
    )
    return {"provider_id": provider["id"], "offering_id": offering_id}


def a_booking_of_another_resident(gateway: httpx.Client, offering_id: str) -> tuple[str, str]:
    """(the other resident's id, her booking's id): booked for her by an operator, still only requested."""
    operator = login(gateway, "operator")
    other = registered_by_operator(gateway, operator, name="吴德华")

    (slot,) = free_slots(gateway, offering_id, operator)
    booking = gateway.post(
        "/api/v1/bookings",
        headers=operator,
        json={"offering_id": offering_id, "slot_start": slot["start"], "resident_id": other["id"]},
    )
    assert booking.status_code == 201, booking.text
    return other["id"], booking.json()["id"]


def complaint(target_kind: str, target_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "target_kind": target_kind,
        "target_id": target_id,
        "category": "service_quality",
        "description": "服务人员没有按约定上门。",
        **fields,
    }


def refused(response: httpx.Response, code: str, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == code, problem
    assert problem["errors"][0]["field"] == field, problem
    assert problem["detail"].startswith(f"{field}: "), problem


def refused_by_open311(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    (error,) = response.json()
    assert error["code"] == 400
    assert error["description"].startswith(f"{field}: "), error


def need_pool(gateway: httpx.Client) -> dict[str, int]:
    """Procurement's needs pool: each group of needs feedback recorded, with its count."""
    pool: dict[str, int] = {}
    offset = 0
    while True:
        response = gateway.get(
            "/api/v1/need-pool", headers=login(gateway, "official"), params={"limit": 200, "offset": offset}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        pool |= {item["group_key"]: item["count"] for item in page["items"] if item.get("group_key")}
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return pool


def everything_filed(gateway: httpx.Client) -> dict[str, Any]:
    """What a created complaint or need would show up in: the lists, the needs pool, the public Open311 feed."""
    official = login(gateway, "official")

    def ids(path: str, **params: Any) -> list[str]:
        response = gateway.get(path, headers=official, params={"limit": 200, **params})
        assert response.status_code == 200, response.text
        return sorted(item.get("id") or item.get("group_key") for item in response.json()["items"])

    return {
        "complaints": ids("/api/v1/complaints"),
        "overdue": ids("/api/v1/complaints", overdue="true"),
        "needs": ids("/api/v1/needs"),
        "need_groups": ids("/api/v1/needs/groups"),
        "need_pool": need_pool(gateway),
        "open311": sorted(r["service_request_id"] for r in gateway.get("/open311/v2/requests.json").json()),
    }


def test_bad_input_is_refused_with_nothing_created(gateway: httpx.Client) -> None:
    operator = login(gateway, "operator")
    world = a_provider_with_an_offering(gateway)
    me, mine, _ = resident_in_the_app(gateway, "周慧敏")
    my_id = mine["id"]
    other_id, others_booking = a_booking_of_another_resident(gateway, world["offering_id"])

    # Everything named below exists and has reached feedback: the refusals that follow are not a moment's lag.
    # (A whole-stack client waits like this: a thing created a moment ago may be "not known yet".)
    def filed(headers: dict[str, str], body: dict[str, Any]) -> bool:
        return gateway.post("/api/v1/complaints", headers=headers, json=body).status_code == 201

    eventually_blocking(lambda: filed(operator, complaint("booking", others_booking, resident_id=other_id)))
    eventually_blocking(
        lambda: filed(me, complaint("provider", world["provider_id"], community_code="gongchen.shidai_jiahe"))
    )
    need = {"category_code": "elderly.home_care", "community_code": "gongchen.haotian", "text": "希望有上门助浴"}
    recorded = eventually_blocking(lambda: _created(gateway.post("/api/v1/needs", headers=me, json=need)))
    eventually_blocking(lambda: need_pool(gateway).get(recorded["group_key"], 0) >= recorded["group_count"])
    before = everything_filed(gateway)

    nowhere, nobody = "gongchen.atlantis", str(uuid.uuid4())
    for headers, for_me in ((me, {}), (operator, {"resident_id": my_id})):

        def post(path: str, body: dict[str, Any], headers: dict[str, str] = headers) -> httpx.Response:
            return gateway.post(path, headers=headers, json=body)

        # Complaints: a random provider, booking, offering or center; another resident's booking; a community
        # the gazetteer does not have.
        refused(post("/api/v1/complaints", complaint("provider", nobody, **for_me)), "unknown_provider", "target_id")
        refused(post("/api/v1/complaints", complaint("booking", nobody, **for_me)), "unknown_booking", "target_id")
        refused(
            post("/api/v1/complaints", complaint("booking", others_booking, **for_me)), "unknown_booking", "target_id"
        )
        refused(post("/api/v1/complaints", complaint("offering", nobody, **for_me)), "unknown_offering", "target_id")
        refused(post("/api/v1/complaints", complaint("center", nobody, **for_me)), "unknown_center", "target_id")
        refused(
            post("/api/v1/complaints", complaint("provider", world["provider_id"], community_code=nowhere, **for_me)),
            "unknown_community",
            "community_code",
        )
        # Needs: an invented category, an unknown community.
        bad_category = {**need, "category_code": "elderly.moon_landing", **for_me}
        refused(post("/api/v1/needs", bad_category), "unknown_category", "category_code")
        refused(
            post("/api/v1/needs", {**need, "community_code": nowhere, **for_me}), "unknown_community", "community_code"
        )

        # Open311 refuses the same, in GeoReport's error list, naming the field as the 311 client sent it.
        on_phone = {"attribute[resident_id]": my_id} if for_me else {}
        georeport = {"service_code": "complaint.safety", "description": "楼道堆满杂物", **on_phone}
        refused_by_open311(
            gateway.post(
                "/open311/v2/requests.json",
                headers=headers,
                data={**georeport, "attribute[target_kind]": "booking", "attribute[target_id]": others_booking},
            ),
            "attribute[target_id]",
        )
        refused_by_open311(
            gateway.post(
                "/open311/v2/requests.json",
                headers=headers,
                data={"service_code": "need.elderly", "description": "想要助餐", "attribute[community_code]": nowhere}
                | on_phone,
            ),
            "attribute[community_code]",
        )

    time.sleep(1.0)  # whatever a refused request could have set off (events, the needs pool) has had its time
    assert everything_filed(gateway) == before


def _created(response: httpx.Response) -> dict[str, Any] | None:
    return response.json() if response.status_code == 201 else None
