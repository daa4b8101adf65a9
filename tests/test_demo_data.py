"""The demo data `make run` loads goes in through the public API, and loading it again changes nothing."""

from __future__ import annotations

import httpx
import pytest

from .conftest import DevStack, login

pytestmark = pytest.mark.stack


def test_demo_data_loads_and_reloads(stack: DevStack, gateway: httpx.Client) -> None:
    from demo_data import ORGANIZATIONS, RESIDENTS, load_demo_data

    first = load_demo_data(stack.gateway_url)
    second = load_demo_data(stack.gateway_url)
    assert first == second
    assert first["counts"] == {
        "providers": len(ORGANIZATIONS),
        "offerings": sum(len(o["offerings"]) for o in ORGANIZATIONS),
        "contracts": 1,
        "residents": len(RESIDENTS),
    }
    operator = login(gateway, "operator")
    found = gateway.get("/api/v1/residents", headers=operator, params={"phone": RESIDENTS[0]["phone"]})
    assert found.status_code == 200, found.text
    offerings = gateway.get("/api/v1/offerings", params={"limit": 200}).json()["items"]
    names = {o["name_zh"] for o in offerings}
    assert "时代家和老年餐桌" in names
    # Every demo provider can sign in with the documented password.
    for spec in ORGANIZATIONS:
        login(gateway, spec["username"])
