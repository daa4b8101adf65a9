"""A call's documents: attached by officials, public with the call (never with a draft), and in OCDS as tender
documents: in the call's publication when attached before it, in a release of their own when attached after."""

from __future__ import annotations

import httpx
from ocds_validation import PREFIX, assert_valid, releases_page
from sourcing_builders import call_body, create_fund, official

from service_kit.testing import Clock, TestKeys

TERMS = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FORM = TERMS.replace(b"Catalog", b"Catalog /Lang (zh)")


async def test_call_documents_are_published_with_the_call(
    client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    headers = official(test_keys)
    fund = await create_fund(client, test_keys)
    call = (await client.post("/api/v1/calls", json=call_body(fund["id"]), headers=headers)).json()
    documents_url = f"/api/v1/calls/{call['id']}/documents"

    terms = await client.post(
        documents_url, files={"file": ("征集公告.pdf", TERMS, "application/pdf")}, headers=headers
    )
    assert terms.status_code == 201, terms.text
    assert (await client.get(documents_url)).status_code == 404  # a draft is nobody's business yet
    lying = await client.post(documents_url, files={"file": ("申报书.docx", TERMS)}, headers=headers)
    assert lying.status_code == 415
    assert lying.json()["code"] == "lying_extension"

    clock.advance(hours=1)
    assert (await client.post(f"/api/v1/calls/{call['id']}/publish", headers=headers)).status_code == 200
    clock.advance(hours=1)
    form = await client.post(documents_url, files={"file": ("申报书.pdf", FORM)}, headers=headers)
    assert form.status_code == 201, form.text

    public = (await client.get(documents_url)).json()
    assert [d["filename"] for d in public] == ["征集公告.pdf", "申报书.pdf"]
    served = await client.get(f"/api/v1/documents/procurement/{public[0]['id']}")
    assert served.content == TERMS

    ocid = f"{PREFIX}-{call['id']}"
    package = (await client.get(f"/open-data/ocds/records/{ocid}")).json()
    assert_valid("record-package-schema", package)
    (record,) = package["records"]
    tender = record["compiledRelease"]["tender"]
    assert [(d["id"], d["url"]) for d in tender["documents"]] == [(d["id"], d["url"]) for d in public]
    assert {d["documentType"] for d in tender["documents"]} == {"tenderNotice"}
    mine = [r for r in (await releases_page(client))["releases"] if r["ocid"] == ocid]
    assert [r["tag"] for r in mine] == [["planning", "tender"], ["tenderUpdate"]]
    assert [d["id"] for d in mine[0]["tender"]["documents"]] == [terms.json()["id"]]
    assert [d["id"] for d in mine[1]["tender"]["documents"]] == [form.json()["id"]]
