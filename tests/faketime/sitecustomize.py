"""Python start-up hook for the suite's run with the calendar moved ahead (docs/testing.md), on ``PYTHONPATH``
only for that run.

libfaketime 0.9.10 (Debian 12's) with ``DONT_FAKE_MONOTONIC=1`` rewrites every absolute ``clock_nanosleep`` as if
it were on the faked wall clock, and CPython's ``time.sleep`` sleeps until an absolute ``CLOCK_MONOTONIC``
deadline: every ``time.sleep`` fails with EINVAL. (Faking the monotonic clock instead hangs every timed lock wait,
``threading.Event.wait(0.2)`` included: ``sem_clockwait`` is not intercepted.) Here ``time.sleep`` waits in
``select`` with a relative timeout, which libfaketime leaves alone. Nothing changes without libfaketime.
"""

from __future__ import annotations

import os
import select
import time

if "faketime" in os.environ.get("LD_PRELOAD", ""):

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            select.select([], [], [], remaining)

    time.sleep = _sleep
