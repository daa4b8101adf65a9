"""Fangshan demo data, loaded through the gateway's public API exactly as officials, providers and operators
would enter it. Loading again creates nothing: what is already there is found and left as it is (even when it has
changed since), and a step the platform now refuses is skipped and said (``DemoLoader``).

This year's purchases of the social-affairs office (区社会办), from its fund: the meal table of the 时代家和 center by
direct award (直接委托: proposed by ``official`` with its legal rationale, approved by ``official2``, signed by both
parties), and the “云呵护” safety class by a call for proposals (reviewed by two experts, approved, announced). The
contract from the call is signed only once its public notice has run, a working day at least: the first load leaves
it a draft and says so, and a load on a later day (``make run`` again) signs it."""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
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
    # The second official of the four eyes: approves the direct awards the first one proposes.
    {"username": "official2", "password": DEMO_PASSWORD, "roles": ["official"], "name": "区社会办 李处长"},
    {"username": "operator", "password": DEMO_PASSWORD, "roles": ["operator"], "name": "话务员 小陈"},
    # The experts who review the applications to the district's calls, and the third-party evaluator of contracts.
    {"username": "reviewer", "password": DEMO_PASSWORD, "roles": ["reviewer"], "name": "评审专家 王教授"},
    {"username": "reviewer2", "password": DEMO_PASSWORD, "roles": ["reviewer"], "name": "评审专家 赵老师"},
    {"username": "evaluator", "password": DEMO_PASSWORD, "roles": ["evaluator"], "name": "第三方评估 孙老师"},
    # The district's auditor (区审计局): reads every procurement record and the audit trail, changes nothing.
    {"username": "auditor", "password": DEMO_PASSWORD, "roles": ["auditor"], "name": "区审计局 周审计师"},
    # An official of 拱辰街道 (street-scoped): sees only the street's needs, calls and contracts (the “云呵护” call and
    # its contract, the parents' need, the street's historical projects and dashboard), reads the district's funds,
    # and may not open a fund or lift a sanction.
    {
        "username": "official-gongchen",
        "password": DEMO_PASSWORD,
        "roles": ["official"],
        "name": "拱辰街道 社区建设办 赵主任",
        "street_code": "gongchen",
    },
]
REVIEWERS = ("reviewer", "reviewer2")


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


# ------------------------------------------------------------------ what the district buys this year

# The district's social-affairs office (区社会办, the 社会建设工作办公室 that leads Fangshan's purchase of community
# services) owns this year's fund and pays from it.
FUND_OWNER = {"owner_id": "fangshan-shehuiban", "owner_name": "北京市房山区社会建设工作办公室"}
FUND_BUDGET_FEN = 900_000_000
CRITERIA = [
    {"code": "feasibility", "name": "项目可行性", "weight": 40},
    {"code": "capacity", "name": "机构能力", "weight": 35},
    {"code": "budget", "name": "预算合理性", "weight": 25},
]

# Who offers what the district buys: (the provider's admin, the offering's name).
MEAL_TABLE = (ORGANIZATIONS[0]["username"], ORGANIZATIONS[0]["offerings"][0]["name_zh"])  # 小康之家, 时代家和老年餐桌
CLOUD_CARE = (ORGANIZATIONS[1]["username"], ORGANIZATIONS[1]["offerings"][0]["name_zh"])  # 阳光, “云呵护”
# A call's directions, by the first part of an offering's category code.
DIRECTION_OF_CATEGORY = {
    "elderly": "elderly_care",
    "children": "children",
    "counseling": "psychological_counseling",
    "green": "green_living",
}

# A direct award (直接委托) pays for the meal table of the 时代家和 center, which the office commissioned 小康之家 to
# run: free for residents aged 80 and over or on a low income, ¥15 a meal to the provider, 2,000 meals.
MEAL_TABLE_AMOUNT_FEN = 3_000_000
MEAL_TABLE_FUNDING = {
    "unit_price_fen": 1500,
    "resident_price_fen": 0,
    "quota": 2000,
    "eligibility_tags": ["age_80_plus", "low_income"],
}
DIRECT_AWARD_RATIONALE = (
    "单一来源：时代家和社区服务中心由区社会办委托小康之家全面运营，老年餐桌设在中心一层餐厅，"
    "只能由其提供（《中华人民共和国政府采购法》第三十一条第一项）。"
)
DIRECT_AWARD_APPROVAL = "中心运营方唯一，符合单一来源条件；金额在专项资金预算之内。"

