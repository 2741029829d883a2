"""The production shape is declared as the README says (Docker cannot run on this machine, so its files are checked)."""

import yaml

from tests.conftest import ROOT


def test_compose_runs_redis_postgres_api_and_scalable_workers_with_health_checks():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3", "postgres", "objects",
                             "api-1", "api-2", "lb", "worker", "transcribe", "transcribe-gpu", "beat"}  # fmt: skip
    assert all("healthcheck" in s for s in services.values())
    for name in ("api-1", "api-2", "worker", "transcribe", "transcribe-gpu"):
        env = services[name]["environment"]
        # the broker's primary through the three Sentinels, which monitor the name the URL gives
        assert env["CALLSCOPE_BROKER_URL"].startswith("sentinel://sentinel-1:26379;sentinel://sentinel-2:26379;")
        assert env["CALLSCOPE_BROKER_URL"].endswith("?master_name=callscope")
        assert all("sentinel monitor callscope redis 6379 2" in services[f"sentinel-{n}"]["command"][-1]
                   for n in (1, 2, 3))  # fmt: skip
        assert env["CALLSCOPE_DATABASE_URL"].startswith("postgresql://")
        assert env["CALLSCOPE_RECORDINGS_STORE"] == "s3" and env["CALLSCOPE_S3_ENDPOINT_URL"] == "http://objects:8333"
    objects = services["objects"]
    assert objects["image"].startswith("chrislusf/seaweedfs:") and objects["command"][0] == "mini"
    assert objects["environment"]["S3_BUCKET"] == services["api-1"]["environment"]["CALLSCOPE_S3_BUCKET"]
    assert services["redis-replica"]["command"][-2:] == ["redis", "6379"]
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


def test_compose_ships_no_secret_and_every_service_requires_its_own():
    """A placeholder shipped in compose.yaml was a public secret (a forged session cookie opened another tenant's
    reports): every secret is now required from the environment."""
    text = (ROOT / "compose.yaml").read_text()
    assert "change-me" not in text and "SESSION_SECRET" not in text
    env = yaml.safe_load(text)["services"]["api-1"]["environment"]
    for name in ("CALLSCOPE_CUSTOMER_HASH_KEY", "CALLSCOPE_RECORDINGS_KEY", "CALLSCOPE_METRICS_TOKEN",
                 "CALLSCOPE_S3_SECRET_ACCESS_KEY"):  # fmt: skip
        assert env[name].startswith("${" + name + ":?"), name


def test_placeholder_or_short_secrets_stop_the_service(tmp_path):
    import pytest

    from callscope.settings import InsecureSetting, Settings

    server = "postgresql://db/callscope"
    for refused in ({"database_url": server, "customer_hash_key": ""},  # none with a database server
                    {"database_url": server, "customer_hash_key": "callscope-dev-only"},  # the old public default
                    {"database_url": server, "customer_hash_key": "x" * 31},
                    {"customer_hash_key": "change-me-to-a-long-random-secret"},
                    {"recordings_key": "short"}):  # fmt: skip
        with pytest.raises(InsecureSetting):
            Settings(data_dir=tmp_path, **refused).check_secrets()
    Settings(data_dir=tmp_path, database_url=server, customer_hash_key="k" * 32).check_secrets()
    embedded = Settings(data_dir=tmp_path, database_url="", customer_hash_key="")
    embedded.check_secrets()
    made = embedded.resolved_customer_hash_key
    again = Settings(data_dir=tmp_path, database_url="", customer_hash_key="").resolved_customer_hash_key
    assert len(made) == 64 and made == again  # made once, then kept
    assert (tmp_path / "customer_hash_key").stat().st_mode & 0o777 == 0o600


def test_an_api_with_a_placeholder_secret_does_not_start():
    import pytest

    from tests.services import log_path, start_api

    env = {"CALLSCOPE_CUSTOMER_HASH_KEY": "callscope-dev-only"}
    with pytest.raises(RuntimeError, match="API exited"):
        start_api(name="placeholder-api", env=env)
    assert "CALLSCOPE_CUSTOMER_HASH_KEY is a placeholder" in log_path("placeholder-api", env).read_text()


def test_the_embedded_database_and_recordings_are_the_owners_alone(tmp_path):
    import io

    from callscope.storage.db import get_engine
    from callscope.storage.recordings import FolderStore

    database = tmp_path / "db" / "callscope.db"
    get_engine(f"sqlite:///{database}")
    assert database.stat().st_mode & 0o777 == 0o600
    store = FolderStore(tmp_path / "recordings")
    store.put("tenant/id/audio.wav", io.BytesIO(b"RIFF"))
    assert (tmp_path / "recordings" / "tenant" / "id" / "audio.wav").stat().st_mode & 0o777 == 0o600
