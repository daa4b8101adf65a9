"""``python -m procurement.worker``: the procurement's outbox relay and consumers without its HTTP API."""

import asyncio

from procurement.app import build_spec
from service_kit.worker import run_worker

if __name__ == "__main__":
    asyncio.run(run_worker(build_spec()))
