from typing import Annotated, ClassVar

from fastapi import Depends
from pydantic import Field

from service_kit.settings import ServiceSettings, settings_dependency

# Complaint deadlines by severity, in hours. The district's rule is "acknowledge within 24 hours, resolve within
# 7 days"; a safety complaint (high, urgent) is held to shorter deadlines.
DEFAULT_ACK_HOURS = {"low": 24, "normal": 24, "high": 12, "urgent": 2}
DEFAULT_RESOLVE_HOURS = {"low": 168, "normal": 168, "high": 72, "urgent": 24}


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "feedback"

    # LINLI_COMPLAINT_ACK_HOURS='{"urgent": 1}' overrides one severity; the others keep their default.
    complaint_ack_hours: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_ACK_HOURS))
    complaint_resolve_hours: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_RESOLVE_HOURS))
    # How often the SLA sweep looks for breached deadlines.
    complaint_sweep_seconds: float = Field(default=60.0, gt=0)
    # score.updated is emitted at most once per provider or offering in this many seconds.
    score_debounce_seconds: float = Field(default=30.0, gt=0)
    # The Open311 jurisdiction this endpoint serves: a request naming another (``jurisdiction_id``) is refused.
    open311_jurisdiction_id: str = Field(default="fangshan.beijing.cn", min_length=1, max_length=100)

    def ack_hours(self, severity: str) -> int:
        return self.complaint_ack_hours.get(severity, DEFAULT_ACK_HOURS[severity])

    def resolve_hours(self, severity: str) -> int:
        return self.complaint_resolve_hours.get(severity, DEFAULT_RESOLVE_HOURS[severity])


SettingsDep = Annotated[Settings, Depends(settings_dependency(Settings))]
