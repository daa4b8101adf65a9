"""Linli feedback: Verified ratings, complaints with an SLA, needs and suggestions, scores, Open311."""

from pathlib import Path

from fastapi import FastAPI

from feedback.complaints import service as complaints_service
from feedback.complaints.documents import router as complaint_documents_router
from feedback.complaints.endpoints import router as complaints_router
from feedback.complaints.metrics import complaints_past_sla
from feedback.config import Settings
from feedback.documents import TABLES as DOCUMENT_TABLES
from feedback.models import load_models
from feedback.needs import consumers as needs_consumers
from feedback.needs.endpoints import router as needs_router
from feedback.open311.endpoints import router as open311_router
from feedback.ratings import consumers as ratings_consumers
from feedback.ratings.endpoints import router as ratings_router
from feedback.reference import consumers as reference_consumers
from feedback.reports.endpoints import router as reports_router
from feedback.residents import consumers as residents_consumers
from feedback.residents import erasure as residents_erasure
from feedback.scores import consumers as scores_consumers
from feedback.scores import service as scores_service
from feedback.scores.endpoints import router as scores_router
from service_kit.app import ServiceSpec, create_service_app
from service_kit.documents import Documents, documents_router

SERVICE_DIR = Path(__file__).resolve().parent.parent


def build_spec(settings: Settings | None = None) -> ServiceSpec:
    load_models()
    return ServiceSpec(
        name="feedback",
        title="Linli feedback",
        description="Verified ratings, complaints with an SLA, needs and suggestions, scores, Open311.",
        settings=settings or Settings(),
        # Reports first: /complaints/report must not be taken for a complaint id.
        routers=[
            reports_router,
            ratings_router,
            scores_router,
            complaints_router,
            complaint_documents_router,
            needs_router,
            open311_router,
            documents_router("feedback"),
        ],
        subscriptions=[
            ratings_consumers.subscription,
            scores_consumers.subscription,
            reference_consumers.reference_data,
            reference_consumers.bookings,
            residents_consumers.subscription,
            residents_erasure.subscription,
            needs_consumers.subscription,
        ],
        background_jobs=[complaints_service.run_sla_sweep, scores_service.run_score_publisher],
        metrics_probes=[complaints_past_sla],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    spec = build_spec(settings)
    app = create_service_app(spec)
    app.state.documents = Documents.from_settings("feedback", DOCUMENT_TABLES, spec.settings)
    return app
