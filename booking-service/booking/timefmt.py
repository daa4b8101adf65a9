"""Times leave the booking service as ISO 8601 in Beijing time (``+08:00``), the district's zone."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from service_kit.timeutil import SHANGHAI, as_aware


def to_local(value: datetime) -> datetime:
    return as_aware(value).astimezone(SHANGHAI)


LocalDateTime = Annotated[datetime, AfterValidator(to_local)]
