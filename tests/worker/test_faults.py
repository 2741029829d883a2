"""Nothing accepted is lost: a worker killed mid-task, a Redis restart, a PostgreSQL outage (real processes)."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from callscope.access.keys import create_api_key
from callscope.pipeline import recovery
from tests.audio import long_call
from tests.conftest import DATA_DIR, DATABASE_URL, FAULTS_REDIS_DB, REDIS_HOST_URL
from tests.services import RedisServer, TcpProxy, log_path, start_api, start_worker, stop

pytestmark = pytest.mark.slow
FAST_RECOVERY = {
    "CALLSCOPE_SWEEP_INTERVAL_S": "2",
    "CALLSCOPE_STALE_PROCESSING_S": "10",
    "CALLSCOPE_HEARTBEAT_INTERVAL_S": "1",
    "CALLSCOPE_STALE_QUEUED_S": "20",
}
SMS = {"channel": "sms", "messages": [{"direction": "inbound", "text": "my card payment was declined"}]}


@pytest.fixture
def key(session) -> str:
    return create_api_key(session, tenant=f"faults-{time.monotonic_ns()}", role="admin")


def wait_all_final(base: str, key: str, ids: list[str], timeout_s: float) -> dict[str, dict]:
    deadline, results = time.monotonic() + timeout_s, {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        while time.monotonic() < deadline:
            for i in ids:
                if i not in results:
                    body = client.get(f"/v1/interactions/{i}").json()
                    if body["status"] in ("done", "failed"):
                        results[i] = body
            if len(results) == len(ids):
                return results
            time.sleep(0.5)
    raise AssertionError(f"{len(ids) - len(results)} of {len(ids)} contacts never finished")


@pytest.fixture
def broker_db14() -> Iterator[str]:
    url = f"{REDIS_HOST_URL}/{FAULTS_REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


def test_worker_killed_mid_transcription_is_redone_by_another_worker_exactly_once(key, broker_db14):
    env = {"CALLSCOPE_BROKER_URL": broker_db14, **FAST_RECOVERY}
    api, base = start_api(name="kill-api", env=env)
    first = start_worker(name="kill-worker-1", env=env)
    second = None
    try:
        headers = {"Authorization": f"Bearer {key}"}
        posted = httpx.post(f"{base}/v1/interactions", headers=headers, timeout=60,
                            files={"file": ("long.wav", long_call(4), "audio/wav")})  # fmt: skip
        assert posted.status_code == 202
        interaction_id = posted.json()["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the transcription is under way
            body = httpx.get(f"{base}/v1/interactions/{interaction_id}", headers=headers).json()
            if body["status"] == "processing":
                break
            time.sleep(0.2)
        time.sleep(2)
        stop(first, signal.SIGKILL)  # the worker and its pool children die without acknowledging anything
        second = start_worker(name="kill-worker-2", env=env)
        result = wait_all_final(base, key, [interaction_id], timeout_s=300)[interaction_id]
        assert result["status"] == "done" and result["intent"]["label"]
        starts = [(t["speaker"], t["start"]) for t in result["turns"]]
        assert len(starts) == len(set(starts))  # each turn stored once
        said = " ".join(t["text"] for t in result["turns"]).lower()
        # Whisper's temperature fallback makes the exact words vary from run to run, but never beyond one pass
        assert 1 <= said.count("lost my card") <= 4 and said.count("calling") <= 4
        assert result["attempts"] >= 3  # the killed transcription, the one that finished, the analysis
        listed = httpx.get(f"{base}/v1/interactions", headers=headers).json()["items"]
        assert [i["id"] for i in listed] == [interaction_id]
    finally:
        for proc in (first, second, api):
            if proc is not None:
                stop(proc)


def _post_continuously(base: str, key: str, seconds: float, outcomes: list[tuple[int, dict, dict]]) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            n += 1
            response = client.post("/v1/interactions", json=SMS, headers={"Idempotency-Key": f"post-{n}"})
            outcomes.append((response.status_code, dict(response.headers), response.json()))
            time.sleep(0.05)


def test_redis_restart_loses_no_accepted_contact_and_refuses_cleanly_meanwhile(key):
    server = RedisServer(DATA_DIR / "restart-redis")
    server.start()
    env = {"CALLSCOPE_BROKER_URL": server.url, **FAST_RECOVERY}
    api, base = start_api(name="restart-api", env=env)
    worker = start_worker(name="restart-worker", env=env)
    try:
        outcomes: list[tuple[int, dict, dict]] = []
        poster = threading.Thread(target=_post_continuously, args=(base, key, 14, outcomes))
        poster.start()
        time.sleep(3)
        server.stop()
        time.sleep(4)
        server.start()
        poster.join()
        statuses = [status for status, _, _ in outcomes]
        assert 500 not in statuses
        assert statuses.count(503) >= 1, "posting while Redis was down must be refused"
        assert all(h.get("retry-after") for status, h, _ in outcomes if status == 503)
        assert set(statuses) <= {202, 503}
        accepted = [body["id"] for status, _, body in outcomes if status == 202]
        assert len(accepted) >= 20
        results = wait_all_final(base, key, accepted, timeout_s=180)
        assert all(r["status"] == "done" for r in results.values())
    finally:
        stop(worker)
        stop(api)
        server.stop()


def test_contacts_queued_in_a_broker_that_restarts_empty_are_done_within_a_minute(key):
    """Redis without persistence loses its queue on a restart: the sweeper notices (the marker key is gone) and
    queues those contacts again at once, not after stale_queued_s (left at its default, 600 s)."""
    server = RedisServer(DATA_DIR / "volatile-redis", persistent=False)
    server.start()
    env = {"CALLSCOPE_BROKER_URL": server.url, "CALLSCOPE_SWEEP_INTERVAL_S": "2"}
    api, base = start_api(name="volatile-api", env=env)
    worker = None
    try:
        broker = redis.Redis.from_url(server.url)
        deadline = time.monotonic() + 20
        while not broker.exists(recovery.MARKER_KEY):
            assert time.monotonic() < deadline, "the API left no marker in the broker"
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            ids = [client.post("/v1/interactions", json=SMS).json()["id"] for _ in range(40)]
        assert broker.llen("analyze") >= 1, "with no worker running the tasks wait in the broker"
        server.stop()
        server.start()  # empty: the 40 tasks are gone
        assert broker.llen("analyze") == 0
        worker = start_worker(name="volatile-worker", env=env)
        results = wait_all_final(base, key, ids, timeout_s=60)
        assert all(r["status"] == "done" for r in results.values())
        assert "the broker lost what was queued since" in log_path("volatile-api", env).read_text()
    finally:
        if worker is not None:
            stop(worker)
        stop(api)
        server.stop()


def test_postgres_outage_answers_503_and_everything_completes_when_it_returns(key, broker_db14):
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    proxied_db = DATABASE_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    env = {"CALLSCOPE_BROKER_URL": broker_db14, "CALLSCOPE_DATABASE_URL": proxied_db, **FAST_RECOVERY}
    api, base = start_api(name="pg-api", env=env)
    worker = start_worker(name="pg-worker", env=env)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        before = [httpx.post(f"{base}/v1/interactions", json=SMS, headers=headers).json()["id"] for _ in range(3)]
        proxy.cut()
        during = httpx.post(f"{base}/v1/interactions", json=SMS, headers=headers, timeout=30)
        assert during.status_code == 503 and during.headers["retry-after"]
        assert "database" in json.dumps(during.json())
        assert httpx.get(f"{base}/v1/interactions/{before[0]}", headers=headers, timeout=30).status_code == 503
        time.sleep(5)
        proxy.restore()
        after = httpx.post(f"{base}/v1/interactions", json=SMS, headers=headers, timeout=30)
        assert after.status_code == 202
        results = wait_all_final(base, key, [*before, after.json()["id"]], timeout_s=180)
        assert all(r["status"] == "done" for r in results.values())
    finally:
        stop(worker)
        stop(api)
        proxy.cut()
