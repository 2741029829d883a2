"""Load: text contacts posted by many concurrent clients on loopback for 60 s, then every one checked.

Starts the API (`callscope serve --no-worker`, its default process count) and a worker on PostgreSQL and
Redis, drives it with locust (headless), waits until the worker has analyzed everything, and compares the
stored and analyzed counts with what locust saw accepted.

    .venv/bin/python bench/bench_load.py [--users 64] [--seconds 60]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import start_api, start_worker, stop  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DB = "callscope_load"
BROKER = "redis://127.0.0.1:6379/12"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{DB}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{DB}"
    redis.Redis.from_url(BROKER).flushdb()
    env = {"CALLSCOPE_DATABASE_URL": url, "CALLSCOPE_BROKER_URL": BROKER, "CALLSCOPE_RATE_LIMIT_PER_MINUTE": "0"}
    os.environ.update(env)
    from callscope.db import get_sessionmaker, migrate
    from callscope.store import create_api_key

    migrate(url)
    with get_sessionmaker(url)() as session:
        key = create_api_key(session, tenant="load", role="ingest")
    api, base = start_api(name="load-api", env=env)
    worker = start_worker(name="load-worker", env=env, concurrency=2)
    out = Path(tempfile.mkdtemp(prefix="callscope-load-"))
    try:
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
             "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s", "--host", base,
             "--csv", str(out / "load"), "--only-summary"],
            env={**os.environ, "CALLSCOPE_LOAD_KEY": key}, check=False,
        )  # fmt: skip
        stats = next(r for r in csv.DictReader((out / "load_stats.csv").open()) if r["Name"] == "Aggregated")
        accepted = int(stats["Request Count"]) - int(stats["Failure Count"])
        engine = sa.create_engine(url)
        deadline = time.monotonic() + 1800
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                stored, done = conn.execute(sa.text(
                    "select count(*), count(*) filter (where status = 'done') from interactions")).one()  # fmt: skip
                conn.commit()
                if done >= stored:
                    break
                time.sleep(2)
            doubled = conn.execute(sa.text(
                "select count(*) from (select idempotency_key from interactions group by 1 having count(*) > 1) d"
            )).scalar()  # fmt: skip
        result = {
            "users": args.users,
            "seconds": args.seconds,
            "accepted": accepted,
            "failures": int(stats["Failure Count"]),
            "accepted_per_s": round(accepted / args.seconds, 1),
            "p50_ms": float(stats["50%"]),
            "p99_ms": float(stats["99%"]),
            "stored": stored,
            "analyzed": done,
            "doubled": doubled,
            "drain_s_after_load": round(time.monotonic() - (deadline - 1800), 1),
        }
        print(json.dumps(result, indent=2))
    finally:
        stop(worker)
        stop(api)


if __name__ == "__main__":
    main()
