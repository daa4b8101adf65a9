"""Linli procurement: the government's purchase of community services, from need to acceptance and payment."""

from pathlib import Path

from fastapi import FastAPI

from procurement.config import Settings
from procurement.contracts.endpoints import router as contracts_router
from procurement.deliverables.consumers import subscription as deliverables_subscription
from procurement.deliverables.endpoints import router as deliverables_router
from procurement.models import load_models
from service_kit.app import ServiceSpec, create_service_app

SERVICE_DIR = Path(__file__).resolve().parent.parent

load_models()


def build_spec(settings: Settings | None = None) -> ServiceSpec:
    return ServiceSpec(
        name="procurement",
        title="Linli procurement",
        description=(
            "The government's purchase of services: needs, calls, applications, review, contracts, acceptance, payment."
        ),
        settings=settings or Settings(),
        routers=[contracts_router, deliverables_router],
        subscriptions=[deliverables_subscription],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(build_spec(settings))
