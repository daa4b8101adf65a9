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

from gateway.config import GatewaySettings


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
