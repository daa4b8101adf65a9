"""Which background tasks are waiting rather than working, so that a shutdown can tell them apart.

A task waiting (a job's sleep between passes, a consumer's NATS fetch, the relay's poll) is cancelled at once when
the service stops; one inside a unit of work (a database transaction) is let finish it, because a task cancelled
inside a database call leaves SQLAlchemy resetting the connection under it (a logged traceback at every
deploy, and on SQLite a close that once hung)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class IdleTasks:
    def __init__(self, stopping: asyncio.Event | None = None) -> None:
        self.stopping = stopping or asyncio.Event()
        self._waiting: set[asyncio.Task[object]] = set()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """The current task is waiting for as long as the block runs."""
        task = asyncio.current_task()
        if task is not None:
            self._waiting.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._waiting.discard(task)

    def is_waiting(self, task: asyncio.Task[object]) -> bool:
        return task in self._waiting

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or until the service stops (a job's loop then ends at its ``runtime.running``)."""
        with self.waiting(), contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
