from typing import ClassVar

from pydantic import Field

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "procurement"

    # The public notice (公示) of approved projects runs this many working days unless an official sets another.
    notice_period_working_days: int = Field(default=5, ge=1, le=30)
