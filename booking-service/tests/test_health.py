"""Booking answers as every service does (ready, problems, its OpenAPI document) and documents the slice's routes."""

import httpx

from service_kit.testing import check_a_service_answers


async def test_ready_and_documents_the_slice_routes(client: httpx.AsyncClient) -> None:
    await check_a_service_answers(
        client,
        [
            "/api/v1/residents",
            "/api/v1/residents/{resident_id}",
            "/api/v1/availability",
            "/api/v1/bookings",
            "/api/v1/bookings/{booking_id}",
            "/api/v1/bookings/{booking_id}/confirm",
            "/api/v1/bookings/{booking_id}/reject",
            "/api/v1/bookings/{booking_id}/cancel",
            "/api/v1/bookings/{booking_id}/start",
            "/api/v1/bookings/{booking_id}/complete",
            "/api/v1/bookings/{booking_id}/no-show",
        ],
    )
