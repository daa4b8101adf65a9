"""OCDS says all of it: the ocid prefix is of the registered form (and the former one still answers), the
delivered quantities count only verified deliveries, and a sanction is said in the supplier party's details."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lifecycle_builders import awarded_contract, evaluate
from nats.js import JetStreamContext
from ocds_validation import PREFIX, assert_valid, releases_page
from procurement_builders import booking_completed, contract_body, signed_contract
from pydantic import ValidationError
from sourcing_builders import deliver, official

from procurement.app import create_app
from procurement.opendata.config import OcdsSettings, ocds_settings
from service_kit.testing import Clock, TestKeys

DELIVERED_AT = datetime(2027, 5, 20, 3, 30, tzinfo=UTC)


@pytest.fixture
def fresh_ocds_settings() -> Iterator[None]:
    ocds_settings.cache_clear()
    yield
    ocds_settings.cache_clear()


def test_the_ocid_prefix_is_the_registered_form_or_the_service_does_not_start(
    monkeypatch: pytest.MonkeyPatch, fresh_ocds_settings: None
) -> None:
    assert OcdsSettings().ocid_prefix == PREFIX == "ocds-lnl0fs"
    for wrong in ("ocds-linli-fs", "ocds-abc", "OCDS-LNL0FS", "ocds-lnl0fs-x", "lnl0fs"):
        with pytest.raises(ValidationError, match="ocid_prefix"):
            OcdsSettings(ocid_prefix=wrong)
    monkeypatch.setenv("LINLI_OCDS_OCID_PREFIX", "ocds-linli-fs")
    with pytest.raises(ValidationError, match="ocid_prefix"):
        create_app()


def record_milestones(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (contract,) = record["records"][0]["compiledRelease"]["contracts"]
    return {m["id"]: m for m in contract.get("implementation", {}).get("milestones", [])}


async def test_delivered_quantities_count_only_verified_deliveries(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys
) -> None:
    provider_id, offering_id = uuid.uuid4(), uuid.uuid4()
    body = contract_body(provider_id, offering_id)
    body["funded_offerings"][0]["quota"] = 3
    contract = await signed_contract(app, client, test_keys, body)
    visits = [
        booking_completed(
            offering_id=offering_id,
            provider_id=provider_id,
            occurred_at=DELIVERED_AT,
            funded_contract_id=contract["id"],
        )
        for _ in range(3)
    ]
    visits[2] = visits[2].model_copy(update={"suspect_reasons": ("completed_too_fast",)})
    await deliver(app, js, "deliverables", *visits, source="booking")

    ocid = f"{PREFIX}-{contract['id']}"
    record = (await client.get(f"/open-data/ocds/records/{ocid}")).json()
    assert_valid("record-package-schema", record)
    milestone = record_milestones(record)[f"delivery-{offering_id}"]
    assert (milestone["type"], milestone["status"]) == ("delivery", "partiallyMet")
    assert "已核实交付2次，合同资助3次" in milestone["description"]
    items = {i["id"]: i for i in record["records"][0]["compiledRelease"]["contracts"][0]["items"]}
    assert items[str(offering_id)]["quantity"] == 3
    # The contract's target (its quota, no other being stated) names the same offering as the delivery milestone.
    assert set(items) == {str(offering_id), "target-1"}
    assert (items["target-1"]["quantity"], items["target-1"]["classification"]["id"]) == (3, str(offering_id))

    # An official accepts the suspect visit after calling the resident: now all 3 count, in a new release.
    url = f"/api/v1/contracts/{contract['id']}/deliverables"
    suspect = next(d for d in (await client.get(url, headers=official(test_keys))).json()["items"] if d["review"])
    accepted = await client.post(
        f"{url}/{suspect['id']}/accept", json={"reason": "电话回访属实"}, headers=official(test_keys)
    )
    assert accepted.status_code == 200, accepted.text
    again = (await client.get(f"/open-data/ocds/records/{ocid}")).json()
    assert_valid("record-package-schema", again)
    milestone = record_milestones(again)[f"delivery-{offering_id}"]
    assert (milestone["status"], milestone["dateMet"][:10]) == ("met", "2027-05-20")
    assert "已核实交付3次，合同资助3次" in milestone["description"]
    ids = [r["id"] for r in again["records"][0]["releases"]]
    assert f"{ocid}-v{contract['id']}-3" in ids
    assert f"{ocid}-v{contract['id']}-2" not in ids

    # The ocid under the former prefix still answers, with the current ocid.
    former = await client.get(f"/open-data/ocds/records/ocds-linli-fs-{contract['id']}")
    assert former.status_code == 200, former.text
    assert former.json()["records"][0]["ocid"] == ocid


async def test_a_sanction_is_said_in_the_supplier_party_details(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    _fund, contract, provider_id = await awarded_contract(app, client, js, test_keys, clock)
    await evaluate(client, test_keys, contract["id"], "midterm", purchaser=70, third_party=65)
    await evaluate(client, test_keys, contract["id"], "final", purchaser=50, third_party=55)  # sanctioned
    package = await releases_page(client)
    sanctioned = [
        r
        for r in package["releases"]
        if any(p.get("details", {}).get("sanction") for p in r["parties"] if p["id"] == str(provider_id))
    ]
    (release,) = sanctioned
    assert release["tag"] == ["contractUpdate"]
    (party,) = [p for p in release["parties"] if p["id"] == str(provider_id)]
    note = party["details"]["sanction"]
    assert (note["cause"], note["causeName"], note["status"], note["contractID"]) == (
        "final_score_below_threshold",
        "终期评估得分低于合格线",
        "active",
        contract["id"],
    )
    # An official lifts it: a later release says so, and the compiled record shows the sanction lifted.
    sanctions = (await client.get(f"/api/v1/sanctions?provider_id={provider_id}", headers=official(test_keys))).json()
    clock.advance(days=30)
    lifted = await client.post(
        f"/api/v1/sanctions/{sanctions['items'][0]['id']}/lift",
        json={"reason": "整改到位，经复核恢复资格"},
        headers=official(test_keys),
    )
    assert lifted.status_code == 200, lifted.text
    ocid = release["ocid"]
    record = (await client.get(f"/open-data/ocds/records/{ocid}")).json()
    assert_valid("record-package-schema", record)
    (party,) = [p for p in record["records"][0]["compiledRelease"]["parties"] if p["id"] == str(provider_id)]
    assert (party["details"]["sanction"]["status"], party["details"]["sanction"]["statusName"]) == ("lifted", "已解除")
    assert "endDate" in party["details"]["sanction"]
    assert party["details"]["kind"] == "public_welfare"
