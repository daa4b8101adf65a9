"""Issue 3's check through the gateway, for what the slice and the journeys do not already walk: an organization
registered (a USCC with a wrong check digit refused, naming the field), verified, qualified; an offering published
with its schedule; the 15-minute circle searched from a community and from a point; the coverage gaps read
before and after; a webhook of the provider's own system receiving a signed booking event that carries no
personal data, while another provider's webhook receives nothing; and the HSDS 3.0 open data of it all valid
against the official compiled schemas."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from service_kit.testing import eventually_blocking

from .conftest import ROOT, login, new_uscc, registered_by_operator, slots_once_known

pytestmark = pytest.mark.stack

HSDS = ROOT / "standards" / "hsds-3.0"
# Open Referral's OpenAPI template, which the registry publishes filled in.
HSDS_OPENAPI = ROOT / "provider-registry" / "registry" / "opendata" / "hsds-openapi-3.0.json"
PASSWORD = "registry-journey-2026"
# 长阳半岛社区 (changyang.bandao) is at 39.7700, 116.2150; the swap corner is a short walk from its centre.
BANDAO = {"lat": 39.7703, "lng": 116.2146}
YANCUN = {"lat": 39.7300, "lng": 116.0960}  # 北上社区, some ten kilometres west
CATEGORY = "green.swap"


@cache
def hsds_validator(name: str) -> Draft202012Validator:
    path = HSDS / "compiled" / f"{name}.json"
    return Draft202012Validator(json.loads(path.read_text()), format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def hsds_page_validator() -> Draft202012Validator:
    page = json.loads(HSDS_OPENAPI.read_text())["components"]["schemas"]["Page"]
    required = ["total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty"]
    return Draft202012Validator({**page, "required": required, "additionalProperties": True})


def assert_hsds_valid(name: str, document: dict[str, Any]) -> None:
    errors = sorted(hsds_validator(name).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:20])


class Receiver:
    """A provider's system on 127.0.0.1: records every POST (path, headers, raw body) and answers 204."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        # Port 0: the system picks a free port as it binds, so none is chosen first and taken by someone else.
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for p, headers, body in list(self.received) if p == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()
        found.thread.join(timeout=5)


def provider_admin(gateway: httpx.Client, provider_id: str, name: str) -> dict[str, str]:
    username = f"registry-{uuid.uuid4().hex[:10]}"
    created = gateway.post(
        "/api/v1/accounts",
        headers=login(gateway, "admin"),
        json={
            "username": username,
            "password": PASSWORD,
            "roles": ["provider_admin"],
            "name": name,
            "provider_id": provider_id,
        },
    )
    assert created.status_code == 201, created.text
    return login(gateway, username, PASSWORD)


def registered(gateway: httpx.Client, name: str) -> str:
    official = login(gateway, "official")
    org = gateway.post(
        "/api/v1/organizations", headers=official, json={"name_zh": name, "kind": "public_welfare", "uscc": new_uscc()}
    )
    assert org.status_code == 201, org.text
    verified = gateway.post(f"/api/v1/organizations/{org.json()['id']}/verify", headers=official, json={})
    assert verified.status_code == 200, verified.text
    return str(org.json()["id"])


def gap_pairs(gateway: httpx.Client, headers: dict[str, str]) -> set[tuple[str, str]]:
    response = gateway.get(
        "/api/v1/circle/gaps", headers=headers, params={"street_code": "changyang", "level": "leaf", "limit": 200}
    )
    assert response.status_code == 200, response.text
    return {(r["community_code"], r["category_code"]) for r in response.json()["items"]}