# A call for proposals (competitive, OCDS ``open``) buys the “云呵护” safety class at the CSD center for the children
# of 加州水郡 and the neighbouring communities, answering what their parents asked the district for. The call takes
# applications for a few seconds only (the loader cannot wait a month); two experts review, the office approves and
# publishes the notice. The contract is signed once the notice has run (the platform's shortest, one working day,
# here): a load on a later day signs it.
CLOUD_CARE_NEED = {
    "category_code": "children.safety",
    "street_code": "gongchen",
    "community_code": "gongchen.jiazhou_shuijun",
    "target_group": "children",
    "summary": "加州水郡社区家长反映：周末孩子缺少安全教育活动，希望就近开设青少年人身安全保护课堂。",
    "count": 23,
}
CALL_OPEN_SECONDS = 15.0
NOTICE_WORKING_DAYS = 1
CLOUD_CARE_AMOUNT_FEN = 6_000_000
CLOUD_CARE_FUNDING = {"unit_price_fen": 8000, "resident_price_fen": 0, "quota": 750, "eligibility_tags": []}
REVIEW_SHEETS: dict[str, tuple[dict[str, int], str]] = {
    "reviewer": (
        {"feasibility": 88, "capacity": 85, "budget": 82},
        "课程贴合青少年安全需求，与团区委、教委、妇联的合作基础扎实。",
    ),
    "reviewer2": (
        {"feasibility": 90, "capacity": 80, "budget": 86},
        "服务对象明确，单价合理；建议增加家长参与环节。",
    ),
}
# Procurement learns that a provider is verified, and its published offerings, from the registry's events: on a
# fresh stack it answers these for a moment.
# Answers meaning a service has not yet learnt something from another's events (a moment after it happened):
# procurement a provider or its offerings, booking the gazetteer's communities (announced at the registry's start).
NOT_KNOWN_YET = {"provider_not_verified", "offering_not_own", "unknown_community"}
KNOWN_WITHIN = 60.0  # seconds


RETRY_FOR = 60.0  # seconds a request is retried while the platform answers that it is briefly unavailable
IDEMPOTENCY_BUSY = {"idempotency_in_progress", "idempotency_retry"}


def _problem_code(response: httpx.Response) -> str | None:
    try:
        return str(response.json().get("code"))
    except (ValueError, AttributeError):
        return None


def _with_retries(request: Callable[[], httpx.Response]) -> httpx.Response:
    deadline = time.monotonic() + RETRY_FOR
    pause = 0.2
    while True:
        try:
            response = request()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        else:
            transient = response.status_code in (502, 503, 504) or (
                response.status_code == 409 and _problem_code(response) in IDEMPOTENCY_BUSY
            )
            if not transient or time.monotonic() > deadline:
                return response
            with contextlib.suppress(ValueError):
                pause = min(5.0, float(response.headers.get("retry-after", pause)))
        time.sleep(pause)
        pause = min(2.0, pause * 2)


