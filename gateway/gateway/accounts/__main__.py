"""``python -m gateway.accounts create …``: create or reset a staff account directly in the gateway's database.

Used to bootstrap the first admin and the dev stack's demo accounts. Applies the gateway's migrations first,
so it works before the gateway has ever started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from gateway.accounts import service
from gateway.accounts.passwords import hash_password
from gateway.accounts.schemas import Account, AccountCreate
from gateway.config import GatewaySettings
from gateway.models import load_models
from service_kit import migrations
from service_kit.db import create_engine, create_sessionmaker

# gateway/ (its alembic.ini and migrations). Not imported from gateway.app: the whole application is a second of
# imports this command never uses, paid at every ``make run`` (deploy/devstack.py creates the demo accounts with it).
SERVICE_DIR = Path(__file__).resolve().parent.parent.parent


async def _create_or_update(database_url: str, data: AccountCreate, password_hash: str) -> tuple[Account, bool]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            account, created = await service.create_or_update(session, data, password_hash=password_hash)
            return Account.model_validate(account), created
    finally:
        await engine.dispose()


def _parse(argv: list[str] | None) -> tuple[AccountCreate, str | None] | int:
    """The account and database URL a command line names, or the exit status of a refused one (said on stderr)."""
    parser = argparse.ArgumentParser(prog="python -m gateway.accounts", description="Manage gateway staff accounts.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create an account, or reset an existing one with this username")
    create.add_argument("--username", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--role", dest="roles", action="append", required=True, help="repeat for several roles")
    create.add_argument("--name")
    create.add_argument("--provider-id")
    create.add_argument("--resident-id")
    create.add_argument("--street-code", help="a street-scoped official's street")
    create.add_argument("--database-url", help="default: the gateway's (LINLI_GATEWAY_DATABASE_URL)")
    args = parser.parse_args(argv)

    try:
        data = AccountCreate(
            username=args.username,
            password=args.password,
            roles=args.roles,
            name=args.name,
            provider_id=args.provider_id,
            resident_id=args.resident_id,
            street_code=args.street_code,
        )
    except ValidationError as exc:
        for error in exc.errors():
            print(f"{'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2
    return data, args.database_url


def _create(accounts: list[tuple[AccountCreate, str | None]]) -> int:
    load_models()
    urls = [url or GatewaySettings().database_url for _, url in accounts]
    for url in dict.fromkeys(urls):
        migrations.upgrade(SERVICE_DIR, url)

    async def hashes() -> list[str]:  # side by side: argon2 releases the GIL, each hash in a thread of its own
        return list(await asyncio.gather(*(hash_password(data.password) for data, _ in accounts)))

    for (data, _), url, password_hash in zip(accounts, urls, asyncio.run(hashes()), strict=True):
        account, created = asyncio.run(_create_or_update(url, data, password_hash))
        print(json.dumps({"created": created, **account.model_dump(mode="json")}, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parsed = _parse(argv)
    return parsed if isinstance(parsed, int) else _create([parsed])


def main_many(argvs: list[list[str]]) -> int:
    """``main`` for several ``create`` command lines in one go (``make run``'s demo accounts): nothing is written
    when one is refused, and the accounts' argon2 hashes (production parameters) are computed side by side rather
    than one after another, before each account is written in turn."""
    parsed = [_parse(argv) for argv in argvs]
    refused = [status for status in parsed if isinstance(status, int)]
    if refused:
        return max(refused)
    return _create([account for account in parsed if not isinstance(account, int)])


if __name__ == "__main__":
    sys.exit(main())
