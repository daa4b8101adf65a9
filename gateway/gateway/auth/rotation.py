"""Every replica signs with the current key of the shared key folder, and follows its rotations."""

import asyncio

import structlog
from fastapi import FastAPI

from gateway.auth import keys
from gateway.config import GatewaySettings

log = structlog.get_logger("linli.gateway.auth")


def install_keyring(app: FastAPI, keyring: keys.Keyring) -> None:
    """Sign with ``keyring``'s current key from now on, and trust all of its keys."""
    app.state.keyring = keyring
    app.state.signing_key = keyring.current
    app.state.token_verifier.trust_own(keyring)


async def reload_forever(app: FastAPI, settings: GatewaySettings) -> None:
    """Pick up a key that another replica (or the CLI) rotated in the shared key folder."""
    while True:
        await asyncio.sleep(settings.signing_key_reload_seconds)
        try:
            keyring = await asyncio.to_thread(keys.load_keyring, settings.signing_key_path, create=False)
        except (OSError, ValueError) as exc:
            log.error("signing keys unreadable; still signing with the loaded key", error=repr(exc))
            continue
        if keyring.kids != app.state.keyring.kids:
            install_keyring(app, keyring)
            log.info("signing keys reloaded", current=keyring.current.kid)
