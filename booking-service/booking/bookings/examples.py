"""Examples of what the app does with bookings, for the OpenAPI document (``service_kit.apidocs.examples``): 王秀英
quotes, books and cancels the funded lunch of 时代嘉和社区老年餐桌, and lists her bookings."""

from typing import Any

from service_kit.apidocs import examples

OFFERING_ID = "3f6c2a1e-8b4d-4c2a-9e71-5d0b8a6f4c21"
PROVIDER_ID = "9a1d7e55-2c3b-4f0e-8d6a-7b2e4c1f0a93"
RESIDENT_ID = "5b8e0f3a-6d2c-4a7e-b1f9-2c4d6e8a0b17"
CONTRACT_ID = "1e3c5a7b-9d2f-4b6a-8c0e-2f4a6b8c0d13"
BOOKING_ID = "c2e4a6b8-1d3f-4e5a-9b7c-0d2f4a6c8e10"

SERVICE: dict[str, Any] = {
    "offering_name": "老年餐桌·午餐",
    "offering_name_en": "Lunch at the meal table",
    "category_code": "elderly.meal_table",
    "provider_name": "时代嘉和社区养老驿站",
    "place": {"kind": "at_center", "label": "时代嘉和社区老年餐桌", "address": "拱辰街道时代嘉和小区12号楼底商"},
}

BOOKING: dict[str, Any] = {
    "id": BOOKING_ID,
    "offering_id": OFFERING_ID,
    "provider_id": PROVIDER_ID,
    "resident_id": RESIDENT_ID,
    "resident": {"id": RESIDENT_ID, "name": "王秀英", "phone": "139****5678"},
    "booked_by": {"kind": "resident", "name": "王秀英", "helper": None},
    "service": SERVICE,
    "status": "requested",
    "channel": "app",
    "slot_start": "2026-12-08T03:00:00Z",
    "slot_end": "2026-12-08T04:00:00Z",
    "price_fen": 0,
    "resident_share_fen": 0,
    "subsidy_fen": 1500,
    "funded_contract_id": CONTRACT_ID,
    "status_reason": None,
    "status_changed_at": "2026-12-06T02:15:07Z",
    "confirm_by": "2026-12-07T02:15:07Z",
    "assigned_staff": None,
    "visit": None,
    "suspect_reasons": [],
    "provider_missed": None,
    "reminded_at": None,
    "created_at": "2026-12-06T02:15:07Z",
    "updated_at": "2026-12-06T02:15:07Z",
}

CREATE: dict[str, Any] = examples(
    request={"offering_id": OFFERING_ID, "slot_start": "2026-12-08T11:00:00+08:00", "channel": "app"},
    response=BOOKING,
    status=201,
)

LIST: dict[str, Any] = examples(
    parameters={"status": "requested", "from": "2026-12-01", "to": "2026-12-31"},
    response={"items": [BOOKING], "total": 1, "limit": 20, "offset": 0},
)

QUOTE: dict[str, Any] = examples(
    parameters={"offering_id": OFFERING_ID, "date": "2026-12-08"},
    response={
        "offering_id": OFFERING_ID,
        "resident_id": RESIDENT_ID,
        "date": "2026-12-08",
        "price_fen": 1500,
        "resident_price_fen": 0,
        "subsidy_fen": 1500,
        "funded": True,
        "funded_contract_id": CONTRACT_ID,
        "quota_left": 23,
        "subsidy": "subsidised",
        "service": SERVICE,
        "cancellation_rule": {
            "window_minutes": 120,
            "text": "服务开始前2小时以前可自行取消或改期；此后请联系服务商或致电服务中心。",
        },
    },
)

CANCEL: dict[str, Any] = examples(
    parameters={"booking_id": BOOKING_ID},
    request={"reason": "临时有事，改天再约"},
    response={
        **BOOKING,
        "status": "cancelled",
        "status_reason": "临时有事，改天再约",
        "status_changed_at": "2026-12-07T01:40:22Z",
        "updated_at": "2026-12-07T01:40:22Z",
    },
)
