"""Recovery after a broker restart: how long until every accepted contact is done, queue lost or kept.

The scenario of issue #14, twice in one run: a real redis-server that keeps nothing on disk (a restart empties
it), then the same with an append-only file (the queue survives: the baseline). Each run: 40 SMS posted with no
worker running (they wait in the broker), Redis stopped, 20 posted during the outage (503 + Retry-After, retried
with the same Idempotency-Key until accepted), Redis started, 40 posted after, then a worker started. Measured:
seconds from the worker's start until all 100 are done, contacts lost (never done), contacts doubled (an
Idempotency-Key that gave two ids). Default sweep interval (30 s) and stale_queued_s (600 s), PostgreSQL.
Before the marker-key recovery, the 40 contacts queued before a restart that emptied the broker waited for
stale_queued_s (about 600 s).

    .venv/bin/python bench/bench_broker_restart.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import RedisServer, start_api, start_worker, stop  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DB = "callscope_restart"
SMS = {"channel": "sms", "messages": [{"direction": "inbound", "text": "my card payment was declined"}]}


def fresh_database() -> str:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{DB}"'))
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{DB}"


def post(client: httpx.Client, key: str, deadline_s: float = 120) -> tuple[str, int]:
    """One SMS, retried with the same Idempotency-Key while refused; (id, refusals)."""
    refused, end = 0, time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            response = client.post("/v1/interactions", json=SMS, headers={"Idempotency-Key": key})
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code in (200, 202):  # 200: the key was accepted earlier
            return str(response.json()["id"]), refused
        refused += 1
        time.sleep(float(response.headers.get("retry-after", 1)) if response is not None else 1)
    raise RuntimeError(f"{key} never accepted")


def run(persistent: bool) -> dict[str, object]:
    url = fresh_database()
    data = tempfile.mkdtemp(prefix="callscope-bench-restart-")
    server = RedisServer(Path(data) / "redis", persistent=persistent)
    server.start()
    env = {"CALLSCOPE_DATABASE_URL": url, "CALLSCOPE_BROKER_URL": server.url, "CALLSCOPE_DATA_DIR": data}
    os.environ.update(env)
    from callscope.access.keys import create_api_key
    from callscope.storage.db import get_sessionmaker, migrate

    migrate(url)
    with get_sessionmaker(url)() as session:
        key = create_api_key(session, tenant="restart", role="admin")
    api, base = start_api(name="restart-api", env=env)
    worker = None
    ids: dict[str, str] = {}
    try:
        time.sleep(35)  # one sweep: the API leaves its marker in the broker
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            for n in range(40):
                ids[f"before-{n}"] = post(client, f"before-{n}")[0]
            server.stop()
            refusals = 0
            for n in range(20):  # refused while the broker is down
                response = client.post("/v1/interactions", json=SMS, headers={"Idempotency-Key": f"during-{n}"})
                refusals += response.status_code == 503 and bool(response.headers.get("retry-after"))
            server.start()  # empty unless it keeps an append-only file
            restarted = time.monotonic()
            for n in range(20):
                ids[f"during-{n}"] = post(client, f"during-{n}")[0]
            for n in range(40):
                ids[f"after-{n}"] = post(client, f"after-{n}")[0]
            again = {k: post(client, k)[0] for k in ids}  # the same keys again: the same ids, nothing doubled
        started = time.monotonic()
        worker = start_worker(name="restart-worker", env=env)
        engine = sa.create_engine(url)
        done_query = sa.text("select count(*) from interactions where tenant = 'restart' and status = 'done'")
        while time.monotonic() - started < 900:
            with engine.connect() as conn:
                done = int(conn.execute(done_query).scalar_one())
            if done >= len(ids):
                break
            time.sleep(0.5)
        with engine.connect() as conn:
            stored = int(conn.execute(sa.text("select count(*) from interactions where tenant = 'restart'")).scalar())
        return {
            "broker": "append-only file (queue kept)" if persistent else "no persistence (queue lost)",
            "accepted": len(ids),
            "refused_503_during_outage": refusals,
            "stored": stored,
            "done": done,
            "lost": len(ids) - done,
            "doubled": sum(again[k] != ids[k] for k in ids) + max(0, stored - len(ids)),
            "all_done_after_broker_restart_s": round(time.monotonic() - restarted, 1),
            "all_done_after_worker_start_s": round(time.monotonic() - started, 1),
            "worker_started_after_restart_s": round(started - restarted, 1),
        }
    finally:
        if worker is not None:
            stop(worker)
        stop(api)
        server.stop()


def main() -> None:
    results = [run(persistent=False), run(persistent=True)]
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
