"""Linli booking: Residents, availability, bookings that never overbook, funded programs, delivery evidence."""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from booking.availability.endpoints import router as availability_router
from booking.bookings.endpoints import router as bookings_router
from booking.bookings.evidence_photos import router as evidence_photos_router
from booking.bookings.jobs import alert_provider_missed, expire_unconfirmed_bookings, send_reminders
from booking.calls.endpoints import router as calls_router
from booking.catalog.consumers import subscription as catalog_subscription
from booking.communities.consumers import subscription as communities_subscription
from booking.communities.models import SEALED as COMMUNITY_SEALED
from booking.config import Settings
from booking.documents import TABLES as DOCUMENT_TABLES
from booking.entitlements.endpoints import router as entitlements_router
from booking.entitlements.jobs import open_eligibility_rechecks
from booking.metrics import bookings_by_channel_and_status
from booking.models import load_models
from booking.notifications.consumers import subscription as notifications_subscription
from booking.notifications.endpoints import router as notifications_router
from booking.notifications.jobs import deliver_sms
from booking.notifications.models import SEALED as NOTIFICATION_SEALED
from booking.replacements.endpoints import router as replacements_router
from booking.replacements.jobs import end_expired_funding
from booking.residents.endpoints import internal_router as residents_internal_router
from booking.residents.endpoints import router as residents_router
from booking.residents.models import SEALED
from booking.series.endpoints import router as series_router
from booking.series.jobs import extend_series
from booking.urgent.endpoints import router as urgent_router
from booking.waitlist.consumers import subscription as waitlist_subscription
from booking.waitlist.endpoints import residents_router as resident_waitlist_router
from booking.waitlist.endpoints import router as waitlist_router
from booking.waitlist.jobs import pass_on_unanswered_offers
from booking.waitlist.service import OfferTerms
from booking.worklist.endpoints import router as worklist_router
from service_kit.app import ServiceSpec, create_service_app
from service_kit.documents import Documents, documents_router
from service_kit.notify.settings import sms_sender
from service_kit.notify.sms import SmsSender
from service_kit.protection import resealing
from service_kit.timeutil import utcnow

SERVICE_DIR = Path(__file__).resolve().parent.parent

load_models()


def build_spec(
    settings: Settings | None = None, *, sender: SmsSender | None = None, clock: Callable[[], datetime] | None = None
) -> ServiceSpec:
    """The service; ``sender`` (default: the one the settings name) carries residents' SMS; ``clock`` (default
    ``utcnow``) is the time the funding-end sweep judges contracts' last days by, and the notifier its quiet hours
    and retries."""
    settings = settings or Settings()
    sender = sender or sms_sender(settings)
    clock = clock or utcnow
    return ServiceSpec(
        name="booking",
        title="Linli booking",
        description="Residents, availability, bookings that never overbook, funded programs, delivery evidence.",
        settings=settings,
        # Before the bookings' own routes: ``/api/v1/bookings/replacements`` is no booking id.
        routers=[
            residents_router,
            resident_waitlist_router,
            entitlements_router,
            calls_router,
            urgent_router,
            worklist_router,
            availability_router,
            replacements_router,
            series_router,
            waitlist_router,
            bookings_router,
            evidence_photos_router,
            residents_internal_router,
            notifications_router,
            documents_router("booking"),
        ],
        subscriptions=[
            catalog_subscription,
            communities_subscription,
            notifications_subscription(clock, quiet_hours=settings.sms_quiet_hours),
            waitlist_subscription(clock, OfferTerms.of(settings)),
        ],
        background_jobs=[
            expire_unconfirmed_bookings,
            alert_provider_missed,
            send_reminders(clock),
            deliver_sms(sender, clock),
            end_expired_funding(clock),
            open_eligibility_rechecks(clock),
            extend_series(clock),
            pass_on_unanswered_offers(clock),
            resealing([*SEALED, *NOTIFICATION_SEALED, *COMMUNITY_SEALED]),
        ],
        metrics_probes=[bookings_by_channel_and_status],
    )


def create_app(
    settings: Settings | None = None, *, sender: SmsSender | None = None, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    settings = settings or Settings()
    sender = sender or sms_sender(settings)
    app = create_service_app(build_spec(settings, sender=sender, clock=clock))
    # The admins' view of the fake sender (``/api/v1/notifications/sms-outbox``) reads the one the worker sends with.
    app.state.sms_sender = sender
    app.state.documents = Documents.from_settings("booking", DOCUMENT_TABLES, settings, clock=clock or utcnow)
    return app
