from typing import Annotated, ClassVar, Self

from fastapi import Depends
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings, settings_dependency

# Nominal waits between a provider's webhook delivery attempts: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h,
# 20 h, 24 h. With the jitter (each wait drawn between half and all of its nominal value) a receiver that stays
# down is tried for about three days (between two and four) before the delivery is marked failed.
DEFAULT_WEBHOOK_RETRY_SCHEDULE = (
    5.0,
    300.0,
    1_800.0,
    7_200.0,
    18_000.0,
    36_000.0,
    50_400.0,
    72_000.0,
    72_000.0,
    86_400.0,
)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(**ServiceSettings.model_config, populate_by_name=True)

    service_name: ClassVar[str] = "registry"

    # The 15-minute circle: how fast a resident walks (an older resident's pace), and how far the coverage
    # report looks for the nearest offering outside the circle.
    walking_speed_m_per_min: float = Field(default=80.0, gt=0, le=300)
    coverage_search_m: int = Field(default=5_000, ge=100, le=50_000)

    # Reference data (registry.reference): how often the job looks for rows never announced to the other services
    # (it always looks once at start).
    reference_announce_seconds: float = Field(default=300.0, gt=0, le=86_400)

    # Webhooks to providers' systems.
    webhook_retry_schedule_seconds: tuple[float, ...] = Field(default=DEFAULT_WEBHOOK_RETRY_SCHEDULE, max_length=20)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # A sender that dies mid-attempt leaves its claim; another replica takes the delivery after the lease.
    webhook_lease_seconds: float = Field(default=60.0, gt=0, le=3_600)
    webhook_batch_size: int = Field(default=32, ge=1, le=1_000)
    webhook_max_endpoints_per_provider: int = Field(default=20, ge=1, le=1_000)
    # Delivered and failed deliveries (with their attempts) stay in the provider's log this long.
    webhook_log_retention_days: int = Field(default=30, ge=1, le=3_650)
    # Only for tests and a developer's own machine: let endpoints point at 127.0.0.1 / ::1. Private, link-local
    # and metadata addresses stay refused whatever this says.
    webhook_allow_loopback: bool = Field(
        default=False,
        validation_alias=AliasChoices("LINLI_REGISTRY_WEBHOOK_ALLOW_LOOPBACK", "LINLI_WEBHOOK_ALLOW_LOOPBACK"),
    )

    @model_validator(mode="after")
    def _no_loopback_webhooks_in_production(self) -> Self:
        if self.environment == "production" and self.webhook_allow_loopback:
            raise ValueError("webhook_allow_loopback is for tests and development, never production")
        return self


SettingsDep = Annotated[Settings, Depends(settings_dependency(Settings))]
