"""The Open311 GeoReport v2 facade as a 311 client uses it: discover, file (form or JSON), follow, errors."""

import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import httpx
import pytest

from service_kit.timeutil import SHANGHAI, utcnow

BASE = "/open311/v2"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def assert_open311_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    (error,) = response.json()
    assert error["code"] == status
    assert isinstance(error["description"], str)
    assert error["description"]
    return str(error["description"])


async def file_complaint_by_form(
    client: httpx.AsyncClient, headers: dict[str, str], provider_id: uuid.UUID, **extra: str
) -> str:
    form = {
        "service_code": "complaint.punctuality",
        "description": "上门助浴迟到两个小时，电话13812345678",
        "lat": "39.7354321",
        "long": "116.1432109",
        "address_string": "房山区良乡镇某小区3号楼",
        "email": "someone@example.cn",
        "first_name": "张",
        "api_key": "ignored-here",
        "media_url": "https://img.example.cn/late.jpg",
        "attribute[target_kind]": "provider",
        "attribute[target_id]": str(provider_id),
        **extra,
    }
    response = await client.post(f"{BASE}/requests.json", data=form, headers=headers)
    assert response.status_code == 201, response.text
    (created,) = response.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    return str(created["service_request_id"])


async def test_services_and_their_definitions(client: httpx.AsyncClient) -> None:
    services = (await client.get(f"{BASE}/services.json")).json()
    codes = {s["service_code"] for s in services}
    assert {"complaint.punctuality", "complaint.safety", "need.elderly", "need.children"} <= codes
    for service in services:
        assert set(service) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
        assert service["type"] == "realtime"

    definition = (await client.get(f"{BASE}/services/complaint.punctuality.json")).json()
    assert definition["service_code"] == "complaint.punctuality"
    attributes = {a["code"]: a for a in definition["attributes"]}
    assert attributes["target_kind"]["required"] is True
    assert attributes["target_kind"]["datatype"] == "singlevaluelist"
    assert {v["key"] for v in attributes["target_kind"]["values"]} == {"provider", "booking", "offering", "center"}
    assert_open311_error(await client.get(f"{BASE}/services/complaint.nonsense.json"), 404)


async def test_a_resident_files_a_complaint_by_form_and_follows_it(
    client: httpx.AsyncClient, resident_headers: Any, official_headers: dict[str, str], known: Any
) -> None:
    resident_id = uuid.uuid4()
    request_id = await file_complaint_by_form(client, resident_headers(resident_id), await known.provider())

    # The public sees the status, not the resident's words, address or exact position.
    (public,) = (await client.get(f"{BASE}/requests/{request_id}.json")).json()
    assert public["service_request_id"] == request_id
    assert (public["status"], public["status_notes"]) == ("open", "submitted")
    assert (public["service_code"], public["service_name"]) == (
        "complaint.punctuality",
        "迟到或未上门 Late or missed visit",
    )
    assert public["description"] is None
    assert public["address"] is None
    assert public["media_url"] is None
    assert (public["lat"], public["long"]) == (39.735, 116.143)
    assert public["requested_datetime"].endswith("+08:00")
    assert public["expected_datetime"] is not None
    for key in ("updated_datetime", "agency_responsible", "service_notice", "address_id", "zipcode"):
        assert key in public

    # The resident who filed sees it in full (masked as stored).
    (own,) = (await client.get(f"{BASE}/requests/{request_id}.json", headers=resident_headers(resident_id))).json()
    assert own["description"] == "上门助浴迟到两个小时，电话138****5678"
    assert own["media_url"] == "https://img.example.cn/late.jpg"

    # The complaint is a real one: officials work it through the REST API, and 311 sees it close.
    complaint = (await client.get(f"/api/v1/complaints/{request_id}", headers=official_headers)).json()
    assert complaint["channel"] == "open311"
    for action in ("acknowledge", "resolve"):
        assert (
            await client.post(f"/api/v1/complaints/{request_id}/{action}", headers=official_headers)
        ).status_code == 200
    (closed,) = (await client.get(f"{BASE}/requests/{request_id}.json")).json()
    assert (closed["status"], closed["status_notes"], closed["expected_datetime"]) == ("closed", "resolved", None)


