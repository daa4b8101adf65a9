"""Acceptance reports (验收报告): an official attaches the report of an acceptance, it is public at once, and OCDS
publishes it as the acceptance's document at a public URL from configuration, whatever the request's Host."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from ocds_validation import PREFIX, assert_valid
from reporting_builders import implemented, lifecycle
from sourcing_builders import official, provider_admin

from service_kit.testing import Clock, TestKeys

REPORT = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def test_an_acceptance_report_is_published_with_the_acceptance(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    flow = await lifecycle(app, client, js, test_keys, clock)
    await implemented(app, client, js, test_keys, clock, flow)
    contract_id = flow.contract["id"]
    (acceptance,) = (await client.get(f"/api/v1/contracts/{contract_id}/acceptance")).json()["items"]
    reports_url = f"/api/v1/contracts/{contract_id}/acceptance/{acceptance['id']}/reports"
    headers = official(test_keys)

    # A file that is not what its name says is refused, and nothing is attached.
    lying = await client.post(
        reports_url, files={"file": ("验收报告.pdf", b"GIF89a not a pdf", "application/pdf")}, headers=headers
    )
    assert lying.status_code == 415
    assert lying.headers["content-type"] == "application/problem+json"
    # Only officials attach one.
    provider = provider_admin(test_keys, flow.providers[0])
    assert (await client.post(reports_url, files={"file": ("r.pdf", REPORT)}, headers=provider)).status_code == 403
    assert (await client.get(reports_url)).json() == []

    attached = await client.post(
        reports_url, files={"file": ("验收报告.pdf", REPORT, "application/pdf")}, headers=headers
    )
    assert attached.status_code == 201, attached.text
    report = attached.json()
    assert (report["filename"], report["media_type"], report["size"]) == (
        "验收报告.pdf",
        "application/pdf",
        len(REPORT),
    )
    assert report["url"] == f"http://127.0.0.1:8000/api/v1/documents/procurement/{report['id']}"
    assert (await client.get(reports_url)).json() == [report]  # for anyone

    served = await client.get(f"/api/v1/documents/procurement/{report['id']}")
    assert served.status_code == 200
    assert served.content == REPORT
    assert served.headers["content-type"] == "application/pdf"

    ocid = f"{PREFIX}-{flow.call['id']}"
    record = (await client.get(f"/open-data/ocds/records/{ocid}", headers={"Host": "evil.example"})).json()
    assert_valid("record-package-schema", record)
    (contract,) = record["records"][0]["compiledRelease"]["contracts"]
    (document,) = contract["implementation"]["documents"]
    assert document["id"] == report["id"]
    assert document["documentType"] == "completionCertificate"
    assert document["url"] == report["url"]
    assert document["format"] == "application/pdf"
    assert "evil.example" not in str(record)
