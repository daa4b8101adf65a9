"""The gateway's sense of "now" for rules judged by a request (a lockout's end, a phone's codes of the day): one
dependency, so tests move time instead of waiting."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends

from service_kit.timeutil import utcnow


async def current_time() -> datetime:
    return utcnow()


Now = Annotated[datetime, Depends(current_time)]
