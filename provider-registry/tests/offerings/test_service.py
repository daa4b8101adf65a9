import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.offerings import repository, service
from registry.offerings.models import OfferingStatus
from registry.offerings.schemas import OfferingCreate, OfferingUpdate
from registry.organizations import service as organizations_service
from registry.organizations.models import OrganizationKind
from registry.organizations.schemas import OrganizationCreate
from registry.places import service as places_service
from registry.places.models import ServiceCenter
from registry.places.schemas import ServiceCenterCreate, ServiceCenterUpdate
from service_kit.auth import Principal, Role
from service_kit.errors import NotFound
from service_kit.events.tables import outbox_event

OFFICIAL = Principal(subject="official-zhao", roles=frozenset({Role.official}))


async def verified_provider(session: AsyncSession, uscc: str) -> uuid.UUID:
    data = OrganizationCreate(name_zh="房山区云呵护儿童服务站", kind=OrganizationKind.public_welfare, uscc=uscc)
    organization = await organizations_service.apply(session, data, by=OFFICIAL)
    await organizations_service.change_status(
        session, organization.id, organizations_service.VERIFY, by=OFFICIAL, reason=None
    )
    return organization.id


def draft(provider_id: uuid.UUID) -> OfferingCreate:
    return OfferingCreate.model_validate(
        {
            "provider_id": str(provider_id),
            "category_code": "children.after_school",
            "name_zh": "课后托管",
            "mode": "at_center",
            "price_fen": 0,
            "duration_minutes": 120,
            "capacity_per_slot": 15,
            "weekly_rules": [{"weekday": d, "start": "16:00", "end": "18:00"} for d in range(5)],
            "exceptions": [{"date": "2026-12-31", "kind": "open", "start": "14:00", "end": "16:00"}],
        }
    )


async def test_announced_snapshots_are_written_to_the_outbox_with_the_change(
    session: AsyncSession, registry_uscc: str
) -> None:
    provider_id = await verified_provider(session, registry_uscc)
    offering = await service.create(session, draft(provider_id), by=OFFICIAL)
    await service.update(session, offering.id, OfferingUpdate(price_fen=500), by=OFFICIAL)
    await service.publish(session, offering.id, by=OFFICIAL)
    await service.update(session, offering.id, OfferingUpdate(target_groups=["low_income"]), by=OFFICIAL)

    rows = (
        await session.execute(
            select(outbox_event.c.type, outbox_event.c.data)
            .where(outbox_event.c.type.like("linli.offering.%"))
            .order_by(outbox_event.c.seq)
        )
    ).all()
    assert [(r.type, r.data["version"]) for r in rows] == [
        ("linli.offering.published.v1", 1),
        ("linli.offering.updated.v1", 2),
    ]
    published = rows[0].data
    assert published["provider_name"] == "房山区云呵护儿童服务站"
    assert published["price_fen"] == 500
    assert len(published["weekly_rules"]) == 5
    assert published["exceptions"] == [
        {"date": "2026-12-31", "kind": "open", "start": "14:00", "end": "16:00", "reason": None}
    ]
    assert rows[1].data["target_groups"] == ["low_income"]


async def test_a_write_based_on_a_stale_version_loses(session: AsyncSession, registry_uscc: str) -> None:
    provider_id = await verified_provider(session, registry_uscc)
    offering = await service.create(session, draft(provider_id), by=OFFICIAL)
    won = await repository.update_if_unchanged(
        session,
        offering.id,
        status=OfferingStatus.draft,
        version=0,
        values={"status": OfferingStatus.published, "version": 1},
    )
    lost = await repository.update_if_unchanged(
        session,
        offering.id,
        status=OfferingStatus.draft,
        version=0,
        values={"status": OfferingStatus.published, "version": 1},
    )
    assert (won, lost) == (True, False)


async def test_a_provider_admin_manages_only_its_own_offerings(session: AsyncSession, registry_uscc: str) -> None:
    provider_id = await verified_provider(session, registry_uscc)
    offering = await service.create(session, draft(provider_id), by=OFFICIAL)
    own = Principal(subject="a", roles=frozenset({Role.provider_admin}), provider_id=provider_id)
    other = Principal(subject="b", roles=frozenset({Role.provider_admin}), provider_id=uuid.uuid4())
    staff_of_provider = Principal(subject="c", roles=frozenset({Role.provider_staff}), provider_id=provider_id)
    assert (await service.publish(session, offering.id, by=own)).status == OfferingStatus.published
    for intruder in (other, staff_of_provider):
        with pytest.raises(NotFound):
            await service.withdraw(session, offering.id, by=intruder)
    with pytest.raises(NotFound):
        await service.create(session, draft(provider_id), by=other)


