"""Fangshan demo data, loaded through the gateway's public API exactly as officials, providers and operators
would enter it. Loading twice changes nothing: existing records are found and reused."""

from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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


# The district's service centers, seeded with the gazetteer (provider-registry's migration 0005, the gazetteer):
# offerings given at a center are found in the 15-minute circle around it.
SHIDAI_JIAHE_CENTER = "6a1f0c8e-3b7d-4c61-9d2e-5f0b8a7c1001"  # 时代家和社区服务中心
CSD_CENTER = "6a1f0c8e-3b7d-4c61-9d2e-5f0b8a7c1002"  # CSD社区综合服务中心
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
                "center_id": SHIDAI_JIAHE_CENTER,
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
                "service_communities": ["gongchen.shidai_jiahe", "gongchen.jiazhou_shuijun", "gongchen.haotian"],
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
                "center_id": CSD_CENTER,
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
                "center_id": CSD_CENTER,
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
                "service_communities": ["gongchen.jiazhou_shuijun", "gongchen.shidai_jiahe"],
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


# The district's own account of what it bought before Linli: 262 projects, 35,753,000 yuan. The demo imports
# as many invented projects worth exactly as much, spread over five years, the six streets and towns of the
# gazetteer and the directions of the calls, delivered by the demo providers; the same list every time.
HISTORICAL_PROJECTS = 262
HISTORICAL_TOTAL_FEN = 3_575_300_000
HISTORICAL_YEARS = {2021: 38, 2022: 47, 2023: 55, 2024: 60, 2025: 62}
STREETS = {
    "gongchen": "拱辰街道",
    "xilu": "西潞街道",
    "chengguan": "城关街道",
    "changyang": "长阳镇",
    "liangxiang": "良乡镇",
    "yancun": "阎村镇",
}
DIRECTIONS = {
    "elderly_care": ("养老助餐与居家照护", 34),
    "children": ("儿童关爱与安全教育", 16),
    "special_groups": ("特殊群体帮扶", 14),
    "green_living": ("垃圾分类与绿色环保", 10),
    "psychological_counseling": ("心理疏导", 8),
    "volunteer_services": ("志愿服务", 7),
    "community_governance": ("社区治理", 6),
    "cultural_heritage": ("文化传承", 5),
}
RESULTS = {"excellent": (30, 90, 98), "good": (45, 80, 89), "qualified": (22, 65, 79), "unqualified": (3, 45, 59)}


