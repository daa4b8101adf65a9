"""An Open311 application (its key exchanged at the gateway for a token of role ``open311_client``) files service
requests through the GeoReport facade; what it files records the application, and names no resident."""

import uuid
from typing import Any

import httpx

from service_kit.testing import TestKeys

BASE = "/open311/v2"


def hotline(test_keys: TestKeys) -> tuple[str, dict[str, str]]:
    """The headers the gateway sends for the district's 12345 hotline system's key, and its subject."""
    subject = f"open311-app:{uuid.uuid4()}"
    return subject, test_keys.headers("open311_client", sub=subject, name="12345热线", scope="open311:requests")


async def test_an_application_files_a_complaint_recorded_as_its_own(
    client: httpx.AsyncClient, test_keys: TestKeys, official_headers: dict[str, str], reference_data: Any
) -> None:
    subject, headers = hotline(test_keys)
    form = {
        "service_code": "complaint.punctuality",
        "description": "市民来电：助浴服务迟到两个小时",
        "attribute[target_kind]": "provider",
        "attribute[target_id]": str(await reference_data.provider()),
    }
    response = await client.post(f"{BASE}/requests.json", data=form, headers=headers)
    assert response.status_code == 201, response.text
    (created,) = response.json()

    complaint = await client.get(f"/api/v1/complaints/{created['service_request_id']}", headers=official_headers)
    assert complaint.status_code == 200, complaint.text
    shown = complaint.json()
    assert (shown["channel"], shown["filed_by"], shown["resident_id"]) == ("open311", subject, None)
    assert [(step["action"], step["actor"], step["actor_role"]) for step in shown["steps"]] == [
        ("submitted", subject, "application")
    ]

    # The application reads what anyone reads: the status, not the words it sent.
    (public,) = (await client.get(f"{BASE}/requests/{created['service_request_id']}.json", headers=headers)).json()
    assert (public["status"], public["description"]) == ("open", None)


async def test_an_application_records_a_need_in_the_pool(
    client: httpx.AsyncClient, test_keys: TestKeys, operator_headers: dict[str, str], reference_data: Any
) -> None:
    _, headers = hotline(test_keys)
    body = {
        "service_code": "need.elderly",
        "description": "社区缺少助餐点",
        "attribute[community_code]": "liangxiang.suzhuang",
    }
    response = await client.post(f"{BASE}/requests.json", data=body, headers=headers)
    assert response.status_code == 201, response.text
    need_id = response.json()[0]["service_request_id"]
    needs = (await client.get("/api/v1/needs", headers=operator_headers)).json()["items"]
    (need,) = [n for n in needs if n["id"] == need_id]
    assert (need["source"], need["resident_id"]) == ("application", None)


async def test_an_application_cannot_speak_for_a_named_resident(
    client: httpx.AsyncClient, test_keys: TestKeys, reference_data: Any
) -> None:
    _, headers = hotline(test_keys)
    complaint = {
        "service_code": "complaint.punctuality",
        "description": "迟到",
        "attribute[target_kind]": "provider",
        "attribute[target_id]": str(await reference_data.provider()),
        "attribute[resident_id]": str(uuid.uuid4()),
    }
    refused = await client.post(f"{BASE}/requests.json", data=complaint, headers=headers)
    assert refused.status_code == 400, refused.text
    assert "named resident" in refused.json()[0]["description"]
    need = {"service_code": "need.elderly", "description": "缺助餐点", "attribute[resident_id]": str(uuid.uuid4())}
    refused = await client.post(f"{BASE}/requests.xml", data=need, headers=headers)
    assert refused.status_code == 400, refused.text
    assert b"<errors><error><code>400</code>" in refused.content
    # Nothing was recorded.
    assert (await client.get(f"{BASE}/requests.json")).json() == []
