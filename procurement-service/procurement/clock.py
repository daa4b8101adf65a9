"""The procurement's sense of "now", one dependency so tests move time instead of sleeping.

Deadlines (a call's closing time, a notice's objection period) are judged against this clock; tests override
``current_time`` with a clock of their own.
"""

from datetime import datetime
from typing import Annotated

from fastapi import Depends

from service_kit.timeutil import utcnow


async def current_time() -> datetime:
    return utcnow()


Now = Annotated[datetime, Depends(current_time)]
