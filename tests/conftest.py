"""Test fixtures: the real PostgreSQL and Redis of this machine, a live Celery worker process, real audio.

A missing service fails the run (never skips): CI must prove the real stack works.
Each test session gets its own PostgreSQL database and Redis database number, so runs never share state.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from tests.services import S3_BUCKET, S3_CREDENTIALS, S3_ENV, S3_URL, start_worker, stop

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
PG_ADMIN_URL = os.environ.get("CALLSCOPE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_HOST_URL = os.environ.get("CALLSCOPE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
# Concurrent test sessions on one machine must not share (or flush) each other's queues.
REDIS_DB = int(os.environ.get("CALLSCOPE_TEST_REDIS_DB", str(1 + (os.getpid() % 7) * 2)))
FAULTS_REDIS_DB = REDIS_DB + 1
DB_NAME = f"callscope_test_{os.getpid()}"
DATABASE_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{DB_NAME}"
BROKER_URL = f"{REDIS_HOST_URL}/{REDIS_DB}"
DATA_DIR = Path(tempfile.mkdtemp(prefix="callscope-test-"))

# Settings are read from the environment: set them before any callscope/api/worker module is imported.
os.environ.update(
    {
        "CALLSCOPE_DATABASE_URL": DATABASE_URL,
        "CALLSCOPE_BROKER_URL": BROKER_URL,
        "CALLSCOPE_DATA_DIR": str(DATA_DIR),
        "CALLSCOPE_TASK_RETRY_BACKOFF_S": "0",
        "CALLSCOPE_TASK_MAX_RETRIES": "2",
        "CALLSCOPE_RETRAIN_MIN_OUTCOMES": "30",
        "HF_HUB_OFFLINE": "1",
        "CALLSCOPE_RECORDINGS_KEY": "test-only-recordings-secret-0123456789abcdef",
        "CALLSCOPE_CUSTOMER_HASH_KEY": "test-only-customer-hash-key-0123456789abcdef",
        # the suite sends thousands of refused keys from one address; the throttle's own tests set a low limit
        "CALLSCOPE_AUTH_FAILURES_PER_MINUTE": "1000000",
    }
)


def _require_services() -> None:
    try:
        redis.Redis.from_url(BROKER_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"Redis is required at {REDIS_HOST_URL} (run `make services`): {exc}") from exc
    try:
        sa.create_engine(PG_ADMIN_URL).connect().close()
    except sa.exc.OperationalError as exc:
        raise RuntimeError(f"PostgreSQL is required at {PG_ADMIN_URL} (run `make services`): {exc}") from exc


# The fast tier (`make test-fast`, `pytest -m fast`): pure-domain tests that need no PostgreSQL or Redis.
FAST = ("tests/understanding/", "tests/prediction/", "tests/test_architecture.py", "tests/test_contacts.py",
        "tests/access/test_httpsig.py", "tests/live/test_audiohook.py", "tests/live/test_twilio.py",
        "tests/live/test_platform.py", "tests/live/test_streaming.py", "tests/voice/test_g711.py")
SERVICE_FIXTURES = {"session", "client", "make_key", "live_worker", "seaweedfs"}  # (`database` is autouse)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = Path(str(item.fspath)).relative_to(ROOT).as_posix()
        if where.startswith(FAST) and not SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.fast)


@pytest.fixture(scope="session", autouse=True)
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session; an empty Redis database for the broker.

    A run of the fast tier alone (`pytest -m fast`) touches neither."""
    if request.session.items and all(item.get_closest_marker("fast") for item in request.session.items):
        yield DATABASE_URL
        return
    _require_services()
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
    redis.Redis.from_url(BROKER_URL).flushdb()
    from callscope.storage.db import get_engine, migrate

    migrate(DATABASE_URL)
    yield DATABASE_URL
    get_engine(DATABASE_URL).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def session(database: str) -> Iterator[Any]:
    from callscope.storage.db import get_sessionmaker

    with get_sessionmaker(database)() as s:
        yield s


@pytest.fixture
def make_key(session: Any) -> Callable[..., str]:
    """API keys for a tenant (a fresh one per test unless named) and role."""
    from callscope.access.keys import create_api_key

    def make(role: str = "admin", tenant: str | None = None) -> str:
        return create_api_key(session, tenant=tenant or f"t-{uuid.uuid4().hex[:8]}", role=role)

    return make


@pytest.fixture
def client() -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from api.app import app

    with TestClient(app) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def live_worker(database: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_worker(name="live-worker", env={"CALLSCOPE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"})  # the tests' receiver
    yield proc
    stop(proc)


def wait_final(client: Any, key: str, interaction_id: str, timeout_s: float = 120) -> dict[str, Any]:
    """Poll the API until the interaction is done or failed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(f"/v1/interactions/{interaction_id}", headers=auth(key)).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.3)
    raise AssertionError(f"interaction {interaction_id} not finished after {timeout_s} s: {body}")


@pytest.fixture(scope="session")
def seaweedfs() -> dict[str, Any]:
    """The real SeaweedFS that `make test` starts (`make object-store`); a missing one fails, as Redis would."""
    from callscope.storage.recordings import RecordingStoreError, S3Store

    store = S3Store(endpoint_url=S3_URL, bucket=S3_BUCKET, access_key=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    secret_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], region="us-east-1")  # fmt: skip
    deadline = time.monotonic() + 30  # just started: its bucket appears a moment after the gateway answers
    while True:
        try:
            store.put("probe/ready", io.BytesIO(b"ok"))
            break
        except RecordingStoreError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS is required at {S3_URL} (run `make object-store`): {exc}") from exc
            time.sleep(0.5)
    return {"store": store, "url": S3_URL, "env": S3_ENV}