def test_registry_journey(gateway: httpx.Client, receiver: Receiver) -> None:
    official, operator = login(gateway, "official"), login(gateway, "operator")
    suffix = uuid.uuid4().hex[:6]
    name = f"长阳半岛绿色生活服务社{suffix}"

    # ---- The app's category tree, held by its ETag: through the gateway a conditional request is 304, no body,
    # and the connection it came on serves the next request.
    tree = gateway.get("/api/v1/categories")
    assert tree.status_code == 200, tree.text
    for _ in range(2):
        held = gateway.get("/api/v1/categories", headers={"If-None-Match": tree.headers["etag"]})
        assert (held.status_code, held.content, held.headers["etag"]) == (304, b"", tree.headers["etag"])
    assert gateway.get("/api/v1/categories").json() == tree.json()

    # ---- The gateway answers the public gazetteer from its own memory (``Age``), and once an official renames
    # a community, only the new name, ever (gateway/readmostly.py).
    code = gateway.get("/api/v1/communities", params={"limit": 1}).json()["items"][0]["code"]
    community = f"/api/v1/communities/{code}"

    def from_memory() -> httpx.Response | None:
        seen = gateway.get(community)
        assert seen.status_code == 200, seen.text
        return seen if "age" in seen.headers else None

    eventually_blocking(from_memory)
    renamed = gateway.patch(community, headers=official, json={"name_en": f"Journey {suffix}"})
    assert renamed.status_code == 200, renamed.text
    eventually_blocking(lambda: gateway.get(community).json()["name_en"] == f"Journey {suffix}" or None)
    for _ in range(10):
        assert gateway.get(community).json()["name_en"] == f"Journey {suffix}"
    assert eventually_blocking(from_memory).json()["name_en"] == f"Journey {suffix}"

    # ---- Registration: a USCC whose check digit is wrong is refused, and the answer names the field.
    good = new_uscc()
    wrong = good[:-1] + ("1" if good[-1] != "1" else "2")
    refused = gateway.post(
        "/api/v1/organizations", headers=official, json={"name_zh": name, "kind": "public_welfare", "uscc": wrong}
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "uscc" in {e.get("field") for e in refused.json().get("errors", [])}, refused.text
    org = gateway.post(
        "/api/v1/organizations", headers=official, json={"name_zh": name, "kind": "public_welfare", "uscc": good}
    )
    assert org.status_code == 201, org.text
    provider_id = org.json()["id"]
    assert org.json()["status"] != "verified"

    # ---- The district verifies it; its admin adds a qualification.
    verified = gateway.post(f"/api/v1/organizations/{provider_id}/verify", headers=official, json={})
    assert (verified.status_code, verified.json()["status"]) == (200, "verified"), verified.text
    admin = provider_admin(gateway, provider_id, name)
    qualification = gateway.post(
        f"/api/v1/organizations/{provider_id}/qualifications",
        headers=admin,
        json={
            "kind": "social_organization",
            "name_zh": "社会组织登记证书",
            "issuer": "北京市房山区民政局",
            "number": f"FS-{suffix}",
            "valid_from": (date.today() - timedelta(days=30)).isoformat(),
            "valid_until": (date.today() + timedelta(days=700)).isoformat(),
        },
    )
    assert qualification.status_code == 201, qualification.text
    assert qualification.json()["status"] == "valid"
    listed = gateway.get(f"/api/v1/organizations/{provider_id}/qualifications", headers=official).json()
    assert [q["id"] for q in listed["items"]] == [qualification.json()["id"]]

    # Before the provider publishes, nothing of its category lies within 15 minutes of 长阳半岛.
    assert ("changyang.bandao", CATEGORY) in gap_pairs(gateway, official)

    # ---- An offering with its schedule: every day 09:00–17:00, closed on one day for a community event.
    closed_day = date.today() + timedelta(days=3)
    offering = gateway.post(
        "/api/v1/offerings",
        headers=admin,
        json={
            "provider_id": provider_id,
            "category_code": CATEGORY,
            "name_zh": "半岛二手置换角",
            "mode": "at_center",
            "price_fen": 0,
            "duration_minutes": 60,
            "capacity_per_slot": 20,
            "weekly_rules": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(7)],
            "exceptions": [{"date": closed_day.isoformat(), "kind": "closed", "reason": "社区活动"}],
            "target_groups": ["all"],
            **BANDAO,
        },
    )
    assert offering.status_code == 201, offering.text
    offering_id = offering.json()["id"]
    published = gateway.post(f"/api/v1/offerings/{offering_id}/publish", headers=admin, json={})
    assert (published.status_code, published.json()["status"]) == (200, "published"), published.text

    # ---- The 15-minute circle, from the community and from a point; from ten kilometres away it is not there.
    def found_from(params: dict[str, Any]) -> list[dict[str, Any]]:
        response = gateway.get("/api/v1/circle/offerings", params=params | {"category_code": CATEGORY, "limit": 100})
        assert response.status_code == 200, response.text
        return [i for i in response.json()["items"] if i["offering"]["id"] == offering_id]

    [from_community] = found_from({"community_code": "changyang.bandao"})
    assert from_community["walk_minutes"] <= 15
    assert from_community["provider_name"] == name
    [from_point] = found_from({"lat": 39.7710, "lng": 116.2155})
    assert from_point["distance_m"] < from_community["distance_m"] + 200
    assert found_from(YANCUN) == []

    # ---- The coverage gaps: 长阳半岛 now has the category within its circle.
    assert ("changyang.bandao", CATEGORY) not in gap_pairs(gateway, official)
    coverage = gateway.get(
        "/api/v1/circle/coverage",
        headers=official,
        params={"street_code": "changyang", "level": "leaf", "limit": 200},
    ).json()
    [row] = [
        r for r in coverage["items"] if (r["community_code"], r["category_code"]) == ("changyang.bandao", CATEGORY)
    ]
    assert row["within_circle"]
    assert row["nearest"]["offering_id"] == offering_id

    # ---- Webhooks: this provider's system and another provider's, both for booking.*, on 127.0.0.1.
    hook = gateway.post(
        f"/api/v1/organizations/{provider_id}/webhooks",
        headers=admin,
        json={"url": receiver.url("/ours"), "event_types": ["booking.*"], "description": "机构自有预约系统"},
    )
    assert hook.status_code == 201, hook.text
    secret = hook.json()["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in gateway.get(f"/api/v1/organizations/{provider_id}/webhooks", headers=admin).text
    other_id = registered(gateway, f"天兴家园便民服务站{suffix}")
    other_admin = provider_admin(gateway, other_id, "天兴家园便民服务站")
    other_hook = gateway.post(
        f"/api/v1/organizations/{other_id}/webhooks",
        headers=other_admin,
        json={"url": receiver.url("/theirs"), "event_types": ["booking.*"]},
    )
    assert other_hook.status_code == 201, other_hook.text
    # Neither provider reads the other's webhooks.
    assert gateway.get(f"/api/v1/organizations/{provider_id}/webhooks", headers=other_admin).status_code in (403, 404)

    # ---- The operator books the swap corner for a resident; booking-service learned the schedule from events.
    resident_name, phone = "陈玉兰", f"135{uuid.uuid4().int % 10**8:08d}"
    resident = registered_by_operator(
        gateway, operator, name=resident_name, phone=phone, community_code="changyang.bandao"
    )
    days = (date.today() + timedelta(days=1), date.today() + timedelta(days=5))
    available = slots_once_known(gateway, offering_id, operator, days)
    assert not [s for s in available if s["start"].startswith(closed_day.isoformat())]
    booking = gateway.post(
        "/api/v1/bookings",
        headers=operator,
        json={"offering_id": offering_id, "slot_start": available[0]["start"], "resident_id": resident["id"]},
    )
    assert booking.status_code == 201, booking.text
    booking_id = booking.json()["id"]

    # ---- The provider's system receives the booking, signed as Standard Webhooks says, with no personal data.
    def delivered() -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b in receiver.at("/ours") if booking_id.encode() in b]

    headers, body = eventually_blocking(delivered, timeout=60)[0]
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"].startswith("booking.")
    assert payload["data"]["booking_id"] == booking_id
    assert payload["data"]["provider_id"] == provider_id
    text = body.decode()
    assert resident_name not in text
    assert phone not in text
    forged = dict(headers, **{"webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, forged)

    # The receiver has the request before the registry has its answer and records the attempt: wait for that.
    def delivered_in_log() -> list[dict[str, Any]]:
        log = gateway.get(f"/api/v1/organizations/{provider_id}/webhooks/{hook.json()['id']}/deliveries", headers=admin)
        assert log.status_code == 200, log.text
        return [d for d in log.json()["items"] if d["status"] == "delivered"]

    eventually_blocking(delivered_in_log, timeout=30)

    # The other provider's webhook got nothing: no request, no delivery in its log.
    assert receiver.at("/theirs") == []
    other_log = gateway.get(
        f"/api/v1/organizations/{other_id}/webhooks/{other_hook.json()['id']}/deliveries", headers=other_admin
    )
    assert (other_log.status_code, other_log.json()["total"]) == (200, 0), other_log.text

    # ---- HSDS 3.0 open data, public: its OpenAPI document at the gateway's public address (whatever Host the
    # caller sends), the service with its schedule, the organization, the lists.
    about = gateway.get("/open-data/hsds/", headers={"X-Forwarded-Host": "evil.example"}).json()
    assert about["openapi_url"] == str(gateway.base_url).rstrip("/") + "/open-data/hsds/openapi.json"
    described = gateway.get("/open-data/hsds/openapi.json")
    assert described.status_code == 200, described.text
    assert described.json()["servers"] == [{"url": about["openapi_url"].removesuffix("/openapi.json")}]
    service = gateway.get(f"/open-data/hsds/services/{offering_id}")
    assert service.status_code == 200, service.text
    assert_hsds_valid("service", service.json())
    assert service.json()["schedules"], service.text
    organization = gateway.get(f"/open-data/hsds/organizations/{provider_id}")
    assert organization.status_code == 200, organization.text
    assert_hsds_valid("organization", organization.json())
    assert [s["id"] for s in organization.json()["services"]] == [offering_id]
    lists: tuple[tuple[str, dict[str, str | int], str], ...] = (
        ("/services", {"organization_id": provider_id}, "service_list"),
        ("/services", {"proximity": 1500, "community_code": "changyang.bandao"}, "service_list"),
        ("/organizations", {"per_page": 50}, "organization_list"),
        ("/service_at_locations", {"per_page": 50}, "service_at_location_list"),
    )
    for path, params, schema in lists:
        response = gateway.get(f"/open-data/hsds{path}", params=params)
        assert response.status_code == 200, f"{path}: {response.text}"
        page = response.json()
        hsds_page_validator().validate(page)
        for item in page["contents"]:
            assert_hsds_valid(schema, item)
        if path == "/services":
            assert offering_id in {s["id"] for s in page["contents"]}, params
    assert phone not in gateway.get(f"/open-data/hsds/services/{offering_id}").text