async def test_a_complaint_may_name_the_community(
    client: httpx.AsyncClient, operator_headers: dict[str, str], official_headers: dict[str, str], reference_data: Any
) -> None:
    definition = (await client.get(f"{BASE}/services/complaint.punctuality.json")).json()
    assert "community_code" in {a["code"] for a in definition["attributes"]}
    request_id = await file_complaint_by_form(
        client,
        operator_headers,
        await reference_data.provider(),
        **{"attribute[resident_id]": str(uuid.uuid4()), "attribute[community_code]": "gongchen.shidai_jiahe"},
    )
    complaint = (await client.get(f"/api/v1/complaints/{request_id}", headers=official_headers)).json()
    assert (complaint["community_code"], complaint["street_code"]) == ("gongchen.shidai_jiahe", "gongchen")


async def test_a_need_filed_as_json(
    client: httpx.AsyncClient, operator_headers: dict[str, str], reference_data: Any
) -> None:
    body = {
        "service_code": "need.elderly",
        "description": "社区里没有老年人助餐点",
        "attribute": {"community_code": "liangxiang.suzhuang", "kind": "suggestion"},
    }
    response = await client.post(f"{BASE}/requests.json", json=body, headers=operator_headers)
    assert response.status_code == 201, response.text
    (created,) = response.json()
    assert "1 similar" in created["service_notice"]
    again = await client.post(
        f"{BASE}/requests.json",
        json={**body, "attribute[community_code]": "liangxiang.suzhuang"},
        headers=operator_headers,
    )
    assert "2 similar" in again.json()[0]["service_notice"]

    (need,) = (await client.get(f"{BASE}/requests/{created['service_request_id']}.json")).json()
    assert (need["status"], need["service_code"], need["description"]) == ("open", "need.elderly", None)
    assert "2 similar" in need["status_notes"]
    needs = (await client.get("/api/v1/needs", headers=operator_headers)).json()
    assert {n["group_key"] for n in needs["items"]} == {"elderly@liangxiang.suzhuang"}


async def test_listing_requests_with_the_standard_filters(
    client: httpx.AsyncClient, resident_headers: Any, official_headers: dict[str, str], reference_data: Any
) -> None:
    headers = resident_headers(uuid.uuid4())
    provider_id = await reference_data.provider()
    open_one = await file_complaint_by_form(client, headers, provider_id)
    closed_one = await file_complaint_by_form(client, headers, provider_id, service_code="complaint.safety")
    for action in ("acknowledge", "resolve", "close"):
        await client.post(f"/api/v1/complaints/{closed_one}/{action}", headers=official_headers)
    need = await client.post(
        f"{BASE}/requests.json",
        data={"service_code": "need.green", "description": "想要旧衣回收箱"},
        headers=headers,
    )
    need_id = need.json()[0]["service_request_id"]

    async def ids(**params: str) -> list[str]:
        response = await client.get(f"{BASE}/requests.json", params=params)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    assert await ids() == [need_id, closed_one, open_one]
    assert await ids(status="open") == [need_id, open_one]
    assert await ids(status="closed") == [closed_one]
    assert await ids(service_code="complaint.safety,need.green") == [need_id, closed_one]
    assert await ids(service_request_id=f"{open_one},{need_id}") == [need_id, open_one]
    tomorrow = (utcnow() + timedelta(days=1)).astimezone(SHANGHAI).isoformat()
    yesterday = (utcnow() - timedelta(days=1)).isoformat()
    assert await ids(start_date=tomorrow) == []
    assert await ids(start_date=yesterday, end_date=tomorrow) == [need_id, closed_one, open_one]


async def test_filing_needs_a_signed_in_caller(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{BASE}/requests.json", data={"service_code": "need.green", "description": "x", "api_key": "k"}
    )
    assert_open311_error(response, 401)


