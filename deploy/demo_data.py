"""Fangshan demo data, loaded through the gateway's public API exactly as officials, providers and operators
would enter it. Loading twice changes nothing: existing records are found and reused."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from stdnum.cn import uscc

DEMO_PASSWORD = "linli-demo-2026"

# Accounts written straight into the gateway's database before it starts (provider accounts follow the
# organizations they belong to, created through the API below).
DEMO_ACCOUNTS: list[dict[str, object]] = [
    {"username": "admin", "password": DEMO_PASSWORD, "roles": ["admin"], "name": "平台管理员"},
    {"username": "official", "password": DEMO_PASSWORD, "roles": ["official"], "name": "区社会办 刘老师"},
    {"username": "operator", "password": DEMO_PASSWORD, "roles": ["operator"], "name": "话务员 小陈"},
]


def valid_uscc(first17: str) -> str:
    return first17 + uscc.calc_check_digit(first17)


WEEKDAYS_LUNCH = [{"weekday": d, "start": "11:00", "end": "13:00"} for d in range(5)]
WEEKDAYS_DAY = [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(5)]
SATURDAY_MORNING = [{"weekday": 5, "start": "09:00", "end": "11:00"}]

ORGANIZATIONS: list[dict[str, Any]] = [
    {
        "username": "xiaokang",
        "org": {
            "name_zh": "北京小康之家社区服务有限公司",
            "name_en": "Xiaokang Home Community Services Co.",
            "kind": "commercial",
            "uscc": valid_uscc("91110111MA01XK001"),
        },
        "offerings": [
            {
                "category_code": "elderly.meal_table",
                "name_zh": "时代家和老年餐桌",
                "name_en": "Shidai Jiahe meal table for seniors",
                "description": "工作日午餐，两荤一素一汤，时代家和社区服务中心一层餐厅。",
                "mode": "at_center",
                "price_fen": 1500,
                "duration_minutes": 60,
                "capacity_per_slot": 20,
                "weekly_rules": WEEKDAYS_LUNCH,
                "target_groups": ["elderly"],
                "auto_confirm": True,
            },
            {
                "category_code": "elderly.home_care",
                "name_zh": "居家照护上门服务",
                "name_en": "Home care visit",
                "description": "持证护理员上门：助浴、助洁、陪护，每次两小时。",
                "mode": "door_to_door",
                "price_fen": 8000,
                "duration_minutes": 120,
                "capacity_per_slot": 2,
                "weekly_rules": WEEKDAYS_DAY,
                "target_groups": ["elderly"],
                "auto_confirm": False,
            },
        ],
    },
    {
        "username": "yangguang",
        "org": {
            "name_zh": "房山区阳光社会工作服务中心",
            "name_en": "Fangshan Sunshine Social Work Center",
            "kind": "public_welfare",
            "uscc": valid_uscc("52110111MJ01YG002"),
        },
        "offerings": [
            {
                "category_code": "children.safety",
                "name_zh": "“云呵护”青少年安全课堂",
                "name_en": "Cloud Care: safety class for children",
                "description": "与团区委、教委、妇联合作的青少年人身安全保护课堂。",
                "mode": "at_center",
                "price_fen": 0,
                "duration_minutes": 60,
                "capacity_per_slot": 15,
                "weekly_rules": SATURDAY_MORNING,
                "target_groups": ["children"],
                "auto_confirm": True,
            },
            {
                "category_code": "counseling.individual",
                "name_zh": "心理疏导一对一",
                "name_en": "One-to-one counseling",
                "mode": "at_center",
                "price_fen": 0,
                "duration_minutes": 60,
                "capacity_per_slot": 1,
                "weekly_rules": WEEKDAYS_DAY,
                "target_groups": [],
                "auto_confirm": False,
            },
        ],
    },
    {
        "username": "lvlin",
        "org": {
            "name_zh": "绿邻环保创业工作室",
            "name_en": "Green Neighbour startup studio",
            "kind": "startup",
            "uscc": valid_uscc("92110111MA01LL003"),
        },
        "offerings": [
            {
                "category_code": "green.recycling",
                "name_zh": "旧物回收上门",
                "name_en": "Recycling pick-up at home",
                "description": "加州水郡等社区：旧衣物、纸板、小家电上门回收。",
                "mode": "door_to_door",
                "price_fen": 0,
                "duration_minutes": 30,
                "capacity_per_slot": 3,
                "weekly_rules": WEEKDAYS_DAY,
                "target_groups": [],
                "auto_confirm": True,
            },
        ],
    },
]

RESIDENTS: list[dict[str, Any]] = [
    {
        "name": "王秀英",
        "phone": "13801010001",
        "community_code": "gongchen.shidai_jiahe",
        "eligibility_tags": ["age_80_plus", "living_alone"],
        "consent": {"version": "2026-11", "channel": "phone"},
    },
    {
        "name": "李建国",
        "phone": "13801010002",
        "community_code": "gongchen.jiazhou_shuijun",
        "eligibility_tags": ["low_income"],
        "consent": {"version": "2026-11", "channel": "phone"},
    },
    {
        "name": "张丽",
        "phone": "13801010003",
        "community_code": "gongchen.jiazhou_shuijun",
        "eligibility_tags": [],
        "consent": {"version": "2026-11", "channel": "app"},
    },
]


class DemoLoader:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def login(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            response = self.client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
            response.raise_for_status()
            self.tokens[username] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def call(self, method: str, path: str, user: str, *, ok: tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        response = self.client.request(method, path, headers=self.login(user), **kw)
        if response.status_code not in ok:
            raise RuntimeError(f"{method} {path} as {user}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def organization(self, spec: dict[str, Any]) -> dict[str, Any]:
        org = spec["org"]
        listed = self.call("GET", "/api/v1/organizations", "official", params={"limit": 200})
        existing = next((o for o in listed["items"] if o["uscc"] == org["uscc"]), None)
        if existing is None:
            existing = self.call("POST", "/api/v1/organizations", "official", json=org)
        if existing["status"] == "applied":
            existing = self.call("POST", f"/api/v1/organizations/{existing['id']}/verify", "official", json={})
        self.call(
            "POST",
            "/api/v1/accounts",
            "admin",
            ok=(200, 201, 409),
            json={
                "username": spec["username"],
                "password": DEMO_PASSWORD,
                "roles": ["provider_admin"],
                "name": org["name_zh"],
                "provider_id": existing["id"],
            },
        )
        return existing

    def offerings(self, provider: dict[str, Any], spec: dict[str, Any]) -> list[dict[str, Any]]:
        user = spec["username"]
        listed = self.call("GET", "/api/v1/offerings", user, params={"provider_id": provider["id"], "limit": 200})
        by_name = {o["name_zh"]: o for o in listed["items"]}
        result = []
        for offering in spec["offerings"]:
            existing = by_name.get(offering["name_zh"])
            if existing is None:
                existing = self.call(
                    "POST", "/api/v1/offerings", user, json={**offering, "provider_id": provider["id"]}
                )
            if existing["status"] != "published":
                existing = self.call("POST", f"/api/v1/offerings/{existing['id']}/publish", user, json={})
            result.append(existing)
        return result

    def contract(self, provider: dict[str, Any], meal_table: dict[str, Any]) -> dict[str, Any]:
        listed = self.call("GET", "/api/v1/contracts", "official", params={"limit": 200})
        title = "2026年度时代家和老年餐桌助餐服务项目"
        existing = next((c for c in listed["items"] if c["title"] == title), None)
        if existing is None:
            start = date.today()
            existing = self.call(
                "POST",
                "/api/v1/contracts",
                "official",
                json={
                    "title": title,
                    "provider_id": provider["id"],
                    "amount_fen": 3_000_000,
                    "start_date": start.isoformat(),
                    "end_date": (start + timedelta(days=364)).isoformat(),
                    "funded_offerings": [
                        {
                            "offering_id": meal_table["id"],
                            "unit_price_fen": 1500,
                            "resident_price_fen": 0,
                            "quota": 2000,
                            "eligibility_tags": ["age_80_plus", "low_income"],
                        }
                    ],
                },
            )
        if existing["status"] == "draft":
            existing = self.call("POST", f"/api/v1/contracts/{existing['id']}/sign", "official", json={})
        return existing

    def residents(self) -> list[dict[str, Any]]:
        result = []
        for resident in RESIDENTS:
            found = self.call("GET", "/api/v1/residents", "operator", params={"phone": resident["phone"]})
            items = found["items"] if isinstance(found, dict) else found
            result.append(items[0] if items else self.call("POST", "/api/v1/residents", "operator", json=resident))
        return result


def load_demo_data(gateway_url: str) -> dict[str, object]:
    with httpx.Client(base_url=gateway_url, timeout=30.0) as client:
        loader = DemoLoader(client)
        providers, offerings = [], []
        for spec in ORGANIZATIONS:
            provider = loader.organization(spec)
            providers.append(provider)
            offerings.append(loader.offerings(provider, spec))
        contract = loader.contract(providers[0], offerings[0][0])
        residents = loader.residents()
    accounts = [f"{a['username']} / {DEMO_PASSWORD}  ({', '.join(a['roles'])})" for a in DEMO_ACCOUNTS]  # type: ignore[arg-type]
    accounts += [f"{s['username']} / {DEMO_PASSWORD}  (provider_admin, {s['org']['name_zh']})" for s in ORGANIZATIONS]
    return {
        "accounts": accounts,
        "counts": {
            "providers": len(providers),
            "offerings": sum(len(o) for o in offerings),
            "contracts": 1 if contract else 0,
            "residents": len(residents),
        },
    }
