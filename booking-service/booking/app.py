"""Linli booking: Residents, availability, bookings that never overbook, funded programs, delivery evidence."""

from pathlib import Path

from fastapi import FastAPI

from booking.availability.endpoints import router as availability_router
from booking.bookings.endpoints import router as bookings_router
from booking.bookings.jobs import expire_unconfirmed_bookings, send_reminders
from booking.catalog.consumers import subscription as catalog_subscription
from booking.config import Settings
from booking.models import load_models
from booking.notifications import SmsSender, sms_sender
from booking.residents.endpoints import internal_router as residents_internal_router
from booking.residents.endpoints import router as residents_router
from service_kit.app import ServiceSpec, create_service_app

SERVICE_DIR = Path(__file__).resolve().parent.parent

load_models()


def build_spec(settings: Settings | None = None, *, sender: SmsSender | None = None) -> ServiceSpec:
    """The service; ``sender`` (default: the one the settings name) carries the reminders' SMS."""
    settings = settings or Settings()
    return ServiceSpec(
        name="booking",
        title="Linli booking",
        description="Residents, availability, bookings that never overbook, funded programs, delivery evidence.",
        settings=settings,
        routers=[residents_router, availability_router, bookings_router, residents_internal_router],
        subscriptions=[catalog_subscription],
        background_jobs=[expire_unconfirmed_bookings, send_reminders(sender or sms_sender(settings))],
    )


def create_app(settings: Settings | None = None, *, sender: SmsSender | None = None) -> FastAPI:
    return create_service_app(build_spec(settings, sender=sender))
