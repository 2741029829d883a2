"""Issue 28's figures: redaction time per kilobyte up to the size limit, and ingest throughput before and after the
security changes, measured in one run.

1. Redaction (`redact_many`, names on, as the API redacts) of texts from 5,000 to 200,000 characters (the limit of
   one contact) of five kinds: chat prose with numbers and names, written digit runs with odd separators, digit
   words and fillers as a recognizer writes a read-out, spoken e-mails, names. Time per KB at each size; linear
   when the largest size costs about what the smallest does per KB.
2. Ingest: `callscope serve --no-worker` (two API processes, PostgreSQL, Redis) from a worktree of BASE (the code
   before issue 28) and from this checkout, alternately, each round posting the same SMS contacts from 32
   concurrent clients; accepted contacts per second, and the ratio after/before of the medians.

    .venv/bin/python bench/bench_security.py [--base 360613a] [--rounds 3] [--posts 1500] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BROKER = "redis://127.0.0.1:6379/13"
SIZES = (5_000, 20_000, 50_000, 100_000, 200_000)


def _texts(kind: str, size: int, rng: random.Random) -> str:
    words = ["my", "card", "was", "declined", "at", "the", "shop", "yesterday", "and", "I", "want", "to", "know",
             "why", "please", "help", "me", "with", "the", "account", "payment", "transfer"]
    pieces: list[str] = []
    while sum(len(p) + 1 for p in pieces) < size:
        if kind == "chat":
            pieces.append(" ".join(rng.choice(words) for _ in range(12)) + rng.choice(
                [". ", ", my number is 07700 900123. ", ". I'm Sarah Connor. ", ", card 4539 1488 0343 6467. "]))
        elif kind == "separators":
            pieces.append(rng.choice([":", "/", ".", "|", " "]).join(str(rng.randint(0, 9999)) for _ in range(5)))
        elif kind == "read-out":
            pieces.append(" ".join(rng.choice(["one", "two", "oh", "double", "five", "um", "I'm", "and"])
                                   for _ in range(8)))  # fmt: skip
        elif kind == "e-mails":
            pieces.append(rng.choice(["bob", "at", "dot", "com", "(at)", "(dot)", "example", "co", "uk"]))
        else:
            pieces.append(rng.choice(["my name is", "Mr", "John", "Smith", "speaking", "this is Anna"]))
    return " ".join(pieces)[:size]


def bench_redaction() -> dict[str, dict[str, float]]:
    from callscope.understanding.redact import redact_many

    redact_many(["warm up, John Smith 4539 1488 0343 6467"])
    rng = random.Random(28)
    figures: dict[str, dict[str, float]] = {}
    for kind in ("chat", "separators", "read-out", "e-mails", "names"):
        figures[kind] = {}
        for size in SIZES:
            text = _texts(kind, size, rng)
            started = time.process_time()
            redact_many([text])
            figures[kind][str(size)] = round((time.process_time() - started) * 1000 / (size / 1000), 2)
        print(f"redaction {kind:10s} ms/KB " + "  ".join(f"{s // 1000}k: {v}" for s, v in
                                                           zip(SIZES, figures[kind].values(), strict=True)),
              flush=True)  # fmt: skip
    return figures


def _database(name: str) -> str:
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _serve(tree: Path, url: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """The API of the code in `tree` on its own database; returns it, its base URL and an ingest key."""
    env = {**os.environ, "CALLSCOPE_DATABASE_URL": url, "CALLSCOPE_BROKER_URL": BROKER,
           "CALLSCOPE_DATA_DIR": str(data_dir), "CALLSCOPE_API_PROCESSES": "2",
           "CALLSCOPE_RATE_LIMIT_PER_MINUTE": "100000000", "CALLSCOPE_CUSTOMER_HASH_KEY": secrets.token_hex(32),
           "HF_HUB_OFFLINE": "1"}  # fmt: skip
    subprocess.run([sys.executable, "-m", "cli", "db", "upgrade"], cwd=tree, env=env, check=True,
                   capture_output=True)  # fmt: skip
    key = "cs_" + secrets.token_urlsafe(32)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("insert into api_keys (tenant, role, key_hash, prefix, revoked, created_at) values "
                             "('bench', 'ingest', :h, :p, false, now())"),
                     {"h": hashlib.sha256(key.encode()).hexdigest(), "p": key[:10]})  # fmt: skip
    engine.dispose()
    with socket_port() as port:
        pass
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--no-worker", "--port", str(port),
                             "--log-level", "warning"], cwd=tree, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base, key
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"the API of {tree} did not start")


class socket_port:  # noqa: N801 - a tiny context manager
    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


async def _post_all(base: str, key: str, posts: int) -> float:
    """Accepted contacts per second for `posts` SMS from 32 concurrent clients."""
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(posts):
            queue.put_nowait(i)
        accepted = 0

        async def client_loop() -> None:
            nonlocal accepted
            while not queue.empty():
                i = queue.get_nowait()
                body = {"channel": "sms", "direction": "inbound", "text": f"my card {i} has not arrived yet"}
                answer = await client.post("/v1/interactions", json=body, headers={
                    "Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
                accepted += answer.status_code == 202

        started = time.perf_counter()
        await asyncio.gather(*[client_loop() for _ in range(32)])
        return accepted / (time.perf_counter() - started)


def bench_ingest(base_commit: str, rounds: int, posts: int) -> dict[str, object]:
    tree = Path(tempfile.mkdtemp(prefix="callscope-base-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), base_commit], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    sides = {"before": tree, "after": ROOT}
    rates: dict[str, list[float]] = {side: [] for side in sides}
    try:
        for round_ in range(rounds):
            for side, code in sides.items():
                redis.Redis.from_url(BROKER).flushdb()
                data_dir = Path(tempfile.mkdtemp(prefix=f"callscope-{side}-"))
                proc, base, key = _serve(code, _database(f"callscope_bench_sec_{side}"), data_dir)
                try:
                    asyncio.run(_post_all(base, key, 100))  # warm both processes
                    rates[side].append(round(asyncio.run(_post_all(base, key, posts)), 1))
                finally:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=30)
                print(f"ingest round {round_ + 1} {side:6s} {rates[side][-1]} accepted/s", flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        redis.Redis.from_url(BROKER).flushdb()
    ratio = statistics.median(rates["after"]) / statistics.median(rates["before"])
    print(f"ingest after/before (medians): x{ratio:.3f}", flush=True)
    return {"base": base_commit, "accepted_per_s": rates, "ratio_after_before": round(ratio, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="360613a", help="the commit before issue 28")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--posts", type=int, default=1500)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", choices=("redaction", "ingest"))
    args = parser.parse_args()
    results: dict[str, object] = {}
    if args.only != "ingest":
        results["redaction_ms_per_kb"] = bench_redaction()
    if args.only != "redaction":
        results["ingest"] = bench_ingest(args.base, args.rounds, args.posts)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
