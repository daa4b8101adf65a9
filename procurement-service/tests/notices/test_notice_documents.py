"""A public notice's documents (公示附件): attached by an official through the document mechanism, listed on the
notice for anyone, and published in OCDS beside the notice, at the configured public address whatever the Host."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from ocds_validation import PREFIX, assert_valid, releases_page
from sourcing_builders import NOTICE_AT, approve_url, official, provider_admin, reviewed_call

from service_kit.testing import Clock, TestKeys, assert_problem

APPROVAL = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Title (lixiang) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
DETAILS = APPROVAL.replace(b"lixiang", b"xiangmu")
PUBLIC = "http://127.0.0.1:8000"  # LINLI_PUBLIC_BASE_URL in the tests


async def test_a_notice_carries_its_documents_into_ocds(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    _, call, a, _ = await reviewed_call(app, client, js, test_keys, clock)
    assert (await client.post(approve_url(call, a), json={}, headers=official(test_keys))).status_code == 200
    clock.now = NOTICE_AT
    notice = (await client.post(f"/api/v1/calls/{call['id']}/notice", json={}, headers=official(test_keys))).json()
    assert notice["documents"] == []
    url = f"/api/v1/notices/{notice['id']}/documents"

    attached = await client.post(
        url, files={"file": ("立项批复.pdf", APPROVAL, "application/pdf")}, headers=official(test_keys)
    )
    assert attached.status_code == 201, attached.text
    assert attached.json()["url"] == f"{PUBLIC}/api/v1/documents/procurement/{attached.json()['id']}"
    # A file lying about its type, a provider, and a notice that does not exist are refused; nothing is attached.
    lying = await client.post(url, files={"file": ("项目明细.jpg", DETAILS)}, headers=official(test_keys))
    assert_problem(lying, 415, "lying_extension")
    provider = provider_admin(test_keys, a["provider_id"])
    assert_problem(await client.post(url, files={"file": ("x.pdf", DETAILS)}, headers=provider), 403)
    unknown = f"/api/v1/notices/{uuid.uuid4()}/documents"
    assert_problem(await client.post(unknown, files={"file": ("x.pdf", DETAILS)}, headers=official(test_keys)), 404)
    assert_problem(await client.get(unknown), 404, "notice_not_found")
    clock.advance(hours=2)
    later = await client.post(url, files={"file": ("项目明细.pdf", DETAILS)}, headers=official(test_keys))
    assert later.status_code == 201, later.text

    # Listed on the notice, for anyone (no sign-in), and served at the listed URL.
    shown = (await client.get(f"/api/v1/notices/{notice['id']}", headers={"Host": "evil.example"})).json()
    assert [d["filename"] for d in shown["documents"]] == ["立项批复.pdf", "项目明细.pdf"]
    assert (await client.get(url)).json() == shown["documents"]
    assert (await client.get("/api/v1/notices")).json()["items"][0]["documents"] == shown["documents"]
    served = await client.get(shown["documents"][0]["url"].removeprefix(PUBLIC))
    assert (served.status_code, served.content) == (200, APPROVAL)

    # In OCDS beside the notice itself: the award release has what was attached by then (attached in the same
    # instant as the notice here), a later one has a release of its own; every URL the configured public one.
    ocid = f"{PREFIX}-{call['id']}"
    package = (await client.get(f"/open-data/ocds/records/{ocid}", headers={"Host": "evil.example"})).json()
    assert_valid("record-package-schema", package)
    assert "evil.example" not in str(package)
    (record,) = package["records"]
    documents = record["compiledRelease"]["tender"]["documents"]
    by_id = {d["id"]: d for d in documents}
    assert by_id[notice["id"]]["documentType"] == "awardNotice"  # the notice itself
    for document in shown["documents"]:
        published = by_id[str(document["id"])]
        assert (published["documentType"], published["title"], published["url"]) == (
            "awardNotice",
            document["filename"],
            document["url"],
        )
    releases = [r for r in (await releases_page(client))["releases"] if r["ocid"] == ocid]
    award = next(r for r in releases if "award" in r["tag"])
    assert {d["id"] for d in award["tender"]["documents"]} == {notice["id"], attached.json()["id"]}
    (own,) = [
        r for r in releases if any(d["id"] == later.json()["id"] for d in r.get("tender", {}).get("documents", []))
    ]
    assert own["tag"] == ["tenderUpdate"]
