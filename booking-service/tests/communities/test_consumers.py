"""Unknown communities are refused: booking learns the registry's gazetteer from ``community.upserted`` (over real
NATS), and a registration or correction naming a community it has not heard of is 422 ``unknown_community`` on
``community_code``, with nothing written."""

import uuid
from typing import Any

from sqlalchemy import func, select

from booking.communities.models import KnownCommunity
from booking.residents.models import Resident
from service_kit.events.contracts import CommunityUpserted
from service_kit.testing import eventually

RESIDENTS = "/api/v1/residents"


def community(code: str, version: int = 1, name: str = "新建社区") -> CommunityUpserted:
    return CommunityUpserted(
        code=code, street_code=code.split(".")[0], name_zh=name, lat=39.74, lng=116.16, version=version
    )


async def known(world: Any, code: str) -> KnownCommunity | None:
    async with world.sessionmaker() as session:
        return await session.get(KnownCommunity, code, populate_existing=True)


async def residents_with(world: Any, phone: str) -> int:
    async with world.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Resident).where(Resident.phone_index == world.phone_index(phone))
            )
            or 0
        )


async def test_a_community_is_known_once_the_registry_announces_it(world: Any) -> None:
    code = f"gongchen.new_{uuid.uuid4().hex[:6]}"
    phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
    body = {
        "name": "刘桂芝",
        "phone": phone,
        "community_code": code,
        "consent": {"version": "2026-11", "channel": "phone"},
    }
    operator = world.keys.headers("operator")

    refused = await world.client.post(RESIDENTS, json=body, headers=operator)
    problem = refused.json()
    assert (refused.status_code, problem["code"], problem["errors"][0]["field"]) == (
        422,
        "unknown_community",
        "community_code",
    )
    assert "try again in a few seconds" in problem["detail"]
    assert await residents_with(world, phone) == 0

    await world.publish(community(code))
    await eventually(lambda: known(world, code))
    registered = await world.client.post(RESIDENTS, json=body, headers=operator)
    assert registered.status_code == 201, registered.text
    assert registered.json()["community_code"] == code
    listed = await world.client.get(f"{RESIDENTS}/communities", params={"limit": 200}, headers=operator)
    assert code in {c["code"] for c in listed.json()["items"]}

    # A correction to an unknown community changes nothing, not even the other fields sent with it.
    moved = await world.client.patch(
        f"{RESIDENTS}/{registered.json()['id']}",
        json={"community_code": "gongchen.atlantis", "address": "别处"},
        headers=operator,
    )
    assert (moved.status_code, moved.json()["code"], moved.json()["errors"][0]["field"]) == (
        422,
        "unknown_community",
        "community_code",
    )
    still = (await world.client.get(f"{RESIDENTS}/{registered.json()['id']}", headers=operator)).json()
    assert (still["community_code"], still["address"]) == (code, None)


async def test_a_late_older_announcement_never_takes_a_community_back(world: Any) -> None:
    code = f"xilu.renamed_{uuid.uuid4().hex[:6]}"
    await world.publish(community(code, version=3, name="新名字"))
    await world.publish(community(code, version=2, name="旧名字"))
    marker = f"xilu.marker_{uuid.uuid4().hex[:6]}"
    await world.publish(community(marker))
    await eventually(lambda: known(world, marker))  # one consumer, in stream order: both before it are applied
    row = await known(world, code)
    assert row is not None
    assert (row.name_zh, row.version) == ("新名字", 3)
