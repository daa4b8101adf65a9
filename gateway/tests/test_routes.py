import pytest

from gateway.routes import GATEWAY, ROUTE_TABLE, UPSTREAMS, owner_of


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("/api/v1/organizations", "registry"),
        ("/api/v1/organizations/7d0c/verify", "registry"),
        ("/api/v1/offerings/1/publish", "registry"),
        ("/open-data/hsds/services", "registry"),
        ("/api/v1/residents", "booking"),
        ("/api/v1/availability", "booking"),
        ("/api/v1/bookings/1/confirm", "booking"),
        ("/api/v1/rating-invitations", "feedback"),
        ("/open311/requests.json", "feedback"),
        ("/api/v1/contracts/1/sign", "procurement"),
        ("/open-data/ocds/releases", "procurement"),
        ("/api/v1/ops/booking/dead-letters", "booking"),
        ("/api/v1/ops/feedback/dead-letters/1/replay", "feedback"),
        ("/api/v1/auth/token", GATEWAY),
        ("/.well-known/jwks.json", GATEWAY),
        ("/api/v1/accounts", GATEWAY),
    ],
)
def test_owner_of_each_prefix(path: str, owner: str) -> None:
    assert owner_of(path) == owner


@pytest.mark.parametrize(
    "path", ["/", "/api/v1", "/api/v1/bookingsx", "/api/v1/ops", "/api/v1/ops/unknown/dead-letters", "/open-data"]
)
def test_no_owner_outside_the_table(path: str) -> None:
    assert owner_of(path) is None


def test_every_service_owns_its_operations_prefix() -> None:
    assert {owner for owner in ROUTE_TABLE.values()} == {GATEWAY, *UPSTREAMS}
    for name in UPSTREAMS:
        assert ROUTE_TABLE[f"/api/v1/ops/{name}"] == name
