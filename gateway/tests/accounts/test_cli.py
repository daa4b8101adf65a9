"""``python -m gateway.accounts create``, as the dev launcher runs it, against real databases."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from gateway.config import GatewaySettings
from service_kit.db import create_engine


async def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "gateway.accounts", *args]
    return await asyncio.to_thread(subprocess.run, command, cwd=cwd, capture_output=True, text=True, timeout=120)


async def test_create_then_update_an_account(
    database_url: str, make_settings: Callable[..., GatewaySettings], open_gateway: Any, tmp_path: Path
) -> None:
    provider_id = str(uuid.uuid4())
    created = await run_cli(
        "create", "--database-url", database_url, "--username", "xiaokang", "--password", "first-password-1",
        "--role", "provider_admin", "--role", "provider_staff", "--name", "小康之家", "--provider-id", provider_id,
        cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    first = json.loads(created.stdout)
    assert first["created"] is True
    assert first["roles"] == ["provider_admin", "provider_staff"]

    updated = await run_cli(
        "create", "--database-url", database_url, "--username", "xiaokang", "--password", "second-password-2",
        "--role", "provider_admin", cwd=tmp_path,
    )  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    second = json.loads(updated.stdout)
    assert second["created"] is False
    assert second["id"] == first["id"]
    assert second["roles"] == ["provider_admin"]
    assert second["provider_id"] is None  # reset to exactly what the command says

    async with open_gateway(make_settings()) as client:
        old = await client.post("/api/v1/auth/token", json={"username": "xiaokang", "password": "first-password-1"})
        new = await client.post("/api/v1/auth/token", json={"username": "xiaokang", "password": "second-password-2"})
    assert old.status_code == 401
    assert new.status_code == 200


async def test_it_migrates_a_new_database_first(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'gateway.db'}"
    result = await run_cli(
        "create", "--database-url", url, "--username", "admin", "--password", "linli-demo-2026", "--role", "admin",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["username"] == "admin"


async def test_invalid_input_is_refused_with_a_message(database_url: str, tmp_path: Path) -> None:
    result = await run_cli(
        "create", "--database-url", database_url, "--username", "admin", "--password", "short", "--role", "admin",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "password" in result.stderr
    unknown_role = await run_cli(
        "create", "--database-url", database_url, "--username", "admin", "--password", "long-enough-pw",
        "--role", "emperor", cwd=tmp_path,
    )  # fmt: skip
    assert unknown_role.returncode == 2
    assert "roles" in unknown_role.stderr


async def test_several_accounts_in_one_go_as_make_run_creates_them(
    database_url: str, make_settings: Callable[..., GatewaySettings], open_gateway: Any, tmp_path: Path
) -> None:
    """``main_many`` (deploy/devstack.py's demo accounts): each account with its own hash (its own salt), each
    signs in; run again it resets them; one refused command line and nothing is written."""
    script = (
        "import json, sys\n"
        "from gateway.accounts.__main__ import main_many\n"
        "sys.exit(main_many(json.loads(sys.argv[1])))\n"
    )

    def argv(username: str, password: str, role: str) -> list[str]:
        return [
            "create",
            "--database-url",
            database_url,
            "--username",
            username,
            "--password",
            password,
            "--role",
            role,
        ]

    async def run(*argvs: list[str]) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", script, json.dumps(list(argvs))]
        return await asyncio.to_thread(
            subprocess.run, command, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    accounts = [("admin", "admin"), ("official", "official"), ("operator", "operator")]
    first = await run(*(argv(name, "linli-demo-2026", role) for name, role in accounts))
    assert first.returncode == 0, first.stderr
    created = [json.loads(line) for line in first.stdout.splitlines()]
    assert [(a["username"], a["created"]) for a in created] == [(name, True) for name, _ in accounts]

    again = await run(*(argv(name, "linli-demo-2026", role) for name, role in accounts))
    assert again.returncode == 0, again.stderr
    assert [json.loads(line)["created"] for line in again.stdout.splitlines()] == [False, False, False]

    refused = await run(argv("reviewer", "linli-demo-2026", "reviewer"), argv("auditor", "short", "auditor"))
    assert refused.returncode == 2
    assert "password" in refused.stderr
    assert refused.stdout == ""

    async with open_gateway(make_settings()) as client:
        for name, _ in accounts:
            signed_in = await client.post("/api/v1/auth/token", json={"username": name, "password": "linli-demo-2026"})
            assert signed_in.status_code == 200, signed_in.text
        reviewer = await client.post("/api/v1/auth/token", json={"username": "reviewer", "password": "linli-demo-2026"})
        assert reviewer.status_code == 401  # not created: the other command line was refused

    engine = create_engine(database_url)
    async with engine.connect() as connection:
        hashes = (await connection.execute(text("SELECT password_hash FROM account"))).scalars().all()
    await engine.dispose()
    assert len(hashes) == len(set(hashes)) == len(accounts)
    assert all(h.startswith("$argon2id$") for h in hashes)
