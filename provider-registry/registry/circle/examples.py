"""An example of the app's search for services within a walk of home, for the OpenAPI document
(``service_kit.apidocs.examples``)."""

from typing import Any

from service_kit.apidocs import examples

SEARCH: dict[str, Any] = examples(
    parameters={"community_code": "gongchen.shidai_jiahe", "minutes": 15, "category_code": "elderly.meal_table"},
    response={
        "origin": {"lat": 39.7312, "lng": 116.1438, "community_code": "gongchen.shidai_jiahe"},
        "minutes": 15,
        "reach_m": 1200,
        "items": [
            {
                "offering": {
                    "id": "3f6c2a1e-8b4d-4c2a-9e71-5d0b8a6f4c21",
                    "provider_id": "9a1d7e55-2c3b-4f0e-8d6a-7b2e4c1f0a93",
                    "category_code": "elderly.meal_table",
                    "name_zh": "时代嘉和社区老年餐桌",
                    "name_en": "Shidai Jiahe seniors' lunch table",
                    "description": "每日午餐，两荤两素一汤，可在社区养老驿站用餐。",
                    "mode": "at_center",
                    "price_fen": 1500,
                    "duration_minutes": 60,
                    "capacity_per_slot": 30,
                    "timezone": "Asia/Shanghai",
                    "weekly_rules": [{"weekday": d, "start": "11:00", "end": "13:00"} for d in range(5)],
                    "exceptions": [],
                    "target_groups": ["elderly"],
                    "eligibility_description": "拱辰街道60岁以上老人",
                    "required_documents": ["北京通-养老助残卡"],
                    "auto_confirm": False,
                    "status": "published",
                    "version": 3,
                    "published_at": "2026-11-02T01:00:00Z",
                    "lat": 39.7295,
                    "lng": 116.1462,
                    "center_id": "b4d6f8a0-2c4e-4a6b-8d0f-1a3c5e7b9d24",
                    "service_radius_m": None,
                    "service_communities": [],
                    "created_at": "2026-10-28T06:12:44Z",
                    "updated_at": "2026-11-02T01:00:00Z",
                },
                "provider_name": "拱辰街道乐龄养老服务中心",
                "provider_score": 4.6,
                "reach": "walk",
                "distance_m": 310,
                "walk_minutes": 4.5,
            }
        ],
        "total": 1,
        "limit": 20,
        "offset": 0,
    },
)
