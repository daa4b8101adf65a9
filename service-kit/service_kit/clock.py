"""A request's "now", one dependency for every service, so that tests move time instead of waiting: the app's
``app.state.clock`` when it has one (a test's ``service_kit.testing.Clock``), else the time. Deadlines, visits'
windows and documents' dates are judged against it; periodic jobs take a ``now=`` or ``clock`` of their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from service_kit.timeutil import utcnow


async def current_time(request: Request) -> datetime:
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else utcnow()


Now = Annotated[datetime, Depends(current_time)]
