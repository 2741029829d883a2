"""Per-key rate limits shared by every API process: a fixed one-minute window counted in Redis."""

from __future__ import annotations

import time

import redis

from callscope.pipeline.recovery import broker_redis


def allow(broker_url: str, *, key_prefix: str, per_minute: int, now: float | None = None) -> tuple[bool, int]:
    """(allowed, seconds until the window resets). Fails open: a broker outage must not lock every client out."""
    if per_minute <= 0 or not broker_url:
        return True, 0
    now = time.time() if now is None else now
    window = int(now // 60)
    counter = f"callscope:ratelimit:{key_prefix}:{window}"
    try:
        pipe = broker_redis(broker_url).pipeline()
        pipe.incr(counter)
        pipe.expire(counter, 120)
        count = int(pipe.execute()[0])
    except redis.RedisError:
        return True, 0
    return count <= per_minute, 60 - int(now % 60)
