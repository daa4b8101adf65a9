"""The booking's sense of "now" for rules judged by a request (when a visit may start or end), one dependency so
tests move time instead of waiting; the periodic jobs take a ``now=`` argument instead."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends

from service_kit.timeutil import utcnow


async def current_time() -> datetime:
    return utcnow()


Now = Annotated[datetime, Depends(current_time)]
