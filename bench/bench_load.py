"""Load: text contacts posted by many concurrent clients on loopback for 60 s, then every one checked.

Starts the API (`callscope serve --no-worker`, its default process count) and a worker on PostgreSQL and
Redis, drives it with wrk (C, `bench/load.lua`; Debian's `wrk`) or locust (Python, `bench/locustfile.py`;
it takes a good part of a core itself on a 2-core machine), waits until the worker has analyzed everything,
and compares the stored and analyzed counts with what the load tool saw accepted.

    .venv/bin/python bench/bench_load.py [--tool wrk|locust] [--users 64] [--seconds 60]
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


def run_locust(base: str, key: str, users: int, seconds: int) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="callscope-load-"))
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
         "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", base,
         "--csv", str(out / "load"), "--only-summary"],
        env={**os.environ, "CALLSCOPE_LOAD_KEY": key}, check=False, capture_output=True,
    )  # fmt: skip
    stats = next(r for r in csv.DictReader((out / "load_stats.csv").open()) if r["Name"] == "Aggregated")
    failures = int(stats["Failure Count"])
    return {"accepted": int(stats["Request Count"]) - failures, "failures": failures,
            "p50_ms": float(stats["50%"]), "p99_ms": float(stats["99%"])}  # fmt: skip


def run_wrk(base: str, key: str, users: int, seconds: int) -> dict[str, float]:
    argv = ["wrk", "-t", "2", "-c", str(users), "-d", f"{seconds}s", "--timeout", "30s",
            "-s", str(ROOT / "bench" / "load.lua"), base]  # fmt: skip
    env = {**os.environ, "CALLSCOPE_LOAD_KEY": key}
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    found = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("WRK_JSON "))[9:])
    return {"accepted": found["accepted"], "failures": found["other"], "p50_ms": found["p50_ms"],
            "p99_ms": found["p99_ms"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tool", choices=("wrk", "locust"), default="wrk")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{DB}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{DB}"
    redis.Redis.from_url(BROKER).flushdb()
    env = {"CALLSCOPE_DATABASE_URL": url, "CALLSCOPE_BROKER_URL": BROKER, "CALLSCOPE_RATE_LIMIT_PER_MINUTE": "0",
           "CALLSCOPE_DATA_DIR": tempfile.mkdtemp(prefix="callscope-bench-load-")}  # fmt: skip
    os.environ.update(env)
    from callscope.access.keys import create_api_key
    from callscope.storage.db import get_sessionmaker, migrate

    migrate(url)
    with get_sessionmaker(url)() as session:
        key = create_api_key(session, tenant="load", role="ingest")
    api, base = start_api(name="load-api", env=env)
    worker = start_worker(name="load-worker", env=env, concurrency=2)
    try:
        load = (run_wrk if args.tool == "wrk" else run_locust)(base, key, args.users, args.seconds)
        print(json.dumps(load), file=sys.stderr, flush=True)  # the load figures now; the counts after the drain
        accepted = load["accepted"]
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
            "tool": args.tool,
            **load,
            "accepted_per_s": round(accepted / args.seconds, 1),
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
