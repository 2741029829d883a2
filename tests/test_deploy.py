"""The production shape is declared as the README says (Docker cannot run on this machine, so its files are checked)."""

import yaml

from tests.conftest import ROOT


def test_compose_runs_redis_postgres_api_and_scalable_workers_with_health_checks():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "postgres", "api", "worker", "beat"}
    assert all("healthcheck" in s for s in services.values())
    for name in ("api", "worker"):
        env = services[name]["environment"]
        assert env["CALLSCOPE_BROKER_URL"].startswith("redis://redis:")
        assert env["CALLSCOPE_DATABASE_URL"].startswith("postgresql://")
    assert services["worker"]["command"][:2] == ["callscope", "worker"]
    assert "ports" not in services["worker"]  # workers scale out without port clashes
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "models" in dockerfile
