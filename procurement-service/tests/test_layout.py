"""Procurement's modules share one shape: thin endpoints, a service with the rules, all SQL in a repository, and
schemas for what clients send and read. They depend on each other only through imports at the top of a file: an
import inside a function body hides a dependency (usually a cycle between two modules' services) from whoever
reads the imports."""

from __future__ import annotations

import ast
from pathlib import Path

import procurement

SOURCE = Path(procurement.__file__).parent
MODULES = sorted(path.parent for path in SOURCE.glob("*/service.py"))
# What runs SQL on a session; services, endpoints and consumers leave it to repositories.
# The open data's documents are the OCDS standard's (standards/ocds-1.1, which its tests validate them against),
# not schemas of Linli's own.
OWN_SCHEMAS_EXEMPT = {"opendata"}
SESSION_SQL = {"add", "add_all", "begin_nested", "delete", "execute", "flush", "get", "refresh", "scalar", "scalars"}


def imports_in_function_bodies(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, function) of every import statement inside a function or method, at any depth."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            name = getattr(node, "name", "<lambda>")
            found.extend(
                (inner.lineno, name) for inner in ast.walk(node) if isinstance(inner, ast.Import | ast.ImportFrom)
            )
    return sorted(set(found))


def sql_outside_a_repository(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) of every SQLAlchemy import but ``AsyncSession`` (the session handed to repositories), and of
    every call that runs SQL on a session."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            names = [alias.name for alias in node.names]
            if node.module != "sqlalchemy.ext.asyncio" or names != ["AsyncSession"]:
                found.append((node.lineno, f"from {node.module} import {', '.join(names)}"))
        elif isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "sqlalchemy" for alias in node.names):
            found.append((node.lineno, "import sqlalchemy"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "session"
            and node.func.attr in SESSION_SQL
        ):
            found.append((node.lineno, f"session.{node.func.attr}"))
    return sorted(found)


def test_the_checks_see_what_they_look_for() -> None:
    tree = ast.parse(
        "import os\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "from sqlalchemy import select\n\n"
        "async def f(session):\n"
        "    if True:\n"
        "        from procurement.calls import service\n"
        "    await session.execute(select(1))\n"
        "    await repository.get(session, 1)\n"
    )
    assert imports_in_function_bodies(tree) == [(7, "f")]
    assert sql_outside_a_repository(tree) == [(3, "from sqlalchemy import select"), (8, "session.execute")]


def test_no_module_imports_inside_a_function_body() -> None:
    sources = sorted(SOURCE.rglob("*.py"))
    assert len(sources) > 50
    offenders = [
        f"{path.relative_to(SOURCE.parent)}:{line} (in {function})"
        for path in sources
        for line, function in imports_in_function_bodies(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []


def test_services_endpoints_and_consumers_leave_sql_to_repositories() -> None:
    layers = [
        path
        for module in MODULES
        for name in ("service", "endpoints", "consumers")
        if (path := module / f"{name}.py").exists()
    ]
    assert len(layers) > 40
    offenders = [
        f"{path.relative_to(SOURCE.parent)}:{line} {what}"
        for path in layers
        for line, what in sql_outside_a_repository(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []


def test_every_module_has_the_house_shape() -> None:
    """A module with tables reads and writes them through its repository; a module with endpoints declares what
    they take and give in its schemas."""
    assert len(MODULES) > 15
    missing = [
        f"{module.name}/{name}"
        for module in MODULES
        for name, needed in (
            ("repository.py", (module / "models.py").exists()),
            ("schemas.py", (module / "endpoints.py").exists() and module.name not in OWN_SCHEMAS_EXEMPT),
        )
        if needed and not (module / name).exists()
    ]
    assert missing == []
