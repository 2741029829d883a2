"""The production shape is declared as the README says (Docker cannot run on this machine, so its files are checked)."""

import yaml

from tests.conftest import ROOT


def test_compose_runs_redis_postgres_api_and_scalable_workers_with_health_checks():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "postgres", "objects", "api", "worker", "transcribe", "transcribe-gpu", "beat"}
    assert all("healthcheck" in s for s in services.values())
    for name in ("api", "worker", "transcribe", "transcribe-gpu"):
        env = services[name]["environment"]
        assert env["CALLSCOPE_BROKER_URL"].startswith("redis://redis:")
        assert env["CALLSCOPE_DATABASE_URL"].startswith("postgresql://")
        assert env["CALLSCOPE_RECORDINGS_STORE"] == "s3" and env["CALLSCOPE_S3_ENDPOINT_URL"] == "http://objects:8333"
    objects = services["objects"]
    assert objects["image"].startswith("chrislusf/seaweedfs:") and objects["command"][0] == "mini"
    assert objects["environment"]["S3_BUCKET"] == services["api"]["environment"]["CALLSCOPE_S3_BUCKET"]
    assert services["worker"]["command"][:2] == ["callscope", "worker"]
    assert "ports" not in services["worker"] and "ports" not in services["transcribe"]  # they scale out
    # voice has a pool of its own, apart from the light analysis pool; the GPU pool is opt-in
    assert services["transcribe"]["command"][-2:] == ["--queues", "transcribe"]
    assert "transcribe" not in services["worker"]["command"][-1].split(",")
    gpu = services["transcribe-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["environment"]["CALLSCOPE_WHISPER_DEVICE"] == "cuda"
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "models" in dockerfile
    for package in ("callscope", "api", "worker", "cli"):  # every package the `callscope` command imports
        assert f"COPY {package} ./{package}" in dockerfile
