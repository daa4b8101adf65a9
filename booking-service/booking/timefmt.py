"""Times the booking service computes in Beijing time (``+08:00``), the district's zone: a slot's local hours.
Answers write them, like every service's, in UTC with ``Z`` (``service_kit.responses``)."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from service_kit.timeutil import SHANGHAI, as_aware


def to_local(value: datetime) -> datetime:
    return as_aware(value).astimezone(SHANGHAI)


LocalDateTime = Annotated[datetime, AfterValidator(to_local)]