@pytest.mark.parametrize(
    ("form", "mentions"),
    [
        ({}, "service_code"),
        ({"service_code": "complaint.nonsense"}, "service_code"),
        ({"service_code": "complaint.safety", "description": "x"}, "target_kind"),
        (
            {"service_code": "complaint.safety", "attribute[target_kind]": "provider", "attribute[target_id]": "nope"},
            "target_id",
        ),
        (
            {
                "service_code": "complaint.safety",
                "attribute[target_kind]": "provider",
                "attribute[target_id]": str(uuid.uuid4()),
            },
            "description",
        ),
        (
            {
                "service_code": "complaint.safety",
                "description": "x",
                "attribute[target_kind]": "provider",
                "attribute[target_id]": str(uuid.uuid4()),
                "media_url": "ftp://x",
            },
            "media_url",
        ),
        ({"service_code": "need.green", "description": "x", "lat": "91", "long": "116"}, "lat"),
        ({"service_code": "need.green", "description": "x", "lat": "abc", "long": "116"}, "lat"),
        ({"service_code": "need.green", "description": "x", "lat": "39.7"}, "lat"),
        ({"service_code": "need.green", "description": "x" * 2001}, "description"),
        ({"service_code": "need.green", "description": "x", "attribute[community_code]": "社区"}, "community_code"),
        (
            {
                "service_code": "complaint.safety",
                "description": "x",
                "attribute[target_kind]": "provider",
                "attribute[target_id]": str(uuid.uuid4()),
                "attribute[community_code]": "拱辰",
            },
            "community_code",
        ),
        ({"service_code": "need.green", "description": "x", "address_string": "x" * 301}, "address_string"),
    ],
)
async def test_bad_requests_get_open311_errors(
    client: httpx.AsyncClient, operator_headers: dict[str, str], form: dict[str, str], mentions: str
) -> None:
    response = await client.post(f"{BASE}/requests.json", data=form, headers=operator_headers)
    assert mentions in assert_open311_error(response, 400)


async def test_malformed_bodies_and_reads(client: httpx.AsyncClient, operator_headers: dict[str, str]) -> None:
    post = f"{BASE}/requests.json"
    assert_open311_error(
        await client.post(post, content=b"{nope", headers={**operator_headers, "content-type": "application/json"}), 400
    )
    assert_open311_error(await client.post(post, json=[1, 2], headers=operator_headers), 400)
    assert_open311_error(await client.post(post, json={"service_code": ["a"]}, headers=operator_headers), 400)
    assert_open311_error(
        await client.post(post, content=b"<xml/>", headers={**operator_headers, "content-type": "text/xml"}), 400
    )
    assert_open311_error(
        await client.post(post, content=b"service_code=%FF%FE", headers={**operator_headers, **FORM}), 400
    )
    assert_open311_error(await client.get(f"{BASE}/requests/{uuid.uuid4()}.json"), 404)
    assert_open311_error(await client.get(f"{BASE}/requests/not-an-id.json"), 400)
    assert_open311_error(await client.get(f"{BASE}/requests.json", params={"status": "pending"}), 400)
    assert_open311_error(await client.get(f"{BASE}/requests.json", params={"start_date": "yesterday"}), 400)
    assert_open311_error(await client.get(f"{BASE}/requests.json", params={"start_date": "2026-11-26T08:00:00"}), 400)
    assert_open311_error(await client.get(f"{BASE}/requests.json", params={"service_code": "nope"}), 400)
    many = ",".join(str(uuid.uuid4()) for _ in range(101))
    assert_open311_error(await client.get(f"{BASE}/requests.json", params={"service_request_id": many}), 400)
    assert_open311_error(
        await client.get(f"{BASE}/requests.json", headers={"Authorization": "Bearer not-a-token"}), 401
    )


# ------------------------------------------------------------------ what feedback does not know


