"""``python -m gateway``: apply the gateway's migrations, then serve."""

from __future__ import annotations

import argparse

import uvicorn

from gateway.app import SERVICE_DIR, create_app
from gateway.config import GatewaySettings
from service_kit import migrations
from service_kit.server import HttpToolsProtocol


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway", description="Run the Linli gateway.")
    parser.add_argument("--host", help="interface to listen on (default: LINLI_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: LINLI_PORT or 8100)")
    parser.add_argument("--workers", type=int, help="server processes (default: LINLI_WORKERS or 1)")
    parser.add_argument(
        "--no-migrate", action="store_true", help="do not apply migrations first (a deploy job applies them)"
    )
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    if not args.no_migrate:
        migrations.upgrade(SERVICE_DIR, settings.database_url)
    workers = args.workers or settings.workers
    # uvloop and httptools (uvicorn[standard]): measured fastest here, see docs/gateway-benchmark.md. Several
    # workers each build the app from the same environment.
    uvicorn.run(
        "gateway.app:create_app" if workers > 1 else create_app(settings),
        factory=workers > 1,
        workers=workers,
        loop="uvloop",
        # httptools with a deadline on reading a request's headers (LINLI_HEADER_READ_TIMEOUT_SECONDS).
        http=HttpToolsProtocol,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_config=None,
        server_header=False,
        # Never uvicorn's own belief in X-Forwarded-For (from 127.0.0.1 by default): the gateway derives the
        # client from LINLI_TRUSTED_PROXIES itself (gateway/forwarded.py).
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
