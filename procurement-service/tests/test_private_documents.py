"""Documents that are not public: an application's attachments (its provider, officials, the call's reviewers)
and a supervision record's reports (whoever may read the contract), each listed with a short-lived link."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from PIL import ExifTags, Image
from reporting_builders import lifecycle
from sourcing_builders import official, provider_admin

from service_kit.testing import Clock, TestKeys
from service_kit.testing import photo as located_photo

PLAN = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_application_attachments_and_supervision_reports(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    flow = await lifecycle(app, client, js, test_keys, clock)
    applicant = provider_admin(test_keys, flow.approved["provider_id"])
    other = provider_admin(test_keys, uuid.uuid4())
    attachments = f"/api/v1/calls/{flow.call['id']}/applications/{flow.approved['id']}/attachments"

    attached = await client.post(attachments, files={"file": ("服务方案.pdf", PLAN)}, headers=applicant)
    assert attached.status_code == 201, attached.text
    assert (await client.post(attachments, files={"file": ("x.pdf", PLAN)}, headers=other)).status_code == 404
    assert (await client.get(attachments, headers=other)).status_code == 404
    (listed,) = (await client.get(attachments, headers=official(test_keys))).json()
    assert (listed["filename"], listed["purpose"]) == ("服务方案.pdf", "application_attachment")
    assert "public_url" not in listed
    assert (await client.get(local(listed["url"]))).content == PLAN
    assert (await client.get(urlsplit(listed["url"]).path)).status_code == 403  # no plain URL: not public
    clock.advance(seconds=301)
    assert (await client.get(local(listed["url"]))).json()["code"] == "link_expired"

    contract_url = f"/api/v1/contracts/{flow.contract['id']}"
    record = await client.post(
        f"{contract_url}/supervision",
        json={
            "kind": "site_visit",
            "occurred_on": (clock.now - timedelta(days=1)).date().isoformat(),
            "findings": "助餐点卫生良好",
            "conclusion": "satisfactory",
        },
        headers=official(test_keys),
    )
    assert record.status_code == 201, record.text
    reports = f"{contract_url}/supervision/{record.json()['id']}/reports"
    photo = await client.post(reports, files={"file": ("现场.jpg", located_photo())}, headers=official(test_keys))
    assert photo.status_code == 201, photo.text
    assert (await client.post(reports, files={"file": ("r.pdf", PLAN)}, headers=applicant)).status_code == 403
    (seen,) = (await client.get(reports, headers=applicant)).json()  # the contract's provider reads it
    served = await client.get(local(seen["url"]))
    assert dict(Image.open(io.BytesIO(served.content)).getexif().get_ifd(ExifTags.IFD.GPSInfo)) == {}
    missing = await client.get(f"{contract_url}/supervision/{uuid.uuid4()}/reports", headers=applicant)
    assert missing.status_code == 404
