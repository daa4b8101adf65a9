"""The provider registry: organizations, the service catalog, the 15-minute circle, webhooks, HSDS."""

from pathlib import Path

from fastapi import FastAPI

from registry.config import Settings
from service_kit.app import ServiceSpec, create_service_app

SERVICE_DIR = Path(__file__).resolve().parent.parent


def build_spec(settings: Settings | None = None) -> ServiceSpec:
    return ServiceSpec(
        name="registry",
        title="Linli provider registry",
        description="Organizations, the service catalog, the 15-minute circle, webhooks, HSDS open data.",
        settings=settings or Settings(),
        routers=[],
        subscriptions=[],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(build_spec(settings))
