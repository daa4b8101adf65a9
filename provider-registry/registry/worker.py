"""``python -m registry.worker``: the registry's outbox relay and consumers without its HTTP API."""

import asyncio

from registry.app import build_spec
from service_kit.worker import run_worker

if __name__ == "__main__":
    asyncio.run(run_worker(build_spec()))
