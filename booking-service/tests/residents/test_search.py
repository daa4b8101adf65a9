"""The console's one search box (``q``): an operator finds a caller by phone, by the last digits of it, by ID
number, by name, by the name's pinyin or its initials (``zgl`` finds 张桂兰), or by part of the address; a renamed
resident is found by the new name's initials only; erased records are never found by name."""

from typing import Any

import httpx
import pytest
from stdnum.cn import ric

from service_kit.testing import TestKeys

pytestmark = pytest.mark.usefixtures("gazetteer")

RESIDENTS = "/api/v1/residents"
ID_ZHANG = "11011119400101002" + ric.calc_check_digit("11011119400101002" + "0")  # it reads all but the last


async def register(client: httpx.AsyncClient, keys: TestKeys, name: str, phone: str, **more: Any) -> dict[str, Any]:
    body = {"name": name, "phone": phone, "consent": {"version": "2026-11", "channel": "phone"}, **more}
    response = await client.post(RESIDENTS, json=body, headers=keys.headers("operator"))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def names_found(client: httpx.AsyncClient, keys: TestKeys, q: str) -> list[str]:
    response = await client.get(RESIDENTS, params={"q": q}, headers=keys.headers("operator"))
    assert response.status_code == 200, response.text
    return [r["name"] for r in response.json()["items"]]


async def test_one_box_finds_a_caller_by_whatever_the_operator_has(
    client: httpx.AsyncClient, test_keys: TestKeys
) -> None:
    await register(
        client, test_keys, "张桂兰", "13812345678", id_card_number=ID_ZHANG, address="长阳镇时代家和3号楼2单元101"
    )
    await register(client, test_keys, "张国梁", "13900001111", address="拱辰街道西路5号")
    await register(client, test_keys, "王秀英", "13700005678")

    assert await names_found(client, test_keys, "zgl") == ["张桂兰", "张国梁"]  # both 张 G L: two to tell apart
    assert await names_found(client, test_keys, "ZGL") == ["张桂兰", "张国梁"]
    assert await names_found(client, test_keys, "zhanggui") == ["张桂兰"]
    assert await names_found(client, test_keys, "wxy") == ["王秀英"]
    assert sorted(await names_found(client, test_keys, "张")) == sorted(["张国梁", "张桂兰"])
    assert await names_found(client, test_keys, "3号楼") == ["张桂兰"]  # part of the address
    assert await names_found(client, test_keys, "138 1234 5678") == ["张桂兰"]
    assert await names_found(client, test_keys, "5678") == ["张桂兰", "王秀英"]  # the last digits
    assert await names_found(client, test_keys, ID_ZHANG) == ["张桂兰"]
    assert await names_found(client, test_keys, "lxy") == []


async def test_a_renamed_resident_is_found_by_the_new_name_only(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    resident = await register(client, test_keys, "张桂兰", "13812345678")
    renamed = await client.patch(
        f"{RESIDENTS}/{resident['id']}", json={"name": "刘桂兰"}, headers=test_keys.headers("operator")
    )
    assert renamed.status_code == 200, renamed.text
    assert await names_found(client, test_keys, "zgl") == []
    assert await names_found(client, test_keys, "lgl") == ["刘桂兰"]
    assert await names_found(client, test_keys, "liugui") == ["刘桂兰"]


async def test_an_erased_resident_is_not_found_by_name(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    resident = await register(client, test_keys, "张桂兰", "13812345678")
    erased = await client.delete(f"{RESIDENTS}/{resident['id']}", headers=test_keys.headers("operator"))
    assert erased.status_code == 204, erased.text
    assert await names_found(client, test_keys, "zgl") == []
    assert await names_found(client, test_keys, "已删除") == []
    assert await names_found(client, test_keys, "yscjm") == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"q": "   "}, "validation_error"),
        ({"q": "x" * 51}, "validation_error"),
        ({"q": "zgl", "phone": "13812345678"}, "one_search_key"),
        ({"q": "11011119400101002X"}, "invalid_id_card"),  # an ID number with a wrong check digit
        ({"q": "123456789012345"}, "invalid_phone"),
    ],
)
async def test_a_search_that_cannot_be_answered_is_a_4xx(
    client: httpx.AsyncClient, test_keys: TestKeys, params: dict[str, str], code: str
) -> None:
    response = await client.get(RESIDENTS, params=params, headers=test_keys.headers("operator"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_wildcards_typed_into_the_box_are_plain_text(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    await register(client, test_keys, "张桂兰", "13812345678", address="长阳镇")
    assert await names_found(client, test_keys, "%") == []
    assert await names_found(client, test_keys, "_") == []


async def test_only_operators_search(client: httpx.AsyncClient, test_keys: TestKeys) -> None:
    response = await client.get(RESIDENTS, params={"q": "zgl"}, headers=test_keys.headers("provider"))
    assert response.status_code == 403
