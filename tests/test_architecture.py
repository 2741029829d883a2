"""The layout the design fixes: the core (`callscope/`) imports no framework and none of its adapters."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"fastapi", "starlette", "uvicorn", "celery", "kombu", "typer", "api", "worker", "cli"}
DOMAINS = {"voice", "understanding", "prediction", "storage", "pipeline", "live", "reports", "access"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_core_imports_no_framework_and_no_adapter() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "callscope").rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert not offenders, sorted(offenders)


def test_the_rule_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from worker.app import celery_app\n    import fastapi.routing\n")
    assert imported_modules(sample) == {"worker.app", "fastapi.routing"}


def test_the_core_is_grouped_by_domain_and_tests_mirror_it() -> None:
    packages = {p.name for p in (ROOT / "callscope").iterdir() if (p / "__init__.py").exists()}
    assert packages == DOMAINS
    top = {p.stem for p in (ROOT / "callscope").glob("*.py")} - {"__init__"}
    assert top == {"settings", "errors", "contacts"}, "only the shared modules stay at the top"
    test_folders = {p.name for p in (ROOT / "tests").iterdir() if (p / "__init__.py").exists()}
    assert test_folders <= DOMAINS | {"api", "worker", "cli"}, "a test folder per package it tests"
