"""``python -m feedback.worker``: the feedback's outbox relay and consumers without its HTTP API."""

import asyncio

from feedback.app import build_spec
from service_kit.worker import run_worker

if __name__ == "__main__":
    asyncio.run(run_worker(build_spec()))
