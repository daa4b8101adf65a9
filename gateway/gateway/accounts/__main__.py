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
from gateway.accounts.schemas import Account, AccountCreate
from gateway.config import GatewaySettings
from gateway.models import load_models
from service_kit import migrations
from service_kit.db import create_engine, create_sessionmaker

# gateway/ (its alembic.ini and migrations). Not imported from gateway.app: the whole application is a second of
# imports this command never uses, paid at every ``make run`` (deploy/devstack.py creates the demo accounts with it).
SERVICE_DIR = Path(__file__).resolve().parent.parent.parent


async def _create_or_update(database_url: str, data: AccountCreate) -> tuple[Account, bool]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            account, created = await service.create_or_update(session, data)
            return Account.model_validate(account), created
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
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
    load_models()
    database_url = args.database_url or GatewaySettings().database_url
    migrations.upgrade(SERVICE_DIR, database_url)
    account, created = asyncio.run(_create_or_update(database_url, data))
    print(json.dumps({"created": created, **account.model_dump(mode="json")}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
