"""Voice throughput of real workers: 1 and 2 worker processes on this machine, same calls, one run.

Each configuration starts `callscope worker --concurrency N --queues transcribe,analyze` (Whisper threads per
process from the default: CPUs / processes), queues the same dual-channel calls, and times until all are done.
The figure is audio seconds transcribed per wall second; the ratio between the two is what matters.

    .venv/bin/python bench/bench_workers.py [--calls 8]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import start_worker, stop  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DB = "callscope_workers"
BROKER = "redis://127.0.0.1:6379/13"
PROGRESS = sa.text(
    "select count(*) filter (where status = 'done'), count(*) filter (where status = 'failed'), "
    "coalesce(sum(duration_s), 0) from interactions where tenant = :t"
)


def fresh_database() -> str:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{DB}"'))
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{DB}"


def run(processes: int, calls: int, audio: bytes) -> dict[str, float]:
    url = fresh_database()
    redis.Redis.from_url(BROKER).flushdb()
    env = {"CALLSCOPE_DATABASE_URL": url, "CALLSCOPE_BROKER_URL": BROKER,
           "CALLSCOPE_DATA_DIR": tempfile.mkdtemp(prefix="callscope-bench-workers-")}  # fmt: skip
    os.environ.update(env)
    from callscope.contacts import ContactMeta
    from callscope.interactions.intake import create_interaction
    from callscope.storage.db import get_sessionmaker, migrate
    from worker.app import celery_app

    migrate(url)
    worker = start_worker(name=f"bench-workers-{processes}", env=env, concurrency=processes)
    engine = sa.create_engine(url)

    def queue_and_wait(count: int, tenant: str) -> tuple[int, float]:
        with get_sessionmaker(url)() as session:
            for _ in range(count):
                row, _ = create_interaction(session, tenant=tenant, channel="voice", meta=ContactMeta(),
                                            audio=io.BytesIO(audio), filename="call.wav",
                                            content_type="audio/wav")  # fmt: skip
                celery_app.send_task("callscope.transcribe", args=[row.id])
        while True:
            with engine.connect() as conn:
                done, failed, seconds = conn.execute(PROGRESS, {"t": tenant}).one()
            if done + failed >= count:
                return failed, seconds
            time.sleep(0.5)

    try:
        queue_and_wait(2 * processes, "warm-up")  # every process loads its models before the clock starts
        started = time.perf_counter()
        failed, seconds = queue_and_wait(calls, "bench")
        wall = time.perf_counter() - started
    finally:
        stop(worker)
    return {"processes": processes, "calls": calls, "failed": failed, "wall_s": round(wall, 2),
            "audio_s": round(seconds, 1), "audio_s_per_wall_s": round(seconds / wall, 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--audio", type=Path, default=ROOT / "samples" / "call_dual_channel.wav")
    args = parser.parse_args()
    audio = args.audio.read_bytes()
    results = [run(n, args.calls, audio) for n in (1, 2)]
    results.append({"speedup_2_over_1": round(results[1]["audio_s_per_wall_s"] / results[0]["audio_s_per_wall_s"], 2),
                    "cpus": os.cpu_count()})  # fmt: skip
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
