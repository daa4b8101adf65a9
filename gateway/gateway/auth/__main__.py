"""``python -m gateway.auth rotate-key``: sign with a new key; the old one stays published until its tokens
expire. Running gateways pick the new key up within ``LINLI_SIGNING_KEY_RELOAD_SECONDS``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.auth import keys
from gateway.auth.schemas import SigningKeys
from gateway.config import GatewaySettings
from service_kit.timeutil import utcnow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.auth", description="Manage the gateway's signing keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    rotate = commands.add_parser("rotate-key", help="retire the current signing key and create a new one")
    rotate.add_argument("--key-file", type=Path, help="default: LINLI_SIGNING_KEY_FILE or <var_dir>/keys/…")
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    path = args.key_file or settings.signing_key_path
    now = utcnow()
    keyring = keys.rotate(path, now=now, keep_for=settings.retired_key_lifetime)
    print(json.dumps(SigningKeys.of(keyring, now, settings.retired_key_lifetime).model_dump()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
