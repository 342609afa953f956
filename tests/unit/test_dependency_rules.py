"""Dependency rules import-linter cannot express: checked on the source's import statements."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "pitchlens"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_nothing_in_shared_imports_functions(path: Path) -> None:
    assert not [m for m in imported_modules(path) if m == "functions" or m.startswith("functions.")]


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "domain").rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_the_domain_imports_only_the_standard_library(path: Path) -> None:
    outside = {
        m
        for m in imported_modules(path)
        if m.split(".")[0] not in sys.stdlib_module_names
        and m.split(".")[0] not in ("pitchlens", "__future__")
    }
    assert not outside
    assert not [
        m
        for m in imported_modules(path)
        if m.startswith("pitchlens.") and not m.startswith("pitchlens.domain")
    ]
