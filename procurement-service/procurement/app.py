"""Linli procurement: the government's purchase of community services, from need to acceptance and payment."""

from pathlib import Path

from fastapi import FastAPI

from procurement.acceptance.endpoints import router as acceptance_router
from procurement.amendments.endpoints import router as amendments_router
from procurement.audit.endpoints import router as audit_router
from procurement.calls.endpoints import router as calls_router
from procurement.config import Settings
from procurement.contracts.endpoints import router as contracts_router
from procurement.dashboard.endpoints import reporting_routers
from procurement.deliverables.consumers import subscription as deliverables_subscription
from procurement.deliverables.endpoints import router as deliverables_router
from procurement.disbursements.endpoints import router as disbursements_router
from procurement.documents.models import TABLES as DOCUMENT_TABLES
from procurement.evaluations.consumers import ratings_subscription as evaluation_ratings_subscription
from procurement.evaluations.consumers import subscription as evaluations_subscription
from procurement.evaluations.endpoints import router as evaluations_router
from procurement.funds.endpoints import router as funds_router
from procurement.kept.consumers import subscription as kept_subscription
from procurement.kept.endpoints import router as kept_router
from procurement.models import load_models
from procurement.needs.consumers import subscription as needs_subscription
from procurement.needs.endpoints import router as needs_router
from procurement.notices.endpoints import publish_router as notice_publish_router
from procurement.notices.endpoints import router as notices_router
from procurement.opendata.config import ocds_settings
from procurement.opendata.endpoints import providers_router as standing_router
from procurement.providers.consumers import offerings_subscription
from procurement.providers.consumers import subscription as providers_subscription
from procurement.reviews.endpoints import assignments_router as review_assignments_router
from procurement.reviews.endpoints import router as reviews_router
from procurement.sanctions.endpoints import router as sanctions_router
from procurement.sourcing.endpoints import router as sourcing_router
from procurement.supervision.consumers import subscription as supervision_subscription
from procurement.supervision.endpoints import router as supervision_router
from service_kit.app import ServiceSpec, create_service_app
from service_kit.documents import Documents, documents_router

SERVICE_DIR = Path(__file__).resolve().parent.parent

load_models()


def build_spec(settings: Settings | None = None) -> ServiceSpec:
    return ServiceSpec(
        name="procurement",
        title="Linli procurement",
        description=(
            "The government's purchase of services: needs, calls, applications, review, contracts, amendments, "
            "supervision, evaluation, acceptance, payment, sanctions."
        ),
        settings=settings or Settings(),
        routers=[
            *reporting_routers,
            funds_router,
            needs_router,
            calls_router,
            sourcing_router,
            reviews_router,
            review_assignments_router,
            notice_publish_router,
            notices_router,
            contracts_router,
            deliverables_router,
            kept_router,
            amendments_router,
            supervision_router,
            evaluations_router,
            acceptance_router,
            disbursements_router,
            sanctions_router,
            audit_router,
            standing_router,
            documents_router("procurement"),
        ],
        subscriptions=[
            deliverables_subscription,
            needs_subscription,
            providers_subscription,
            offerings_subscription,
            supervision_subscription,
            evaluations_subscription,
            evaluation_ratings_subscription,
            kept_subscription,
        ],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    ocds_settings()  # a wrong OCID prefix (LINLI_OCDS_OCID_PREFIX) stops the service here, not at its first export
    spec = build_spec(settings)
    app = create_service_app(spec)
    app.state.documents = Documents.from_settings("procurement", DOCUMENT_TABLES, spec.settings)
    return app
