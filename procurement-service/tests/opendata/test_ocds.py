"""The OCDS export validates against the official OCDS 1.1 schemas (standards/ocds-1.1), formats
included, for a lifecycle built through the API: need → call → applications → approval → notice → contract."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from ocds_validation import PREFIX, assert_valid, minimal_package, releases_page, validator
from procurement_builders import RATIONALE, contract_body, create_contract, signed_contract
from reporting_builders import lifecycle
from sourcing_builders import official

from procurement.app import create_app
from procurement.config import Settings
from service_kit.testing import Clock, TestKeys, assert_problem, running_app


def test_the_schemas_and_formats_refuse_what_is_not_ocds() -> None:
    """The validation below is not vacuous: a bad tag, a date that is no RFC 3339 date-time, a relative URI,
    a contract without its award, all fail."""
    assert_valid("release-package-schema", minimal_package())
    for bad in (
        {"tag": ["offer"]},
        {"date": "2026-11-27 10:00"},
        {"date": "2026-13-45T10:00:00+08:00"},
        {"tender": {"id": "t", "documents": [{"id": "d", "url": "/api/v1/notices/1"}]}},
        {"contracts": [{"id": "c"}]},
        {"initiationType": "auction"},
    ):
        assert list(validator("release-package-schema").iter_errors(minimal_package(**bad))), bad


async def test_the_lifecycle_is_published_as_valid_releases_and_records(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext, test_keys: TestKeys, clock: Clock
) -> None:
    flow = await lifecycle(app, client, js, test_keys, clock)
    # A contract signed without a call, then terminated: a second process, a direct award, signed (by the
    # procurement's clock) a week before the call was published.
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    direct = await signed_contract(
        app,
        client,
        test_keys,
        contract_body(flow.providers[1], title="绿色社区旧物回收服务", amount_fen=3_234_567),
        fund_id=flow.fund["id"],
    )
    ended = await client.post(
        f"/api/v1/contracts/{direct['id']}/terminate",
        json={"reason": "服务机构停业，联系人电话13812345678"},
        headers=official(test_keys),
    )
    assert ended.status_code == 200, ended.text

    package = await releases_page(client)  # no login
    call_ocid, direct_ocid = f"{PREFIX}-{flow.call['id']}", f"{PREFIX}-{direct['id']}"
    tags = {ocid: [r["tag"] for r in package["releases"] if r["ocid"] == ocid] for ocid in (call_ocid, direct_ocid)}
    assert tags == {
        call_ocid: [["planning", "tender"], ["tenderUpdate"], ["tenderUpdate"], ["award"], ["awardUpdate", "contract"]],
        direct_ocid: [["award", "contract"], ["contractTermination"]],
    }
    assert "links" not in package
    ids = [r["id"] for r in package["releases"]]
    assert len(set(ids)) == len(ids)
    # Releases are stable: asked again, the package is the same.
    assert (await releases_page(client)) == package

    published = json.dumps(package, ensure_ascii=False)
    for personal in ("王科长", "official-wang", "expert-li", "13812345678", str(flow.rejected["id"])):
        assert personal not in published

    first = next(r for r in package["releases"] if r["ocid"] == call_ocid)
    assert first["planning"]["budget"]["amount"] == {"amount": 1_000_000, "currency": "CNY"}
    assert first["tender"]["value"] == {"amount": 300_000, "currency": "CNY"}
    assert "项目可行性（feasibility）权重40%" in first["tender"]["awardCriteriaDetails"]
    assert [p["roles"] for p in first["parties"]] == [["buyer", "procuringEntity", "payer"]]

    # Paged one contracting process at a time (the oldest first: the direct contract was signed earlier),
    # following links.next.
    page = await releases_page(client, limit=1)
    assert {r["ocid"] for r in page["releases"]} == {direct_ocid}
    next_url = urlsplit(page["links"]["next"])
    follow = await client.get(next_url.path, params=dict(p.split("=") for p in next_url.query.split("&")))
    assert follow.status_code == 200, follow.text
    assert_valid("release-package-schema", follow.json())
    assert {r["ocid"] for r in follow.json()["releases"]} == {call_ocid}
    assert "links" not in follow.json()

    record = await client.get(f"/open-data/ocds/records/{call_ocid}")
    assert record.status_code == 200, record.text
    assert_valid("record-package-schema", record.json())
    (compiled_record,) = record.json()["records"]
    assert [r["id"] for r in compiled_record["releases"]] == [
        r["id"] for r in package["releases"] if r["ocid"] == call_ocid
    ]
    compiled = compiled_record["compiledRelease"]
    assert compiled["tag"] == ["compiled"]
    assert (compiled["tender"]["status"], compiled["tender"]["numberOfTenderers"]) == ("complete", 2)
    assert compiled["tender"]["milestones"][0]["status"] == "met"
    (award,) = compiled["awards"]
    assert (award["id"], award["status"], award["value"]["amount"]) == (flow.approved["id"], "active", 250_000)
    assert award["suppliers"] == [{"id": str(flow.providers[0]), "name": "房山区阳光社工事务所"}]
    (contract,) = compiled["contracts"]
    assert (contract["id"], contract["awardID"], contract["status"]) == (flow.contract["id"], award["id"], "active")
    assert contract["period"] == {"startDate": "2027-01-01T00:00:00+08:00", "endDate": "2027-12-31T23:59:59+08:00"}
    # The winning application's KPIs are the contract's targets, published as its items beside the funded
    # offerings: a measured target with its offering and quantity, a stated one with its wording.
    targets = flow.contract["targets"]
    assert targets, flow.contract
    published_targets = [i for i in contract["items"] if i["id"].startswith("target-")]
    assert [i["id"] for i in published_targets] == [f"target-{n}" for n in range(1, len(targets) + 1)]
    for item, target in zip(published_targets, targets, strict=True):
        assert item["description"].startswith(f"绩效目标：{target['name']}，{target['target']}")
        if target["quantity"] is not None:
            assert (item["quantity"], item["unit"], item["classification"]["id"]) == (
                target["quantity"],
                {"name": "次"},
                target["offering_id"],
            )
            assert target["offering_id"] in {i["id"] for i in contract["items"] if not i["id"].startswith("target-")}
        else:
            assert "quantity" not in item
            assert "classification" not in item
    supplier = next(p for p in compiled["parties"] if p["id"] == str(flow.providers[0]))
    assert (supplier["roles"], supplier["details"]["kind"]) == (["tenderer", "supplier"], "public_welfare")
    # The applicants are public once the call closed: both tenderers, the one not awarded a tenderer only.
    assert compiled["tender"]["tenderers"] == [
        {"id": str(p), "name": name}
        for p, name in sorted(
            zip(flow.providers, ("房山区阳光社工事务所", "绿邻环保创业工作室"), strict=True), key=lambda x: str(x[0])
        )
    ]
    loser = next(p for p in compiled["parties"] if p["id"] == str(flow.providers[1]))
    assert loser["roles"] == ["tenderer"]
    # Before the deadline nobody knew who applied.
    assert "tenderers" not in first["tender"]

    direct_record = (await client.get(f"/open-data/ocds/records/{direct_ocid}")).json()
    assert_valid("record-package-schema", direct_record)
    compiled = direct_record["records"][0]["compiledRelease"]
    assert compiled["tender"]["procurementMethod"] == "direct"
    assert compiled["tender"]["procurementMethodRationale"] == RATIONALE
    assert compiled["contracts"][0]["status"] == "terminated"
    assert compiled["contracts"][0]["value"] == {"amount": 32345.67, "currency": "CNY"}
    # A direct award stating no targets promises each funded offering's quota.
    (funded,) = direct["funded_offerings"]
    (target,) = [i for i in compiled["contracts"][0]["items"] if i["id"].startswith("target-")]
    assert (target["quantity"], target["classification"]["id"]) == (funded["quota"], funded["offering_id"])
    assert "138****5678" in compiled["contracts"][0]["description"]


async def test_drafts_are_not_published_and_unknown_processes_are_not_found(
    app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, clock: Clock
) -> None:
    # A direct award approved but not signed, one only proposed, one rejected: none is public.
    approved = await create_contract(app, client, test_keys, contract_body(uuid.uuid4()))
    await create_contract(app, client, test_keys, contract_body(uuid.uuid4()), approve=False)
    refused = await create_contract(app, client, test_keys, contract_body(uuid.uuid4()), approve=False)
    rejected = await client.post(
        f"/api/v1/contracts/{refused['id']}/direct-award/reject",
        json={"reason": "不符合单一来源条件"},
        headers=official(test_keys),
    )
    assert rejected.status_code == 200, rejected.text
    draft = {"id": approved["id"]}
    # OCDS has no empty release package: nothing published, or a page past the end, is a 404.
    assert_problem(await client.get("/open-data/ocds/releases"), 404, "no_releases")
    assert_problem(await client.get("/open-data/ocds/releases", params={"offset": 50}), 404, "no_releases")
    unknown = (f"{PREFIX}-{uuid.uuid4()}", "ocds-other-1", PREFIX + "-x")
    for ocid in (f"{PREFIX}-{draft['id']}", f"{PREFIX}-{refused['id']}", *unknown):
        assert_problem(await client.get(f"/open-data/ocds/records/{ocid}"), 404, "ocid_not_found")
    for params in ({"limit": 0}, {"limit": "many"}, {"offset": -1}):
        assert_problem(await client.get("/open-data/ocds/releases", params=params), 422)


async def test_links_name_the_configured_public_address_whatever_the_request_says(
    settings: Settings, test_keys: TestKeys
) -> None:
    """The package's links come from LINLI_PUBLIC_BASE_URL: a Host or X-Forwarded-Host of the caller's choosing
    never reaches a document that others download."""
    app = create_app(settings.model_copy(update={"public_base_url": "https://linli.fangshan.example.cn"}))
    async with running_app(app) as client:
        await signed_contract(app, client, test_keys, contract_body(uuid.uuid4()))
        for hostile in (
            {},
            {"Host": "evil.example"},
            {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
            {"X-Forwarded-Host": "evil.example/<script>"},
        ):
            response = await client.get("/open-data/ocds/releases", params={"limit": 1}, headers=hostile)
            assert response.status_code == 200, response.text
            package = response.json()
            assert package["uri"] == "https://linli.fangshan.example.cn/open-data/ocds/releases?limit=1"
            assert "evil.example" not in json.dumps(package)
