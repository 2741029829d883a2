"""The rate limit's cost per request: the leaky bucket (one Lua script) against the fixed minute window it
replaced (INCR, EXPIRE and GET in one pipeline), alternately in one process on the same Redis, and how far past
its limit each lets a caller get in the second around a minute's edge.

    .venv/bin/python bench/bench_ratelimit.py [--broker redis://127.0.0.1:6379/13] [--calls 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from callscope.access import ratelimit
from callscope.storage.broker import broker_redis


def fixed_window(broker_url: str, bucket: str, address: str, per_minute: int, now: float) -> bool:
    """The replaced check: True when the request may go on."""
    window = int(now // 60)
    pipe = broker_redis(broker_url).pipeline()
    pipe.incr(f"bench:ratelimit:{bucket}:{window}")
    pipe.expire(f"bench:ratelimit:{bucket}:{window}", 120)
    pipe.get(f"bench:authfail:{address}:{window}")
    count, _, _ = pipe.execute()
    return int(count) <= per_minute


def leaky_bucket(broker_url: str, bucket: str, address: str, per_minute: int, now: float) -> bool:
    exceeded, _ = ratelimit.check(broker_url, bucket=bucket, address=address, per_minute=per_minute,
                                  failures_per_minute=30, now=now)  # fmt: skip
    return exceeded is None


def per_call_us(check, broker_url: str, calls: int) -> float:
    bucket = uuid.uuid4().hex
    start = time.perf_counter()
    for _ in range(calls):
        check(broker_url, bucket, "-", 10**9, time.time())
    return (time.perf_counter() - start) / calls * 1e6


def admitted_across_an_edge(check, broker_url: str, limit: int) -> int:
    """Requests let in when a caller sends 4x its limit in the last and the first half second of two minutes."""
    bucket, edge = uuid.uuid4().hex, 1_800_000_000.0
    times = [edge - 0.5 + k / (4 * limit) for k in range(4 * limit)]
    return sum(check(broker_url, bucket, "-", limit, t) for t in times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    checks = {"fixed window (before)": fixed_window, "leaky bucket (now)": leaky_bucket}
    per_call: dict[str, list[float]] = {name: [] for name in checks}
    for _ in range(args.rounds):
        for name, check in checks.items():
            per_call[name].append(per_call_us(check, args.broker, args.calls))
    medians = {name: statistics.median(times) for name, times in per_call.items()}
    print("| check | µs per request (median of rounds) | requests let in, limit 10, 40 sent around a minute's edge |")
    print("| --- | --- | --- |")
    for name, check in checks.items():
        print(f"| {name} | {medians[name]:.0f} | {admitted_across_an_edge(check, args.broker, 10)} |")
    ratio = medians["leaky bucket (now)"] / medians["fixed window (before)"]
    print(f"leaky bucket / fixed window: x{ratio:.2f}")


if __name__ == "__main__":
    main()
