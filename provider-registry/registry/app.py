"""The provider registry: organizations, the service catalog, the 15-minute circle, webhooks, HSDS."""

from pathlib import Path

from fastapi import FastAPI

from registry.categories.endpoints import router as categories_router
from registry.circle.endpoints import router as circle_router
from registry.config import Settings
from registry.models import load_models
from registry.offerings.endpoints import router as offerings_router
from registry.opendata.endpoints import router as opendata_router
from registry.organizations.consumers import subscription as organization_standing
from registry.organizations.endpoints import router as organizations_router
from registry.places.endpoints import router as places_router
from registry.qualifications.endpoints import router as qualifications_router
from registry.reference.answers import READ_MOSTLY
from registry.reference.endpoints import router as reference_router
from registry.reference.service import announce_reference_data
from registry.webhooks.consumers import subscription as webhook_deliveries
from registry.webhooks.endpoints import router as webhooks_router
from registry.webhooks.models import SEALED as webhook_secrets
from registry.webhooks.sender import send_webhooks
from service_kit.app import ServiceSpec, create_service_app
from service_kit.protection import resealing

SERVICE_DIR = Path(__file__).resolve().parent.parent

load_models()


def build_spec(settings: Settings | None = None) -> ServiceSpec:
    return ServiceSpec(
        name="registry",
        title="Linli provider registry",
        description="Organizations, the service catalog, the 15-minute circle, webhooks, HSDS open data.",
        settings=settings or Settings(),
        routers=[
            organizations_router,
            categories_router,
            offerings_router,
            places_router,
            circle_router,
            qualifications_router,
            opendata_router,
            webhooks_router,
            reference_router,
            # The gateway asks here which read-mostly answers changed (it keeps copies of the public ones).
            READ_MOSTLY.router(),
        ],
        subscriptions=[organization_standing, webhook_deliveries],
        background_jobs=[send_webhooks, announce_reference_data, resealing(webhook_secrets)],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(build_spec(settings))