async def test_unknown_targets_categories_and_communities_are_refused_in_open311_terms(
    client: httpx.AsyncClient,
    resident_headers: Any,
    operator_headers: dict[str, str],
    official_headers: dict[str, str],
    reference_data: Any,
) -> None:
    resident_id = uuid.uuid4()
    booking = await reference_data.booking(uuid.uuid4())  # another resident's
    complaint = {
        "service_code": "complaint.safety",
        "description": "楼道里堆满杂物",
        "attribute[target_kind]": "provider",
    }
    feed_before = (await client.get(f"{BASE}/requests.json")).json()
    cases = [
        ({**complaint, "attribute[target_id]": str(uuid.uuid4())}, "attribute[target_id]"),
        (
            {**complaint, "attribute[target_kind]": "booking", "attribute[target_id]": str(booking.booking_id)},
            "attribute[target_id]",
        ),
        (
            {**complaint, "attribute[target_kind]": "center", "attribute[target_id]": str(uuid.uuid4())},
            "attribute[target_id]",
        ),
        (
            {
                **complaint,
                "attribute[target_id]": str(await reference_data.provider()),
                "attribute[community_code]": "gongchen.atlantis",
            },
            "attribute[community_code]",
        ),
        ({"service_code": "need.culture", "description": "想要社区合唱团"}, "service_code"),
        (
            {"service_code": "need.elderly", "description": "想要助餐", "attribute[community_code]": "FS-LX-007"},
            "attribute[community_code]",
        ),
    ]
    on_phone = {"attribute[resident_id]": str(resident_id)}
    for form, mentions in cases:
        for headers, extra in ((resident_headers(resident_id), {}), (operator_headers, on_phone)):
            response = await client.post(f"{BASE}/requests.json", data=form | extra, headers=headers)
            description = assert_open311_error(response, 400)
            assert description.startswith(f"{mentions}: "), description
            assert "yet" in description
    assert (await client.get(f"{BASE}/requests.json")).json() == feed_before == []
    assert (await client.get("/api/v1/complaints", headers=official_headers)).json()["total"] == 0
    assert (await client.get("/api/v1/needs", headers=official_headers)).json()["total"] == 0


async def test_public_service_needs_are_recorded_in_the_taxonomys_category(
    client: httpx.AsyncClient, operator_headers: dict[str, str], reference_data: Any
) -> None:
    filed = await client.post(
        f"{BASE}/requests.json",
        data={"service_code": "need.public", "description": "希望社区有便民办事点"},
        headers=operator_headers,
    )
    assert filed.status_code == 201, filed.text
    (need,) = (await client.get("/api/v1/needs", headers=operator_headers)).json()["items"]
    assert need["category_code"] == "public_services"
    listed = (await client.get(f"{BASE}/requests.json", params={"service_code": "need.public"})).json()
    assert [(r["service_request_id"], r["service_code"]) for r in listed] == [
        (filed.json()[0]["service_request_id"], "need.public")
    ]


async def test_every_route_answers_in_xml_the_standards_default(
    client: httpx.AsyncClient, resident_headers: Any, known: Any
) -> None:
    mine = resident_headers(uuid.uuid4())

    services = await client.get(f"{BASE}/services.xml")
    assert services.status_code == 200, services.text
    assert services.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(services.content)
    assert root.tag == "services"
    punctuality = next(s for s in root.findall("service") if s.findtext("service_code") == "complaint.punctuality")
    assert punctuality.findtext("service_name") == "迟到或未上门 Late or missed visit"
    assert (punctuality.findtext("metadata"), punctuality.findtext("type")) == ("true", "realtime")
    assert len(root.findall("service")) == len((await client.get(f"{BASE}/services.json")).json())

    definition = ET.fromstring((await client.get(f"{BASE}/services/complaint.punctuality.xml")).content)
    assert (definition.tag, definition.findtext("service_code")) == ("service_definition", "complaint.punctuality")
    target_kind = next(a for a in definition.iter("attribute") if a.findtext("code") == "target_kind")
    assert "provider" in [v.findtext("key") for v in target_kind.iter("value")]

    # Filed by form to requests.xml, answered in XML, and followed in XML.
    form = {
        "service_code": "complaint.punctuality",
        "description": "送餐晚到<一小时> & 饭菜已凉",
        "attribute[target_kind]": "provider",
        "attribute[target_id]": str(await known.provider()),
    }
    filed = await client.post(f"{BASE}/requests.xml", data=form, headers=mine)
    assert filed.status_code == 201, filed.text
    created = ET.fromstring(filed.content)
    assert created.tag == "service_requests"
    request_id = created.find("request").findtext("service_request_id")  # type: ignore[union-attr]
    followed = ET.fromstring((await client.get(f"{BASE}/requests/{request_id}.xml", headers=mine)).content)
    (request,) = followed.findall("request")
    assert (request.findtext("service_request_id"), request.findtext("status")) == (request_id, "open")
    # The resident's own text comes back escaped, as text: no markup injected.
    assert request.findtext("description") == "送餐晚到<一小时> & 饭菜已凉"

    # Errors in XML too, with the standard's code and description.
    missing = await client.get(f"{BASE}/services/no.such.service.xml")
    assert (missing.status_code, missing.headers["content-type"]) == (404, "text/xml; charset=utf-8")
    error = ET.fromstring(missing.content).find("error")
    assert error is not None
    assert error.findtext("code") == "404"
    assert "no.such.service" in (error.findtext("description") or "")


