"""``python -m booking.worker``: the booking's outbox relay and consumers without its HTTP API."""

import asyncio

from booking.app import build_spec
from service_kit.worker import run_worker

if __name__ == "__main__":
    asyncio.run(run_worker(build_spec()))
