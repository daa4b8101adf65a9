"""Keys integrators use, through the whole stack: an Open311 application files with the standard's ``api_key``, and
a provider's system reads its own contracts and deliverables and manages its webhooks with scoped keys — never
another provider's.

The GeoReport request is the specification's example of POST Service Request (form-encoded, ``api_key`` among
the fields): of the Python clients on PyPI, ``georeport`` only reads and ``open311`` predates Python 3."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from service_kit.testing import gps_of
from service_kit.testing import photo as photo_of

from .conftest import (
    DevStack,
    eventually_blocking,
    login,
    new_fund,
    new_provider,
    proposed_when_known,
    publish_offering,
)

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def client(stack: DevStack) -> Any:
    with httpx.Client(base_url=stack.gateway_url, timeout=30.0) as gateway:
        yield gateway


def api_key(gateway: httpx.Client, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    created = gateway.post("/api/v1/api-keys", headers=headers, json=body)
    assert created.status_code == 201, created.text
    key: dict[str, Any] = created.json()
    return key


def direct_award(gateway: httpx.Client, provider: dict[str, Any], title: str) -> str:
    offering_id = publish_offering(gateway, provider, f"{title}助餐")
    terms = {
        "title": title,
        "provider_id": provider["id"],
        "amount_fen": 50_000,
        "start_date": date.today().isoformat(),
        "end_date": (date.today() + timedelta(days=90)).isoformat(),
        "funded_offerings": [{"offering_id": offering_id, "unit_price_fen": 1000, "resident_price_fen": 0, "quota": 5}],
        "fund_id": new_fund(gateway, f"{title}资金", 500_000),
        "rationale": "单一来源：对接测试。",
    }
    proposed = proposed_when_known(gateway, terms)
    assert proposed.status_code == 201, proposed.text
    return str(proposed.json()["id"])


def test_an_open311_application_files_with_its_api_key(client: httpx.Client) -> None:
    admin, official = login(client, "admin"), login(client, "official")
    application = api_key(client, admin, name="12345市民服务热线", kind="open311")
    provider = new_provider(client, "对接测试助浴服务社")

    spec_form = {
        "api_key": application["key"],
        "jurisdiction_id": "",
        "service_code": "complaint.punctuality",
        "lat": "39.7354321",
        "long": "116.1432109",
        "address_string": "房山区良乡镇某小区3号楼",
        "email": "caller@example.cn",
        "device_id": "hotline-seat-7",
        "account_id": "",
        "first_name": "张",
        "last_name": "伟",
        "phone": "13812345678",
        "description": "市民来电：上门助浴迟到两个小时",
        "media_url": "",
        "attribute[target_kind]": "provider",
        "attribute[target_id]": provider["id"],
    }

    def filed() -> httpx.Response | None:
        response = client.post("/open311/v2/requests.json", data=spec_form)
        return None if response.status_code == 400 else response  # until feedback has heard of the provider

    response = eventually_blocking(filed, timeout=60)
    assert response.status_code == 201, response.text
    (created,) = response.json()
    complaint = client.get(f"/api/v1/complaints/{created['service_request_id']}", headers=official).json()
    assert (complaint["channel"], complaint["filed_by"]) == ("open311", f"open311-app:{application['id']}")
    assert complaint["resident_id"] is None
    assert complaint["steps"][0]["actor_role"] == "application"

    # The same in XML, the standard's default, with the key in the query string.
    as_xml = client.post(
        "/open311/v2/requests.xml",
        params={"api_key": application["key"]},
        data={"service_code": "need.elderly", "description": "小区里缺少老年助餐点"},
    )
    assert as_xml.status_code == 201, as_xml.text
    assert as_xml.headers["content-type"].startswith("text/xml")
    assert ET.fromstring(as_xml.content).findtext("request/service_request_id")

    # A missing, wrong or provider's key: the GeoReport error list, never problem+json; nothing is filed.
    form = {k: v for k, v in spec_form.items() if k != "api_key"}
    missing = client.post("/open311/v2/requests.json", data=form)
    assert (missing.status_code, missing.json()[0]["code"]) == (401, 401)
    wrong = client.post("/open311/v2/requests.xml", data={**form, "api_key": "linli_000000000000_" + "x" * 43})
    assert wrong.status_code == 401
    assert ET.fromstring(wrong.content).findtext("error/code") == "401"
    provider_key = api_key(client, provider["admin"], name="排班系统", scopes=["bookings:read"])
    not_an_application = client.post("/open311/v2/requests.json", data={**form, "api_key": provider_key["key"]})
    assert (not_an_application.status_code, not_an_application.json()[0]["code"]) == (403, 403)

    # The application's key calls nothing but /open311, and may ask who it is.
    headers = {"X-API-Key": application["key"]}
    refused = client.get("/api/v1/complaints", headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "route_not_for_api_keys")
    me = client.get("/api/v1/auth/me", headers=headers).json()
    assert (me["roles"], me["name"], me["scopes"]) == (["open311_client"], "12345市民服务热线", ["open311:requests"])


def test_a_georeport_client_lists_services_in_both_formats_and_files_with_its_key_and_a_photo(
    client: httpx.Client,
) -> None:
    """What a GeoReport v2 client library does, unmodified: GET services in JSON and in XML (the default), then
    POST a request as multipart with ``api_key`` among the form fields and the photo as ``media``."""
    admin, official = login(client, "admin"), login(client, "official")
    application = api_key(client, admin, name="房山社区随手拍", kind="open311")
    provider = new_provider(client, "随手拍测试助浴服务社")

    services = client.get("/open311/v2/services.json")
    assert services.status_code == 200, services.text
    codes = {s["service_code"] for s in services.json()}
    as_xml = client.get("/open311/v2/services.xml")
    assert as_xml.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(as_xml.content)
    assert root.tag == "services"
    assert {s.findtext("service_code") for s in root.findall("service")} == codes
    assert "complaint.punctuality" in codes

    form = {
        "api_key": application["key"],
        "service_code": "complaint.punctuality",
        "description": "随手拍：助浴员未按时上门",
        "attribute[target_kind]": "provider",
        "attribute[target_id]": provider["id"],
    }
    photo = photo_of(located=True)

    def filed() -> httpx.Response | None:
        response = client.post(
            "/open311/v2/requests.json", data=form, files={"media": ("IMG_0001.JPG", photo, "image/jpeg")}
        )
        return None if response.status_code == 400 else response  # until feedback has heard of the provider

    response = eventually_blocking(filed, timeout=60)
    assert response.status_code == 201, response.text
    (created,) = response.json()
    complaint_id = created["service_request_id"]
    complaint = client.get(f"/api/v1/complaints/{complaint_id}", headers=official).json()
    assert complaint["filed_by"] == f"open311-app:{application['id']}"
    (listed,) = client.get(f"/api/v1/complaints/{complaint_id}/documents", headers=official).json()
    assert (listed["purpose"], listed["media_type"]) == ("complaint_photo", "image/jpeg")
    link = urlsplit(listed["url"])
    served = client.get(f"{link.path}?{link.query}")
    assert served.status_code == 200, served.text
    assert gps_of(served.content) == {}  # the caller's location is not kept on a complaint photo


def test_a_providers_key_reads_its_own_contracts_and_never_anothers(client: httpx.Client) -> None:
    ours, theirs = new_provider(client, "对接测试甲服务社"), new_provider(client, "对接测试乙服务社")
    own_contract = direct_award(client, ours, "对接测试甲项目")
    their_contract = direct_award(client, theirs, "对接测试乙项目")
    key = api_key(client, ours["admin"], name="合同系统", scopes=["contracts:read", "deliverables:read"])
    system = {"X-API-Key": key["key"]}

    me = client.get("/api/v1/auth/me", headers=system).json()
    assert (me["provider_id"], me["scopes"]) == (ours["id"], ["contracts:read", "deliverables:read"])

    listed = client.get("/api/v1/contracts", headers=system)
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["items"]] == [own_contract]
    assert client.get("/api/v1/contracts", params={"provider_id": theirs["id"]}, headers=system).json()["total"] == 0
    assert client.get(f"/api/v1/contracts/{own_contract}", headers=system).json()["provider_id"] == ours["id"]
    assert client.get(f"/api/v1/contracts/{own_contract}/deliverables", headers=system).status_code == 200
    for path in (f"/api/v1/contracts/{their_contract}", f"/api/v1/contracts/{their_contract}/deliverables"):
        refused = client.get(path, headers=system)
        assert (refused.status_code, refused.json()["code"]) == (404, "contract_not_found"), path
    # Other contract records stay the provider's admin's.
    evaluations = client.get(f"/api/v1/contracts/{own_contract}/evaluations", headers=system)
    assert (evaluations.status_code, evaluations.json()["code"]) == (403, "route_not_for_api_keys")


def test_a_providers_key_manages_its_webhooks_and_the_ssrf_guard_holds(client: httpx.Client) -> None:
    ours, theirs = new_provider(client, "对接测试丙服务社"), new_provider(client, "对接测试丁服务社")
    reader = {"X-API-Key": api_key(client, ours["admin"], name="只读", scopes=["bookings:read"])["key"]}
    manager = {"X-API-Key": api_key(client, ours["admin"], name="部署脚本", scopes=["webhooks:manage"])["key"]}
    hooks = f"/api/v1/organizations/{ours['id']}/webhooks"
    body = {"url": "http://127.0.0.1:9/linli", "event_types": ["booking.*"]}  # this stack lets loopback through

    refused = client.post(hooks, headers=reader, json=body)
    assert (refused.status_code, refused.json()["code"]) == (403, "scope_missing")
    created = client.post(hooks, headers=manager, json=body)
    assert created.status_code == 201, created.text
    hook_id = created.json()["id"]
    rotated = client.post(f"{hooks}/{hook_id}/rotate-secret", headers=manager)
    assert rotated.status_code == 200, rotated.text
    private = client.patch(f"{hooks}/{hook_id}", headers=manager, json={"url": "http://10.0.0.8/hook"})
    assert (private.status_code, private.json()["code"]) == (422, "webhook_url_refused")
    for method, path in (
        ("GET", f"/api/v1/organizations/{theirs['id']}/webhooks"),
        ("POST", f"/api/v1/organizations/{theirs['id']}/webhooks"),
    ):
        response = client.request(method, path, headers=manager, json=body if method == "POST" else None)
        assert response.status_code == 404, (method, path, response.text)
    assert client.delete(f"{hooks}/{hook_id}", headers=manager).status_code == 204
    assert client.get(hooks, headers=reader).json()["items"] == []
