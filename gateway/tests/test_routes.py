import pytest

from gateway.routes import GATEWAY, ROUTE_TABLE, UPSTREAMS, matches, owner_of, timeout_for


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


@pytest.mark.parametrize(
    ("pattern", "path", "matched"),
    [
        ("/api/v1/bookings/{booking_id}/confirm", "/api/v1/bookings/7d0c/confirm", True),
        ("/api/v1/bookings/{booking_id}/confirm", "/api/v1/bookings/7d0c/x/confirm", False),
        ("/api/v1/bookings/{booking_id}", "/api/v1/bookings/", False),
        ("/api/v1/bookings", "/api/v1/bookings/", True),  # a trailing slash is the same route
        ("/open-data/**", "/open-data", True),
        ("/open-data/**", "/open-data/ocds/records/ocds-1", True),
        ("/open-data/**", "/open-datax", False),
        ("/api/v1/**/export", "/api/v1/contracts/k-1/export", True),
        ("/api/v1/**/export", "/api/v1/contracts/k-1/exporter", False),
        ("/api/v1/ops/*/dead-letters", "/api/v1/ops/booking/dead-letters", True),
    ],
)
def test_path_patterns(pattern: str, path: str, matched: bool) -> None:
    assert matches(pattern, path) is matched


def test_known_slow_routes_get_their_longer_timeout() -> None:
    assert timeout_for("/api/v1/circle/coverage", 10.0) == 60.0
    assert timeout_for("/open-data/hsds/services", 10.0) == 60.0
    assert timeout_for("/api/v1/residents/r-1/export", 10.0) == 120.0
    assert timeout_for("/api/v1/bookings", 10.0) == 10.0
    # A default set longer than a table entry wins.
    assert timeout_for("/api/v1/circle/coverage", 90.0) == 90.0
