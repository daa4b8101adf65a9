"""Linli procurement: the government's purchase of community services, from need to acceptance and payment."""

from pathlib import Path

from fastapi import FastAPI

from procurement.config import Settings
from service_kit.app import ServiceSpec, create_service_app

SERVICE_DIR = Path(__file__).resolve().parent.parent


def build_spec(settings: Settings | None = None) -> ServiceSpec:
    return ServiceSpec(
        name="procurement",
        title="Linli procurement",
        description=(
            "The government's purchase of services: needs, calls, applications, review, contracts, acceptance, payment."
        ),
        settings=settings or Settings(),
        routers=[],
        subscriptions=[],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(build_spec(settings))
