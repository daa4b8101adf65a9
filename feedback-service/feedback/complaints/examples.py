"""An example of a resident's complaint from the app, for the OpenAPI document (``service_kit.apidocs.examples``)."""

from typing import Any

from service_kit.apidocs import examples

BOOKING_ID = "c2e4a6b8-1d3f-4e5a-9b7c-0d2f4a6c8e10"

FILE: dict[str, Any] = examples(
    request={
        "target_kind": "booking",
        "target_id": BOOKING_ID,
        "category": "punctuality",
        "description": "约好11点送餐，12点半才送到，饭菜都凉了。",
    },
    response={
        "id": "e7a9c1b3-5d7f-4b1a-8c3e-9f1b3d5a7c29",
        "reference": "47112086",
        "channel": "app",
        "category": "punctuality",
        "severity": "normal",
        "status": "submitted",
        "target_kind": "booking",
        "target_id": BOOKING_ID,
        "provider_id": "9a1d7e55-2c3b-4f0e-8d6a-7b2e4c1f0a93",
        "offering_id": "3f6c2a1e-8b4d-4c2a-9e71-5d0b8a6f4c21",
        "booking_id": BOOKING_ID,
        "center_id": None,
        "description": "约好11点送餐，12点半才送到，饭菜都凉了。",
        "attachments": [],
        "resident_id": "5b8e0f3a-6d2c-4a7e-b1f9-2c4d6e8a0b17",
        "community_code": "gongchen.shidai_jiahe",
        "street_code": "gongchen",
        "filed_by": "5b8e0f3a-6d2c-4a7e-b1f9-2c4d6e8a0b17",
        "helper_resident_id": None,
        "assignee_kind": None,
        "assignee_id": None,
        "ack_due_at": "2026-12-09T04:30:00Z",
        "resolve_due_at": "2026-12-15T04:30:00Z",
        "acknowledged_at": None,
        "resolved_at": None,
        "closed_at": None,
        "ack_escalated_at": None,
        "resolve_escalated_at": None,
        "overdue": False,
        "created_at": "2026-12-08T04:30:00Z",
        "updated_at": "2026-12-08T04:30:00Z",
    },
    status=201,
)
