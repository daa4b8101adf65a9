"""Procurement's modules depend on each other only through imports at the top of a file: an import inside a
function body hides a dependency (usually a cycle between two modules' services) from whoever reads the imports."""

from __future__ import annotations

import ast
from pathlib import Path

import procurement

SOURCE = Path(procurement.__file__).parent


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


def test_the_check_sees_an_import_in_a_function_body() -> None:
    tree = ast.parse("import os\n\nasync def f():\n    if True:\n        from procurement.calls import service\n")
    assert imports_in_function_bodies(tree) == [(5, "f")]


def test_no_module_imports_inside_a_function_body() -> None:
    sources = sorted(SOURCE.rglob("*.py"))
    assert len(sources) > 50
    offenders = [
        f"{path.relative_to(SOURCE.parent)}:{line} (in {function})"
        for path in sources
        for line, function in imports_in_function_bodies(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []
