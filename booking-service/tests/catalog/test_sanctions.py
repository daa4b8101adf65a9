"""Provider sanctions from procurement, over NATS JetStream: recorded, while the provider's contracts keep funding."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from booking.catalog import repository
from service_kit.events.contracts import ProviderRestored, ProviderSanctioned, ProviderSuspended
from service_kit.testing import eventually


def sanction(event_class: Any, provider_id: uuid.UUID, at: datetime) -> Any:
    return event_class(
        provider_id=provider_id,
        sanction_id=uuid.uuid4(),
        measure="funding_suspended",
        reason="验收不合格",
        until=None,
        occurred_at=at,
    )


async def sanctioned(world: Any, provider_id: uuid.UUID) -> bool:
    async with world.sessionmaker() as session:
        return await repository.is_sanctioned(session, provider_id)


async def test_a_sanctioned_providers_contracts_keep_funding_its_residents(world: Any) -> None:
    """A sanction bars new awards (procurement); the contracts the provider holds keep funding: bookings made
    before keep their subsidy, new ones are booked at the subsidised price, before and after a restoration."""
    offering = await world.offering(price_fen=3000, capacity_per_slot=10)
    await world.apply(world.contract_event(offering_id=offering.offering_id), source="procurement")
    elder = await world.resident(tags=["age_80_plus"])
    before = await world.book(offering, elder, world.at(world.tomorrow(), 9))
    now = datetime.now(UTC)

    await world.publish(sanction(ProviderSanctioned, offering.provider_id, now), source="procurement")
    assert await eventually(lambda: sanctioned(world, offering.provider_id))
    during = await world.book(offering, elder, world.at(world.tomorrow(), 10))
    assert during.status_code == 201, during.text
    assert (during.json()["price_fen"], during.json()["subsidy_fen"]) == (500, 2500)
    kept = await world.client.get(f"/api/v1/bookings/{before.json()['id']}", headers=world.keys.headers("operator"))
    assert (kept.json()["price_fen"], kept.json()["subsidy_fen"]) == (500, 2500)

    # An older restoration arriving late does not lift the newer sanction; a newer one does.
    await world.publish(
        sanction(ProviderRestored, offering.provider_id, now - timedelta(hours=1)), source="procurement"
    )
    await world.publish(
        sanction(ProviderRestored, offering.provider_id, now + timedelta(seconds=1)), source="procurement"
    )

    async def restored() -> bool:
        return not await sanctioned(world, offering.provider_id)

    assert await eventually(restored)
    after = await world.book(offering, elder, world.at(world.tomorrow(), 11))
    assert (after.json()["price_fen"], after.json()["subsidy_fen"]) == (500, 2500)


async def test_an_older_restoration_never_lifts_a_newer_sanction(world: Any) -> None:
    provider_id = uuid.uuid4()
    now = datetime.now(UTC)
    await world.publish(sanction(ProviderSanctioned, provider_id, now), source="procurement")
    assert await eventually(lambda: sanctioned(world, provider_id))
    await world.publish(sanction(ProviderRestored, provider_id, now - timedelta(hours=1)), source="procurement")
    marker = uuid.uuid4()
    await world.publish(sanction(ProviderSanctioned, marker, now), source="procurement")
    assert await eventually(lambda: sanctioned(world, marker))
    assert await sanctioned(world, provider_id)


async def test_a_suspended_provider_takes_no_new_bookings(world: Any) -> None:
    offering = await world.offering()
    resident = await world.resident()
    suspended = ProviderSuspended(
        provider_id=offering.provider_id, name="某服务商", kind="commercial", status="suspended", reason="整改"
    )
    await world.apply(suspended)
    refused = await world.book(offering, resident, world.at(world.tomorrow(), 9))
    assert (refused.status_code, refused.json()["code"]) == (409, "provider_suspended")
