"""Every HSDS export validates against the official HSDS 3.0 schemas (standards/hsds-3.0 in the repository)."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from registry.opendata.hsds_openapi import TEMPLATE_PATH

HSDS = Path(__file__).resolve().parents[3] / "standards" / "hsds-3.0"
JIAHE_CENTER = "6a1f0c8e-3b7d-4c61-9d2e-5f0b8a7c1001"
PROBLEM = "application/problem+json"


@cache
def validator(name: str) -> Draft202012Validator:
    path = HSDS / "compiled" / f"{name}.json"
    if not path.exists():
        path = HSDS / f"{name}.json"
    schema = json.loads(path.read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def page_validator() -> Draft202012Validator:
    openapi = json.loads(TEMPLATE_PATH.read_text())
    page = openapi["components"]["schemas"]["Page"]
    required = ["total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty"]
    return Draft202012Validator({**page, "required": [*required], "additionalProperties": True})


def assert_valid(name: str, document: dict[str, Any]) -> None:
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


async def hsds_page(client: httpx.AsyncClient, path: str, item_schema: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/open-data/hsds{path}", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    page_validator().validate(page)
    assert isinstance(page["contents"], list)
    for item in page["contents"]:
        assert_valid(item_schema, item)
    return page


def test_the_schemas_refuse_what_is_not_hsds() -> None:
    """The validation below is not vacuous: a service without a name, with a null field, a bad status or a
    malformed id fails."""
    good = {"id": str(uuid.uuid4()), "name": "老年餐桌", "status": "active"}
    assert_valid("service", good)
    bad_document = {**good, "required_documents": [{"id": good["id"], "service_id": good["id"], "document": None}]}
    for bad in (
        {**good, "name": None},
        {**good, "status": "open"},
        {**good, "id": "not-a-uuid"},
        {"id": good["id"]},
        {**good, "eligibility_description": None},
        {**good, "required_documents": ["身份证"]},
        bad_document,
    ):
        assert list(validator("service").iter_errors(bad)), bad


@pytest.fixture
async def catalog(registry, client: httpx.AsyncClient) -> dict[str, Any]:
    xiaokang = await registry.organization(name_zh="小康之家", name_en="Xiaokang", contact_phone="13801010001")
    hidden = await registry.organization(name_zh="待审核机构", verified=False)
    meal = await registry.offering(xiaokang["id"], publish=True, center_id=JIAHE_CENTER, price_fen=0)
    care = await registry.offering(
        xiaokang["id"],
        publish=True,
        category_code="elderly.home_care",
        name_zh="上门助浴",
        mode="door_to_door",
        lat=39.7418,
        lng=116.1593,
        service_radius_m=3000,
        service_communities=["gongchen.jiazhou_shuijun"],
        eligibility_description="房山区80岁以上或独居的老人",
        required_documents=["身份证", "北京通-养老助残卡"],
    )
    far = await registry.offering(
        xiaokang["id"], publish=True, category_code="culture.activities", lat=39.7700, lng=116.2150
    )
    draft = await registry.offering(xiaokang["id"], name_zh="草稿")
    return {"xiaokang": xiaokang, "hidden": hidden, "meal": meal, "care": care, "far": far, "draft": draft}


async def test_about_names_the_public_openapi_document_whatever_the_host(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Host": "evil.example"}, {"X-Forwarded-Host": "evil.example"}):
        response = await client.get("/open-data/hsds/", headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert body["version"] == "3.0"
        assert body["profile"].startswith("https://")
        # The configured public address (LINLI_PUBLIC_BASE_URL; its default in tests), never the caller's Host.
        assert body["openapi_url"] == "http://127.0.0.1:8000/open-data/hsds/openapi.json"


async def test_the_openapi_document_is_open_referrals_with_what_this_registry_answers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/open-data/hsds/openapi.json", headers={"Host": "evil.example"})
    assert response.status_code == 200
    document = response.json()
    template = json.loads(TEMPLATE_PATH.read_text())
    assert document["openapi"] == template["openapi"]
    assert document["servers"] == [{"url": "http://127.0.0.1:8000/open-data/hsds"}]
    assert "REQUIRED" not in json.dumps(document["info"])
    assert "evil.example" not in json.dumps(document)
    # Only what is answered here: no taxonomy or service-at-location by id, no full-text search.
    assert sorted(document["paths"]) == [
        "/",
        "/organizations",
        "/organizations/{id}",
        "/service_at_locations",
        "/services",
        "/services/{id}",
        "/taxonomies",
        "/taxonomy_terms",
    ]
    shared = document["components"]["parameters"]

    def names(path: str) -> set[str]:
        return {
            shared[p["$ref"].rsplit("/", 1)[1]]["name"] if "$ref" in p else p["name"]
            for p in document["paths"][path]["get"]["parameters"]
        }

    assert {"page", "per_page", "taxonomy_term_id", "organization_id", "modified_after", "proximity"} <= names(
        "/services"
    )
    assert {"lat", "lng", "community_code"} <= names("/services")
    assert not {"search", "format", "full", "minimal"} & names("/services")
    # A paged call as the document describes it is answered.
    listed = await client.get("/open-data/hsds/services", params={"page": 1, "per_page": 5})
    assert listed.status_code == 200


async def test_services_are_valid_hsds_and_only_published(client: httpx.AsyncClient, catalog: dict[str, Any]) -> None:
    page = await hsds_page(client, "/services", "service_list")
    ids = {s["id"] for s in page["contents"]}
    assert ids == {catalog["meal"]["id"], catalog["care"]["id"], catalog["far"]["id"]}
    assert page["total_items"] == 3
    assert page["page_number"] == 1
    assert page["first_page"] is True
    assert page["last_page"] is True
    assert page["empty"] is False
    assert page["size"] == 3
    text = json.dumps(page, ensure_ascii=False)
    assert "13801010001" not in text  # no phone numbers in open data

    full = (await client.get(f"/open-data/hsds/services/{catalog['care']['id']}")).json()
    assert_valid("service", full)
    assert full["attributes"][0]["taxonomy_term"]["code"] == "elderly.home_care"
    assert {a["name"] for a in full["service_areas"]} == {"服务半径3000米", "加州水郡社区"}
    assert full["schedules"][0]["byday"] == "MO"
    assert full["cost_options"][0]["amount"] == 15.0
    # Who it is for and what to bring, in HSDS 3.0's own fields (validated above against the official schema).
    assert full["eligibility_description"] == "房山区80岁以上或独居的老人"
    assert [(d["document"], d["service_id"]) for d in full["required_documents"]] == [
        ("身份证", catalog["care"]["id"]),
        ("北京通-养老助残卡", catalog["care"]["id"]),
    ]
    assert len({d["id"] for d in full["required_documents"]}) == 2
    listed = next(s for s in page["contents"] if s["id"] == catalog["care"]["id"])
    assert listed["required_documents"] == full["required_documents"]  # the same ids on every export
    meal = (await client.get(f"/open-data/hsds/services/{catalog['meal']['id']}")).json()
    assert_valid("service", meal)
    assert meal["service_at_locations"][0]["location_id"] == JIAHE_CENTER
    assert meal["fees_description"] == "免费"
    assert "eligibility_description" not in meal  # a fact Linli does not have is left out, never null
    assert meal["required_documents"] == []

    for unknown in (catalog["draft"]["id"], str(uuid.uuid4())):
        response = await client.get(f"/open-data/hsds/services/{unknown}")
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM


async def test_paging(client: httpx.AsyncClient, catalog: dict[str, Any]) -> None:
    first = await hsds_page(client, "/services", "service_list", per_page=2)
    second = await hsds_page(client, "/services", "service_list", per_page=2, page=2)
    beyond = await hsds_page(client, "/services", "service_list", per_page=2, page=3)
    assert (first["total_pages"], first["size"], first["first_page"], first["last_page"]) == (2, 2, True, False)
    assert (second["size"], second["first_page"], second["last_page"]) == (1, False, True)
    assert beyond["empty"] is True
    assert {s["id"] for s in first["contents"] + second["contents"]} == {
        catalog[k]["id"] for k in ("meal", "care", "far")
    }


async def test_service_filters(client: httpx.AsyncClient, catalog: dict[str, Any]) -> None:
    terms = await hsds_page(client, "/taxonomy_terms", "taxonomy_term", per_page=200)
    term = {t["code"]: t["id"] for t in terms["contents"]}
    elderly = await hsds_page(client, "/services", "service_list", taxonomy_term_id=term["elderly"])
    assert {s["id"] for s in elderly["contents"]} == {catalog["meal"]["id"], catalog["care"]["id"]}
    leaf = await hsds_page(client, "/services", "service_list", taxonomy_term_id=term["elderly.home_care"])
    assert [s["id"] for s in leaf["contents"]] == [catalog["care"]["id"]]
    by_org = await hsds_page(client, "/services", "service_list", organization_id=catalog["xiaokang"]["id"])
    assert by_org["total_items"] == 3
    other = await hsds_page(client, "/services", "service_list", organization_id=str(uuid.uuid4()))
    assert other["empty"] is True
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await hsds_page(client, "/services", "service_list", modified_after=future))["total_items"] == 0
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await hsds_page(client, "/services", "service_list", modified_after=past))["total_items"] == 3
    near = await hsds_page(client, "/services", "service_list", proximity=2000, community_code="gongchen.shidai_jiahe")
    assert {s["id"] for s in near["contents"]} == {catalog["meal"]["id"], catalog["care"]["id"]}
    point = await hsds_page(client, "/services", "service_list", proximity=500, lat=39.7700, lng=116.2150)
    assert [s["id"] for s in point["contents"]] == [catalog["far"]["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"proximity": 1000},
        {"taxonomy_term_id": str(uuid.uuid4())},
        {"taxonomy_term_id": "elderly"},
        {"page": 0},
        {"per_page": 10_000},
        {"modified_after": "last week"},
        {"proximity": -5, "lat": 39.7, "lng": 116.1},
    ],
)
async def test_bad_filters_are_422(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    response = await client.get("/open-data/hsds/services", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


async def test_organizations(client: httpx.AsyncClient, catalog: dict[str, Any]) -> None:
    page = await hsds_page(client, "/organizations", "organization_list")
    ids = {o["id"] for o in page["contents"]}
    assert catalog["xiaokang"]["id"] in ids
    assert catalog["hidden"]["id"] not in ids  # not verified: not public
    full = (await client.get(f"/open-data/hsds/organizations/{catalog['xiaokang']['id']}")).json()
    assert_valid("organization", full)
    assert len(full["services"]) == 3
    assert "contact_phone" not in json.dumps(full)
    assert (await client.get(f"/open-data/hsds/organizations/{catalog['hidden']['id']}")).status_code == 404


async def test_service_at_locations(client: httpx.AsyncClient, catalog: dict[str, Any]) -> None:
    page = await hsds_page(client, "/service_at_locations", "service_at_location_list")
    by_service = {s["service_id"]: s for s in page["contents"]}
    assert set(by_service) == {catalog["meal"]["id"], catalog["care"]["id"], catalog["far"]["id"]}
    assert by_service[catalog["meal"]["id"]]["location"]["name"] == "时代家和社区服务中心"
    assert by_service[catalog["far"]["id"]]["location"]["latitude"] == 39.77


async def test_taxonomies(client: httpx.AsyncClient) -> None:
    taxonomies = await hsds_page(client, "/taxonomies", "taxonomy")
    assert taxonomies["total_items"] == 1
    taxonomy_id = taxonomies["contents"][0]["id"]
    terms = await hsds_page(client, "/taxonomy_terms", "taxonomy_term", per_page=10)
    assert terms["total_items"] == 27
    assert terms["total_pages"] == 3
    rest = await hsds_page(client, "/taxonomy_terms", "taxonomy_term", per_page=200, taxonomy_id=taxonomy_id)
    by_code = {t["code"]: t for t in rest["contents"]}
    assert by_code["elderly.meal_table"]["parent_id"] == by_code["elderly"]["id"]
    assert by_code["elderly.meal_table"]["name"] == "老年餐桌"
    other = await hsds_page(client, "/taxonomy_terms", "taxonomy_term", taxonomy_id=str(uuid.uuid4()))
    assert other["empty"] is True