def historical_projects(providers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng = random.Random(HISTORICAL_TOTAL_FEN)
    weights = [rng.uniform(0.3, 1.7) for _ in range(HISTORICAL_PROJECTS)]
    # Amounts in whole hundreds of yuan; the last project takes what rounding left, so the sum is exact.
    amounts = [round(HISTORICAL_TOTAL_FEN * w / sum(weights) / 10_000) * 10_000 for w in weights]
    amounts[-1] += HISTORICAL_TOTAL_FEN - sum(amounts)
    years = [year for year, count in HISTORICAL_YEARS.items() for _ in range(count)]
    projects = []
    for index, (year, amount) in enumerate(zip(years, amounts, strict=True)):
        direction = rng.choices(list(DIRECTIONS), weights=[w for _, w in DIRECTIONS.values()])[0]
        street = rng.choice(list(STREETS))
        result = rng.choices(list(RESULTS), weights=[w for w, _, _ in RESULTS.values()])[0]
        _, low, high = RESULTS[result]
        provider = providers[index % len(providers)]
        projects.append(
            {
                "reference": f"FS-{year}-{index + 1:03d}",
                "year": year,
                "title": f"{year}年{STREETS[street]}{DIRECTIONS[direction][0]}服务项目",
                "direction": direction,
                "street_code": street,
                "provider": {"organization_id": provider["id"], "name": provider["name_zh"], "kind": provider["kind"]},
                "amount_fen": amount,
                "result": result,
                "score": rng.randint(low, high),
            }
        )
    return projects


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

    def contract(self, provider: dict[str, Any], meal_table: dict[str, Any], provider_admin: str) -> dict[str, Any]:
        """The district's meal-table contract with ``provider``, signed by both parties: the official for the
        district, then ``provider_admin`` for the provider (a signature already given is not given again)."""
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
        sign = f"/api/v1/contracts/{existing['id']}/sign"
        if existing["status"] == "draft" and existing["purchaser_signature"] is None:
            existing = self.call("POST", sign, "official", json={})
        if existing["status"] == "draft" and existing["provider_signature"] is None:
            existing = self.call("POST", sign, provider_admin, json={})
        return existing

    def history(self, providers: list[dict[str, Any]]) -> dict[str, int]:
        """Import the historical projects; importing them again records nothing."""
        projects = historical_projects(providers)
        self.call("POST", "/api/v1/funds/historical-projects", "official", json={"projects": projects})
        return {"projects": len(projects), "amount_fen": sum(p["amount_fen"] for p in projects)}

    def fund(self, year: int) -> dict[str, Any]:
        name = f"{year}年社区服务专项资金"
        listed = self.call("GET", "/api/v1/funds", "official", params={"limit": 200})
        existing = next((f for f in listed["items"] if f["name"] == name and f["year"] == year), None)
        return existing or self.call(
            "POST", "/api/v1/funds", "official", json={"name": name, "year": year, "budget_fen": 900_000_000}
        )

    def open_call(
        self, fund: dict[str, Any], applicants: list[tuple[dict[str, Any], str]]
    ) -> tuple[dict[str, Any], int]:
        """This year's call for proposals, open for a month, and the demo providers' applications to it."""
        title = f"{fund['year'] + 1}年度社区养老与儿童关爱服务项目征集"
        listed = self.call("GET", "/api/v1/calls", "official", params={"limit": 200})
        call = next((c for c in listed["items"] if c["title"] == title), None)
        if call is None:
            deadline = datetime.combine(
                date.today() + timedelta(days=30), datetime.min.time(), ZoneInfo("Asia/Shanghai")
            )
            call = self.call(
                "POST",
                "/api/v1/calls",
                "official",
                json={
                    "title": title,
                    "description": "面向80岁以上、独居老人的助餐与探访服务，以及儿童安全与关爱服务。",
                    "directions": ["elderly_care", "children"],
                    "budget_cap_fen": 50_000_000,
                    "fund_id": fund["id"],
                    "eligible_kinds": ["public_welfare", "startup"],
                    "criteria": [
                        {"code": "feasibility", "name": "项目可行性", "weight": 40},
                        {"code": "capacity", "name": "机构能力", "weight": 35},
                        {"code": "budget", "name": "预算合理性", "weight": 25},
                    ],
                    "deadline": (deadline + timedelta(hours=18)).isoformat(),
                },
            )
        if call["status"] == "draft":
            call = self.call("POST", f"/api/v1/calls/{call['id']}/publish", "official", json={})
        applied = 0
        for provider, user in applicants:
            mine = self.call("GET", f"/api/v1/calls/{call['id']}/applications", user, params={"limit": 200})
            if mine["items"]:
                applied += 1
            elif call["status"] == "published" and datetime.fromisoformat(call["deadline"]) > datetime.now(
                ZoneInfo("UTC")
            ):
                self.apply(call, provider, user)
                applied += 1
        return call, applied

    def apply(self, call: dict[str, Any], provider: dict[str, Any], user: str) -> None:
        year = datetime.fromisoformat(call["deadline"]).year + 1
        body = {
            "title": f"{provider['name_zh']}{year}年度社区服务项目",
            "proposal": "在拱辰街道、长阳镇的社区开展服务，每月公开服务记录，接受居民评价。",
            "budget_request_fen": 30_000_000,
            "deliverables": [
                {
                    "service_type": "elderly.meal_table" if provider["kind"] == "public_welfare" else "green.recycling",
                    "quantity": 5000,
                    "target_group": "80+",
                    "period_start": f"{year}-01-01",
                    "period_end": f"{year}-12-31",
                }
            ],
            "kpis": [{"name": "服务满意度", "target": "≥ 90%"}],
        }
        # Procurement learns that a provider is verified from the registry's event; on a fresh start it may
        # not have it yet.
        for _ in range(50):
            response = self.client.post(f"/api/v1/calls/{call['id']}/applications", json=body, headers=self.login(user))
            if response.status_code == 201:
                return
            if response.status_code != 422 or response.json().get("code") != "provider_not_verified":
                break
            time.sleep(0.2)
        raise RuntimeError(f"applying to {call['title']} as {user}: {response.status_code} {response.text}")

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
        contract = loader.contract(providers[0], offerings[0][0], ORGANIZATIONS[0]["username"])
        residents = loader.residents()
        history = loader.history(providers)
        applicants = [(p, spec["username"]) for p, spec in zip(providers, ORGANIZATIONS, strict=True)]
        call, applications = loader.open_call(
            loader.fund(date.today().year), [a for a in applicants if a[0]["kind"] != "commercial"]
        )
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
        "procurement": {
            "historical_projects": history["projects"],
            "historical_amount_fen": history["amount_fen"],
            "open_calls": 1 if call["status"] == "published" else 0,
            "applications": applications,
        },
    }
