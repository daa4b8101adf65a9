"""Linli booking: Residents, availability, bookings that never overbook, funded programs, delivery evidence."""

from pathlib import Path

from fastapi import FastAPI

from booking.config import Settings
from service_kit.app import ServiceSpec, create_service_app

SERVICE_DIR = Path(__file__).resolve().parent.parent


def build_spec(settings: Settings | None = None) -> ServiceSpec:
    return ServiceSpec(
        name="booking",
        title="Linli booking",
        description="Residents, availability, bookings that never overbook, funded programs, delivery evidence.",
        settings=settings or Settings(),
        routers=[],
        subscriptions=[],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(build_spec(settings))
