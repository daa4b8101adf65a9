from typing import ClassVar

from pydantic import Field

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "registry"

    # The 15-minute circle: how fast a resident walks (an older resident's pace), and how far the coverage
    # report looks for the nearest offering outside the circle.
    walking_speed_m_per_min: float = Field(default=80.0, gt=0, le=300)
    coverage_search_m: int = Field(default=5_000, ge=100, le=50_000)
