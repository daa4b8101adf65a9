"""Linli feedback: Verified ratings, complaints with an SLA, needs and suggestions, scores, Open311."""

from pathlib import Path

from fastapi import FastAPI

from feedback.config import Settings
from feedback.models import load_models
from feedback.ratings import consumers as ratings_consumers
from feedback.ratings.endpoints import router as ratings_router
from feedback.scores.endpoints import router as scores_router
from service_kit.app import ServiceSpec, create_service_app

SERVICE_DIR = Path(__file__).resolve().parent.parent


def build_spec(settings: Settings | None = None) -> ServiceSpec:
    load_models()
    return ServiceSpec(
        name="feedback",
        title="Linli feedback",
        description="Verified ratings, complaints with an SLA, needs and suggestions, scores, Open311.",
        settings=settings or Settings(),
        routers=[ratings_router, scores_router],
        subscriptions=[ratings_consumers.subscription],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(build_spec(settings))