async def test_a_snapshot_names_the_center_an_offering_is_given_at(session: AsyncSession, registry_uscc: str) -> None:
    """Booking shows a booking's place from the snapshot, without asking the registry per row."""
    provider_id = await verified_provider(session, registry_uscc)
    center = (await session.execute(select(ServiceCenter).where(ServiceCenter.address.is_not(None)))).scalars().first()
    assert center is not None
    at_center = draft(provider_id).model_copy(update={"center_id": center.id})
    offering = await service.create(session, at_center, by=OFFICIAL)
    await service.publish(session, offering.id, by=OFFICIAL)
    own_point = draft(provider_id).model_copy(update={"lat": 39.73, "lng": 116.14, "name_zh": "四点半课堂"})
    elsewhere = await service.create(session, own_point, by=OFFICIAL)
    await service.publish(session, elsewhere.id, by=OFFICIAL)

    rows = await session.execute(
        select(outbox_event.c.data)
        .where(outbox_event.c.type == "linli.offering.published.v1")
        .order_by(outbox_event.c.seq)
    )
    places = [(r.data["name_zh"], r.data["place_name"], r.data["place_address"]) for r in rows]
    assert places == [("课后托管", center.name_zh, center.address), ("四点半课堂", None, None)]


async def snapshots_since(session: AsyncSession, seq: int) -> list[tuple[str, dict[str, Any]]]:
    rows = await session.execute(
        select(outbox_event.c.type, outbox_event.c.data)
        .where(outbox_event.c.type.like("linli.offering.%"), outbox_event.c.seq > seq)
        .order_by(outbox_event.c.seq)
    )
    return [(r.type, r.data) for r in rows]


async def last_seq(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(outbox_event.c.seq), 0))) or 0)


async def test_a_renamed_or_moved_center_announces_each_offering_given_there_again(
    session: AsyncSession, registry_uscc: str
) -> None:
    """Booking copies an offering's place from its snapshot: when the gazetteer renames a center, gives it a new
    address or moves it, each offering there that booking knows (published or withdrawn) is announced again at its
    next version, in the same transaction; a draft, or an offering elsewhere, is not."""
    provider_id = await verified_provider(session, registry_uscc)
    center = await places_service.add_center(
        session,
        ServiceCenterCreate(name_zh="加州水郡社区服务中心", address="拱辰街道加州水郡1号", lat=39.742, lng=116.159),
    )
    at_center = draft(provider_id).model_copy(update={"center_id": center.id})
    published = await service.create(session, at_center, by=OFFICIAL)
    await service.publish(session, published.id, by=OFFICIAL)
    withdrawn = await service.create(session, at_center.model_copy(update={"name_zh": "周末托管"}), by=OFFICIAL)
    await service.publish(session, withdrawn.id, by=OFFICIAL)
    await service.withdraw(session, withdrawn.id, by=OFFICIAL)
    await service.create(session, at_center.model_copy(update={"name_zh": "暑期托管"}), by=OFFICIAL)
    elsewhere = await service.create(
        session, draft(provider_id).model_copy(update={"lat": 39.73, "lng": 116.14}), by=OFFICIAL
    )
    await service.publish(session, elsewhere.id, by=OFFICIAL)

    seq = await last_seq(session)
    await places_service.update_center(
        session, center.id, ServiceCenterUpdate(name_zh="加州水郡邻里中心", address="拱辰街道加州水郡2号")
    )
    announced = [
        (t, d["offering_id"], d["version"], d["place_name"], d["place_address"], d["status"])
        for t, d in await snapshots_since(session, seq)
    ]
    assert sorted(announced) == sorted(
        [
            ("linli.offering.updated.v1", str(published.id), 2, "加州水郡邻里中心", "拱辰街道加州水郡2号", "published"),
            ("linli.offering.updated.v1", str(withdrawn.id), 3, "加州水郡邻里中心", "拱辰街道加州水郡2号", "withdrawn"),
        ]
    )
    # Its opening hours are not the offerings' place: nothing is announced.
    seq = await last_seq(session)
    hours = [{"weekday": 0, "start": "08:00", "end": "18:00"}]
    await places_service.update_center(session, center.id, ServiceCenterUpdate.model_validate({"hours": hours}))
    assert await snapshots_since(session, seq) == []
    # A move takes the offerings with it, and tells booking where they are now.
    await places_service.update_center(session, center.id, ServiceCenterUpdate(lat=39.75, lng=116.16))
    [(_, moved)] = [s for s in await snapshots_since(session, seq) if s[1]["offering_id"] == str(published.id)]
    assert (moved["version"], moved["latitude"], moved["longitude"]) == (3, 39.75, 116.16)
    offering = await repository.get(session, published.id)
    assert offering is not None
    assert (offering.lat, offering.lng, offering.version) == (39.75, 116.16, 3)
