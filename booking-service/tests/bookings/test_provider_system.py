"""A provider's own system (an API key the gateway exchanged for a ``provider_system`` token) reads its bookings
with ``bookings:read`` and acts on them with ``bookings:write``; another provider's bookings stay out of reach."""

from typing import Any

BOOKINGS = "/api/v1/bookings"


async def test_a_providers_system_reads_and_confirms_only_its_own_bookings(world: Any) -> None:
    ours, theirs = await world.offering(), await world.offering()
    resident = await world.resident()
    mine = (await world.book(ours, resident, world.at(world.tomorrow(), 9))).json()
    other = (await world.book(theirs, resident, world.at(world.tomorrow(), 10))).json()

    def system(*scopes: str) -> dict[str, str]:
        return world.keys.headers("provider_system", provider_id=ours.provider_id, scope=" ".join(scopes))

    reader, writer = system("bookings:read"), system("bookings:read", "bookings:write")
    listed = await world.client.get(BOOKINGS, headers=reader)
    assert listed.status_code == 200, listed.text
    assert {b["id"] for b in listed.json()["items"]} == {mine["id"]}
    assert (await world.client.get(f"{BOOKINGS}/{mine['id']}", headers=reader)).status_code == 200
    assert (await world.client.get(f"{BOOKINGS}/{other['id']}", headers=reader)).status_code == 404

    # Reading is not acting.
    refused = await world.client.post(f"{BOOKINGS}/{mine['id']}/confirm", headers=reader)
    assert refused.status_code == 403, refused.text
    confirmed = await world.client.post(f"{BOOKINGS}/{mine['id']}/confirm", headers=writer)
    assert (confirmed.status_code, confirmed.json()["status"]) == (200, "confirmed")
    assert (await world.client.post(f"{BOOKINGS}/{other['id']}/confirm", headers=writer)).status_code == 404

    # A token without a bookings scope (say, offerings only) sees no bookings at all.
    unscoped = await world.client.get(BOOKINGS, headers=system("offerings:write"))
    assert unscoped.status_code == 403