class DemoLoader:
    """Loads the demo through the API. What is already there (found by USCC, name, title or phone) is left as it
    is, whatever has happened to it since; a step the platform refuses now (409 or 422: an offering whose category
    has come to require a qualification, a call past its deadline, a contract drafted bare before procurement
    methods, a contract whose notice is still running) is skipped and said, never fatal. Only the demo's own
    procurement is taken on where it stopped: an award approved, a contract signed once the platform allows it."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}
        self.created: Counter[str] = Counter()
        self.existing: Counter[str] = Counter()
        self.skipped: list[str] = []

    def login(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            response = _with_retries(
                lambda: self.client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
            )
            response.raise_for_status()
            self.tokens[username] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def send(self, method: str, path: str, user: str, **kw: Any) -> httpx.Response:
        """The request as ``user``, sent again while the platform answers that it is briefly unavailable (a
        service still starting or restarting, a busy database), for up to ``RETRY_FOR`` seconds. A POST carries
        an ``Idempotency-Key``, the same on every try, so a write that did happen is not made twice."""
        headers = self.login(user)
        if method == "POST":
            headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}
        return _with_retries(lambda: self.client.request(method, path, headers=headers, **kw))

    def call(self, method: str, path: str, user: str, *, ok: tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        response = self.send(method, path, user, **kw)
        if response.status_code not in ok:
            raise RuntimeError(f"{method} {path} as {user}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def send_when_known(self, method: str, path: str, user: str, **kw: Any) -> httpx.Response:
        """``send``, again while procurement answers that it does not know the provider or its offering yet, or
        booking a community (they learn them from the registry's events, a moment after they happen), for up to
        ``KNOWN_WITHIN`` seconds."""
        deadline = time.monotonic() + KNOWN_WITHIN
        while True:
            response = self.send(method, path, user, **kw)
            if not (response.status_code == 422 and _problem_code(response) in NOT_KNOWN_YET):
                return response
            if time.monotonic() > deadline:
                return response
            time.sleep(0.5)

    def attempt(self, what: str, method: str, path: str, user: str, *, known: bool = False, **kw: Any) -> Any:
        """A write the platform may now refuse because the data changed since the demo was first loaded: its
        answer, or None when refused (409, 422), which is recorded as skipped. ``known``: a write procurement
        refuses until it knows the provider and its offerings, or booking a community (``send_when_known``)."""
        response = (self.send_when_known if known else self.send)(method, path, user, **kw)
        if response.status_code in (200, 201):
            return response.json() if response.content else None
        if response.status_code in (409, 422):
            self.skip(what, response)
            return None
        raise RuntimeError(f"{method} {path} as {user}: {response.status_code} {response.text}")

    def skip(self, what: str, response: httpx.Response | None = None, reason: str = "") -> None:
        if response is not None:
            try:
                problem = response.json()
                reason = (
                    f"{response.status_code} {problem.get('code')}: {problem.get('detail') or problem.get('title')}"
                )
            except ValueError:
                reason = f"{response.status_code} {response.text[:200]}"
        self.skipped.append(f"{what} ({reason})")

    def items(self, path: str, user: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, page after page."""
        offset = 0
        while True:
            page = self.call("GET", path, user, params={**params, "limit": 200, "offset": offset})
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    def find(self, path: str, user: str, match: Callable[[dict[str, Any]], bool], **params: Any) -> Any:
        return next((item for item in self.items(path, user, **params) if match(item)), None)

    def organization(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        org = spec["org"]
        existing = self.find("/api/v1/organizations", "official", lambda o: o["uscc"] == org["uscc"])
        if existing is None:
            existing = self.attempt(
                f"registering {org['name_zh']}", "POST", "/api/v1/organizations", "official", json=org
            )
            if existing is None:
                return None
            self.created["organizations"] += 1
            existing = (
                self.attempt(
                    f"verifying {org['name_zh']}",
                    "POST",
                    f"/api/v1/organizations/{existing['id']}/verify",
                    "official",
                    json={},
                )
                or existing
            )
        else:
            self.existing["organizations"] += 1
        account = {
            "username": spec["username"],
            "password": DEMO_PASSWORD,
            "roles": ["provider_admin"],
            "name": org["name_zh"],
            "provider_id": existing["id"],
        }
        response = self.send("POST", "/api/v1/accounts", "admin", json=account)
        if response.status_code == 201:
            self.created["accounts"] += 1
        elif response.status_code == 409:
            self.existing["accounts"] += 1
        else:
            raise RuntimeError(f"creating the account {spec['username']}: {response.status_code} {response.text}")
        return existing

    def offerings(self, provider: dict[str, Any], spec: dict[str, Any]) -> list[dict[str, Any]]:
        user = spec["username"]
        listed = {o["name_zh"]: o for o in self.items("/api/v1/offerings", user, provider_id=provider["id"])}
        result = []
        for offering in spec["offerings"]:
            name = offering["name_zh"]
            existing = listed.get(name)
            if existing is not None:
                self.existing["offerings"] += 1
                if existing["status"] != "published":
                    self.skip(f"offering {name}", reason=f"{existing['status']}: left as it is")
                result.append(existing)
                continue
            created = self.attempt(
                f"creating offering {name}",
                "POST",
                "/api/v1/offerings",
                user,
                json={**offering, "provider_id": provider["id"]},
            )
            if created is None:
                continue
            self.created["offerings"] += 1
            published = self.attempt(
                f"publishing offering {name}", "POST", f"/api/v1/offerings/{created['id']}/publish", user, json={}
            )
            result.append(published or created)
        return result

    def history(self, providers: list[dict[str, Any]]) -> dict[str, int]:
        """Import the historical projects; importing them again records nothing."""
        projects = historical_projects(providers)
        outcome = self.attempt(
            "the historical projects",
            "POST",
            "/api/v1/funds/historical-projects",
            "official",
            json={"projects": projects},
        )
        if outcome:
            self.created["historical projects"] += outcome.get("recorded", 0)
            self.existing["historical projects"] += outcome.get("unchanged", 0) + outcome.get("corrected", 0)
        return {"projects": len(projects), "amount_fen": sum(p["amount_fen"] for p in projects)}

    # ---------------------------------------------------------------- what the district buys

    def fund(self, year: int) -> dict[str, Any] | None:
        """This year's fund of the social-affairs office (``FUND_OWNER``); this year's awards draw on it."""
        name = f"{year}年社区服务专项资金"
        existing = self.find("/api/v1/funds", "official", lambda f: f["name"] == name and f["year"] == year)
        if existing is not None:
            self.existing["funds"] += 1
            return dict(existing)
        created = self.attempt(
            f"fund {name}",
            "POST",
            "/api/v1/funds",
            "official",
            json={"name": name, "year": year, "budget_fen": FUND_BUDGET_FEN, **FUND_OWNER},
        )
        self.created["funds"] += 1 if created else 0
        return created

    def direct_award(
        self,
        fund: dict[str, Any] | None,
        provider: dict[str, Any] | None,
        meal_table: dict[str, Any] | None,
        provider_admin: str,
    ) -> dict[str, Any] | None:
        """The meal table's direct award (直接委托) from ``fund``: proposed by the official with its legal rationale,
        approved by the second official (four eyes), then signed by both parties. A contract of its title from
        before procurement methods (drafted bare, without a fund) is left as it is, and said."""
        title = f"{fund['year'] if fund else date.today().year}年度时代家和老年餐桌助餐服务项目"
        contract = self.find("/api/v1/contracts", "official", lambda c: c["title"] == title)
        if contract is not None:
            self.existing["contracts"] += 1
            if contract.get("fund_id") is None:
                self.skip(
                    f"the direct award {title}",
                    reason="a contract of this title drafted bare before procurement methods, without a fund, "
                    "is there: left as it is",
                )
                return dict(contract)
        else:
            if fund is None or provider is None or meal_table is None:
                self.skip(f"the direct award {title}", reason="its fund, provider or offering is missing")
                return None
            start = date.today()
            contract = self.attempt(
                f"the direct award {title}",
                "POST",
                "/api/v1/contracts",
                "official",
                known=True,
                json={
                    "title": title,
                    "provider_id": provider["id"],
                    "amount_fen": MEAL_TABLE_AMOUNT_FEN,
                    "start_date": start.isoformat(),
                    "end_date": (start + timedelta(days=364)).isoformat(),
                    "funded_offerings": [{"offering_id": meal_table["id"], **MEAL_TABLE_FUNDING}],
                    "fund_id": fund["id"],
                    "rationale": DIRECT_AWARD_RATIONALE,
                    # The targets the official states for the award (绩效目标): what evaluation measures.
                    "targets": [
                        {
                            "name": "助餐服务人次",
                            "target": f"{MEAL_TABLE_FUNDING['quota']}人次",
                            "offering_id": meal_table["id"],
                            "quantity": MEAL_TABLE_FUNDING["quota"],
                        },
                        {"name": "服务满意度", "target": "≥ 90%"},
                    ],
                },
            )
            if contract is None:
                return None
            self.created["contracts"] += 1
        if contract["award"]["status"] == "proposed":
            approved = self.attempt(
                f"approving the direct award {title}",
                "POST",
                f"/api/v1/contracts/{contract['id']}/direct-award/approve",
                "official2",
                known=True,
                json={"reason": DIRECT_AWARD_APPROVAL},
            )
            if approved is None:
                return dict(contract)
            self.created["award approvals"] += 1
            contract = approved
        return self.sign(contract, provider_admin)

    def assign_evaluator(self, contract: dict[str, Any] | None) -> None:
        """The third-party evaluator (``evaluator``) assigned to a signed contract by the official, having
        declared no conflict of interest with its provider: only an assigned evaluator scores a contract."""
        if contract is None or contract["status"] != "active":
            return
        base = f"/api/v1/contracts/{contract['id']}/evaluators"
        subject = self.call("GET", "/api/v1/auth/me", "evaluator")["subject"]
        found = next((e for e in self.items(base, "official") if e["evaluator_subject"] == subject), None)
        if found is not None:
            self.existing["evaluator assignments"] += 1
        else:
            name = next(str(a["name"]) for a in DEMO_ACCOUNTS if a["username"] == "evaluator")
            found = self.attempt(
                f"assigning {name} to {contract['title']}",
                "POST",
                base,
                "official",
                json={"evaluator_subject": subject, "evaluator_name": name, "linked_provider_ids": []},
            )
            if found is None:
                return
            self.created["evaluator assignments"] += 1
        if found["conflict"] is None:
            declared = self.send("POST", f"{base}/declaration", "evaluator", json={"conflict": False})
            if declared.status_code not in (201, 409):
                raise RuntimeError(f"the evaluator's declaration: {declared.status_code} {declared.text}")

    def sign(self, contract: dict[str, Any], provider_admin: str) -> dict[str, Any]:
        """The signatures (双方签署) an approved draft still lacks: the official's for the district, then
        ``provider_admin``'s for the provider. A contract from a call is signed once its public notice has ended:
        until then it stays a draft, which is said."""
        title = contract["title"]
        if contract["status"] != "draft" or contract["award"]["status"] != "approved":
            return contract
        path = f"/api/v1/contracts/{contract['id']}/sign"
        for party, user in (("purchaser", "official"), ("provider", provider_admin)):
            if contract[f"{party}_signature"] is not None:
                continue
            response = self.send_when_known("POST", path, user, json={})
            if response.status_code == 200:
                contract = response.json()
                self.created["signatures"] += 1
                continue
            if response.status_code == 409 and _problem_code(response) == "notice_period_running":
                until = response.json().get("objection_deadline")
                self.skip(
                    f"signing {title}",
                    reason=f"its public notice takes objections until {until}: a load after that day signs it",
                )
            elif response.status_code in (409, 422):
                self.skip(f"signing {title} for the {'district' if party == 'purchaser' else 'provider'}", response)
            else:
                raise RuntimeError(f"signing {title} as {user}: {response.status_code} {response.text}")
            break
        return dict(contract)

    def open_call(
        self,
        fund: dict[str, Any] | None,
        applicants: list[tuple[dict[str, Any], str, list[dict[str, Any]]]],
    ) -> tuple[dict[str, Any] | None, int]:
        """Next year's call for proposals, open for a month, and the applications of the demo providers that offer
        something in its directions, each promising its own published offering."""
        if fund is None:
            return None, 0
        title = f"{fund['year'] + 1}年度社区养老与儿童关爱服务项目征集"
        call = self.find("/api/v1/calls", "official", lambda c: c["title"] == title)
        if call is not None:
            self.existing["calls"] += 1
        else:
            deadline = datetime.combine(
                date.today() + timedelta(days=30), datetime.min.time(), ZoneInfo("Asia/Shanghai")
            )
            call = self.attempt(
                f"call {title}",
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
                    "criteria": CRITERIA,
                    "deadline": (deadline + timedelta(hours=18)).isoformat(),
                },
            )
            if call is None:
                return None, 0
            self.created["calls"] += 1
            if call["status"] == "draft":
                call = (
                    self.attempt(
                        f"publishing call {title}", "POST", f"/api/v1/calls/{call['id']}/publish", "official", json={}
                    )
                    or call
                )
        applied = 0
        open_now = call["status"] == "published" and datetime.fromisoformat(call["deadline"]) > datetime.now(UTC)
        year = datetime.fromisoformat(call["deadline"]).year + 1
        for provider, user, offerings in applicants:
            mine = self.call("GET", f"/api/v1/calls/{call['id']}/applications", user, params={"limit": 200})
            if mine["items"]:
                self.existing["applications"] += 1
                applied += 1
                continue
            offering = promised_offering(offerings, call["directions"])
            if not open_now or offering is None:
                continue
            body = {
                "title": f"{provider['name_zh']}{year}年度{offering['name_zh']}服务项目",
                "proposal": "在拱辰街道、长阳镇的社区开展服务，每月公开服务记录，接受居民评价。",
                "budget_request_fen": 6_000_000,
                "deliverables": [
                    {
                        "offering_id": offering["id"],
                        "quantity": 600,
                        "target_group": (offering.get("target_groups") or ["all"])[0],
                        "period_start": f"{year}-01-01",
                        "period_end": f"{year}-12-31",
                    }
                ],
                "kpis": [{"name": "服务满意度", "target": "≥ 90%"}],
            }
            if self.apply(call, provider, user, body) is not None:
                applied += 1
        return call, applied

    def apply(
        self, call: dict[str, Any], provider: dict[str, Any], user: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        """``provider``'s application to ``call``, once procurement knows the provider and the offerings it
        promises; None when refused (said)."""
        response = self.send_when_known("POST", f"/api/v1/calls/{call['id']}/applications", user, json=body)
        if response.status_code == 201:
            self.created["applications"] += 1
            return dict(response.json())
        if response.status_code in (409, 422):
            self.skip(f"{provider['name_zh']}'s application to {call['title']}", response)
            return None
        raise RuntimeError(f"applying to {call['title']} as {user}: {response.status_code} {response.text}")

    def need(self) -> dict[str, Any] | None:
        """What the parents of 加州水郡 asked the district for, in the needs pool (an official records it)."""
        summary = CLOUD_CARE_NEED["summary"]
        category = CLOUD_CARE_NEED["category_code"]
        existing = self.find("/api/v1/need-pool", "official", lambda n: n["summary"] == summary, category_code=category)
        if existing is not None:
            self.existing["needs"] += 1
            return dict(existing)
        created = self.attempt(
            "the need of 加州水郡's parents", "POST", "/api/v1/need-pool", "official", json=CLOUD_CARE_NEED
        )
        self.created["needs"] += 1 if created else 0
        return created

    def cloud_care_call(
        self, fund: dict[str, Any] | None, provider: dict[str, Any] | None, user: str, offering: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """This year's call for the “云呵护” class (``CLOUD_CARE_NEED``), taking applications for
        ``CALL_OPEN_SECONDS``, and ``provider``'s application promising ``offering``; ``finish_cloud_care`` takes
        it on once its deadline has passed."""
        title = f"{fund['year'] if fund else date.today().year}年度“云呵护”青少年安全守护服务项目征集"
        call = self.find("/api/v1/calls", "official", lambda c: c["title"] == title)
        if call is not None:
            self.existing["calls"] += 1
            return dict(call)
        if fund is None or provider is None or offering is None:
            self.skip(f"call {title}", reason="its fund, applicant or offering is missing")
            return None
        need = self.need()
        deadline = datetime.now(UTC) + timedelta(seconds=CALL_OPEN_SECONDS)
        call = self.attempt(
            f"call {title}",
            "POST",
            "/api/v1/calls",
            "official",
            json={
                "title": title,
                "description": "面向拱辰街道加州水郡等社区6至14岁的儿童，开展人身安全保护课堂："
                "防拐骗、防溺水、交通安全与网络安全。",
                "directions": ["children"],
                "budget_cap_fen": 10_000_000,
                "fund_id": fund["id"],
                "street_code": "gongchen",  # 拱辰街道's: its official follows the call and its contract
                "need_ids": [need["id"]] if need else [],
                "eligible_kinds": ["public_welfare", "startup"],
                "criteria": CRITERIA,
                "deadline": deadline.isoformat(),
            },
        )
        if call is None:
            return None
        self.created["calls"] += 1
        published = self.attempt(
            f"publishing call {title}", "POST", f"/api/v1/calls/{call['id']}/publish", "official", json={}
        )
        if published is None:
            return dict(call)
        start = date.today() + timedelta(days=14)
        self.apply(
            published,
            provider,
            user,
            {
                "title": f"{fund['year']}年度“云呵护”青少年人身安全保护项目",
                "proposal": "在CSD社区综合服务中心每周六上午开设“云呵护”青少年安全课堂，与团区委、教委、妇联合作，"
                "服务加州水郡、时代家和等社区的儿童；每月公开服务记录，接受家长评价。",
                "budget_request_fen": CLOUD_CARE_AMOUNT_FEN,
                "deliverables": [
                    {
                        "offering_id": offering["id"],
                        "quantity": CLOUD_CARE_FUNDING["quota"],
                        "target_group": "children",
                        "period_start": start.isoformat(),
                        "period_end": (start + timedelta(days=364)).isoformat(),
                    }
                ],
                "kpis": [{"name": "服务人次", "target": "750人次"}, {"name": "家长满意度", "target": "≥ 90%"}],
            },
        )
        return dict(published)

    def finish_cloud_care(
        self, call: dict[str, Any] | None, provider: dict[str, Any] | None, provider_admin: str
    ) -> dict[str, Any] | None:
        """The “云呵护” call taken as far as the platform allows today: closed at its deadline, reviewed by the two
        experts, ``provider``'s application approved (立项, committing its amount from the call's fund), the public
        notice published, the contract drafted, and signed by both parties once the notice has run (a load on a
        later day). Returns the contract once drafted."""
        if call is None or provider is None:
            return None
        base = f"/api/v1/calls/{call['id']}"
        call = self.call("GET", base, "official")
        title = call["title"]
        application = next(
            (
                a
                for a in self.items(f"{base}/applications", "official")
                if a["provider_id"] == provider["id"] and a["status"] != "withdrawn"
            ),
            None,
        )
        if application is None:
            self.skip(f"call {title}", reason=f"no application of {provider['name_zh']} to it: left as it is")
            return None
        if call["status"] == "published":
            call = self.close_at_deadline(call)
        if call["status"] == "closed":
            self.review(call, application)
            reviewed = self.attempt(
                f"closing the review of {title}", "POST", f"{base}/close-review", "official", json={}
            )
            call = reviewed or call
        if call["status"] != "reviewed":
            return None
        application = self.call("GET", f"{base}/applications/{application['id']}", "official")
        if application["status"] == "submitted":
            approved = self.attempt(
                f"approving {application['title']}",
                "POST",
                f"{base}/applications/{application['id']}/approve",
                "official",
                known=True,
                json={},
            )
            if approved is None:
                return None
            self.created["approvals"] += 1
            application = approved
        elif application["status"] == "approved":
            self.existing["approvals"] += 1
        else:
            self.skip(f"approving {application['title']}", reason=f"{application['status']}: left as it is")
            return None
        notice = self.notice(call)
        if notice is None:
            return None
        contract = self.find("/api/v1/contracts", "official", lambda c: c.get("application_id") == application["id"])
        if contract is not None:
            self.existing["contracts"] += 1
        else:
            promised = [d for d in application["deliverables"] if d.get("offering_id")]
            # The service starts once the notice has run, not before the application's own period.
            start = max(
                date.fromisoformat(notice["objection_deadline"]) + timedelta(days=1),
                min(date.fromisoformat(d["period_start"]) for d in promised),
            )
            contract = self.attempt(
                f"the contract of {application['title']}",
                "POST",
                f"{base}/applications/{application['id']}/contract",
                "official",
                known=True,
                json={
                    "start_date": start.isoformat(),
                    "end_date": (start + timedelta(days=364)).isoformat(),
                    "funded_offerings": [{**CLOUD_CARE_FUNDING, "offering_id": d["offering_id"]} for d in promised],
                },
            )
            if contract is None:
                return None
            self.created["contracts"] += 1
        return self.sign(contract, provider_admin)

    def close_at_deadline(self, call: dict[str, Any]) -> dict[str, Any]:
        """The call closed once its deadline has passed, waited for when it is only seconds away."""
        deadline = datetime.fromisoformat(call["deadline"])
        wait = (deadline - datetime.now(UTC)).total_seconds()
        if wait > 2 * CALL_OPEN_SECONDS:
            self.skip(f"closing call {call['title']}", reason=f"it takes applications until {deadline.isoformat()}")
            return call
        time.sleep(max(0.0, wait))
        until = time.monotonic() + 10.0
        while True:
            response = self.send("POST", f"/api/v1/calls/{call['id']}/close", "official", json={})
            if response.status_code == 200:
                return dict(response.json())
            if _problem_code(response) == "deadline_not_reached" and time.monotonic() < until:
                time.sleep(0.5)
                continue
            if response.status_code in (409, 422):
                self.skip(f"closing call {call['title']}", response)
                return call
            raise RuntimeError(f"closing {call['title']}: {response.status_code} {response.text}")

    def review(self, call: dict[str, Any], application: dict[str, Any]) -> None:
        """The experts (``REVIEWERS``) assigned to the call, each declaring no conflict of interest with the
        applicant and scoring its application on the call's criteria."""
        base = f"/api/v1/calls/{call['id']}"
        assigned = {r["reviewer_subject"] for r in self.items(f"{base}/reviewers", "official")}
        names = {str(a["username"]): str(a["name"]) for a in DEMO_ACCOUNTS}
        for username in REVIEWERS:
            name = names[username]
            subject = self.call("GET", "/api/v1/auth/me", username)["subject"]
            if subject in assigned:
                self.existing["review assignments"] += 1
            elif self.attempt(
                f"assigning {name} to {call['title']}",
                "POST",
                f"{base}/reviewers",
                "official",
                json={"reviewer_subject": subject, "reviewer_name": name, "linked_provider_ids": []},
            ):
                self.created["review assignments"] += 1
            else:
                continue
            path = f"{base}/applications/{application['id']}"
            if self.send("GET", f"{path}/my-scores", username).status_code == 200:
                self.existing["score sheets"] += 1
                continue
            declared = self.send("POST", f"{path}/declaration", username, json={"conflict": False})
            if declared.status_code in (409, 422) and _problem_code(declared) != "already_declared":
                self.skip(f"{name}'s declaration on {application['title']}", declared)
                continue
            if declared.status_code not in (201, 409):
                raise RuntimeError(f"{name}'s declaration: {declared.status_code} {declared.text}")
            scores, comment = REVIEW_SHEETS[username]
            if self.attempt(
                f"{name}'s scores for {application['title']}",
                "PUT",
                f"{path}/my-scores",
                username,
                json={"scores": scores, "comment": comment},
            ):
                self.created["score sheets"] += 1

    def notice(self, call: dict[str, Any]) -> dict[str, Any] | None:
        """The call's public notice (公示) of its approved projects, taking objections ``NOTICE_WORKING_DAYS``."""
        notice = self.find("/api/v1/notices", "official", lambda n: n["call_id"] == call["id"])
        if notice is not None:
            self.existing["notices"] += 1
            return dict(notice)
        created = self.attempt(
            f"the notice of {call['title']}",
            "POST",
            f"/api/v1/calls/{call['id']}/notice",
            "official",
            json={"period_working_days": NOTICE_WORKING_DAYS},
        )
        self.created["notices"] += 1 if created else 0
        return created

    def residents(self) -> list[dict[str, Any]]:
        result = []
        for resident in RESIDENTS:
            found = self.call("GET", "/api/v1/residents", "operator", params={"phone": resident["phone"]})
            items = found["items"] if isinstance(found, dict) else found
            if items:
                self.existing["residents"] += 1
                result.append(items[0])
                continue
            # Booking refuses a community it has not heard of yet: right after a start it may still be learning the
            # gazetteer the registry announces, so the registration is sent again for a while.
            created = self.attempt(
                f"resident {resident['name']}", "POST", "/api/v1/residents", "operator", known=True, json=resident
            )
            if created is not None:
                self.created["residents"] += 1
                result.append(created)
        return result

    def report(self) -> list[str]:
        """What this load did, in lines: created, already there (left as it is), skipped."""

        def listing(counts: Counter[str]) -> str:
            return ", ".join(f"{kind} {n}" for kind, n in counts.items() if n)

        lines = [f"created {listing(self.created)}" if +self.created else "created nothing"]
        if +self.existing:
            lines.append(f"already there, left as it is: {listing(self.existing)}")
        lines += [f"skipped {what}" for what in self.skipped]
        return lines


def promised_offering(offerings: list[dict[str, Any]], directions: list[str]) -> dict[str, Any] | None:
    """The first of ``offerings`` published in one of a call's ``directions`` (by its category), if any."""
    return next(
        (
            o
            for o in offerings
            if o["status"] == "published" and DIRECTION_OF_CATEGORY.get(o["category_code"].split(".")[0]) in directions
        ),
        None,
    )


def load_demo_data(gateway_url: str, report: Callable[[str], None] | None = None) -> dict[str, object]:
    """Load the demo (see ``DemoLoader``); ``report`` is told what was created, found or skipped. The summary
    returned is the same for every load of the same data."""
    with httpx.Client(base_url=gateway_url, timeout=30.0) as client:
        loader = DemoLoader(client)
        providers, offerings, users = [], [], []
        for spec in ORGANIZATIONS:
            provider = loader.organization(spec)
            if provider is None:
                continue
            providers.append(provider)
            users.append(spec["username"])
            offerings.append(loader.offerings(provider, spec))
        listed = {user: (p, o) for p, user, o in zip(providers, users, offerings, strict=True)}

        def demo(user: str, offering_name: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
            provider, offered = listed.get(user, (None, []))
            return provider, next((o for o in offered if o["name_zh"] == offering_name), None)

        fund = loader.fund(date.today().year)
        # Next year's call first: the applications to it are also the moment procurement has learnt of the
        # providers and their offerings (from the registry's events), which this year's short call needs.
        applicants = [
            (p, u, o) for p, u, o in zip(providers, users, offerings, strict=True) if p["kind"] != "commercial"
        ]
        call, applications = loader.open_call(fund, applicants)
        cloud_care_provider, cloud_care = demo(CLOUD_CARE[0], CLOUD_CARE[1])
        cloud_care_call = loader.cloud_care_call(fund, cloud_care_provider, CLOUD_CARE[0], cloud_care)
        meal_table_provider, meal_table = demo(MEAL_TABLE[0], MEAL_TABLE[1])
        direct = loader.direct_award(fund, meal_table_provider, meal_table, MEAL_TABLE[0])
        residents = loader.residents()
        history = loader.history(providers)
        competitive = loader.finish_cloud_care(cloud_care_call, cloud_care_provider, CLOUD_CARE[0])
        for contract in (direct, competitive):
            loader.assign_evaluator(contract)
    if report is not None:
        for line in loader.report():
            report(line)
    accounts = [
        f"{a['username']} / {DEMO_PASSWORD}  ({', '.join(a['roles'])}"  # type: ignore[arg-type]
        + (f" of the street {a['street_code']}" if a.get("street_code") else "")
        + f", {a['name']})"
        for a in DEMO_ACCOUNTS
    ]
    accounts += [f"{s['username']} / {DEMO_PASSWORD}  (provider_admin, {s['org']['name_zh']})" for s in ORGANIZATIONS]
    return {
        "accounts": accounts,
        "counts": {
            "providers": len(providers),
            "offerings": sum(len(o) for o in offerings),
            "contracts": len([c for c in (direct, competitive) if c]),
            "residents": len(residents),
        },
        "procurement": {
            "historical_projects": history["projects"],
            "historical_amount_fen": history["amount_fen"],
            "open_calls": 1 if call and call["status"] == "published" else 0,
            "applications": applications,
            "direct_awards": 1 if direct and direct.get("fund_id") else 0,
            "competitive_contracts": 1 if competitive else 0,
        },
    }