async def test_another_jurisdiction_is_refused_in_both_formats(
    client: httpx.AsyncClient, resident_headers: Any
) -> None:
    assert (
        await client.get(f"{BASE}/services.json", params={"jurisdiction_id": "fangshan.beijing.cn"})
    ).status_code == 200
    for suffix in ("json", "xml"):
        refused = await client.get(f"{BASE}/services.{suffix}", params={"jurisdiction_id": "chicago.gov"})
        assert refused.status_code == 404
        assert "'chicago.gov' is not served here" in refused.text
    listed = await client.get(f"{BASE}/requests.json", params={"jurisdiction_id": "chicago.gov"})
    assert_open311_error(listed, 404)
    filed = await client.post(
        f"{BASE}/requests.json",
        data={"jurisdiction_id": "chicago.gov", "service_code": "need.elderly", "description": "希望增加助浴"},
        headers=resident_headers(uuid.uuid4()),
    )
    assert "is not served here" in assert_open311_error(filed, 404)


async def test_every_refusal_under_open311_is_an_error_list(
    client: httpx.AsyncClient, resident_headers: Any, known: Any
) -> None:
    """Not only the facade's own routes: a path it does not have, a method it does not take, a body above the
    service's limit and a reused Idempotency-Key are all answered in the standard's form, not as problem+json."""
    assert "no" in assert_open311_error(await client.get(f"{BASE}/no-such-thing.json"), 404).lower()
    missing = await client.get(f"{BASE}/no-such-thing.xml")
    assert (missing.status_code, missing.headers["content-type"]) == (404, "text/xml; charset=utf-8")
    assert ET.fromstring(missing.content).findtext("error/code") == "404"
    assert_open311_error(await client.delete(f"{BASE}/services.json"), 405)
    too_large = await client.request("GET", f"{BASE}/services.json", content=b"x" * (1024 * 1024 + 1))
    assert "limit" in assert_open311_error(too_large, 413)

    headers = resident_headers(uuid.uuid4()) | FORM | {"Idempotency-Key": "open311-retry-1"}
    form = {"service_code": "complaint.punctuality", "description": "迟到", "attribute[target_kind]": "provider"}
    form["attribute[target_id]"] = str(await known.provider())
    first = await client.post(f"{BASE}/requests.json", data=form, headers=headers)
    assert first.status_code == 201, first.text
    replayed = await client.post(f"{BASE}/requests.json", data=form, headers=headers)
    assert replayed.json() == first.json()  # a retry is answered as the first was, nothing filed twice
    changed = await client.post(f"{BASE}/requests.json", data={**form, "description": "没来"}, headers=headers)
    # Linli's 422 is the standard's 400.
    assert assert_open311_error(changed, 400) == "This Idempotency-Key was used with a different request."
    # Elsewhere the same refusals stay problem+json.
    elsewhere = await client.get("/api/v1/no-such-thing")
    assert (elsewhere.status_code, elsewhere.headers["content-type"]) == (404, "application/problem+json")
