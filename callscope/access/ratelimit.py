"""Per-caller rate limits shared by every API process: fixed one-minute windows counted in Redis.

Two counters: each caller's requests (a key, a report session or an address), and each address's failed
authentications (wrong keys, wrong logins), which hold that address off for the rest of the minute."""

from __future__ import annotations

import math
import time

import redis

from callscope.storage.broker import broker_redis


def check(
    broker_url: str, *, bucket: str, address: str, per_minute: int, failures_per_minute: int, now: float | None = None
) -> tuple[str | None, int]:
    """(None, 0) when the request may go on, else (what was exceeded: "requests" or "failures", seconds until the
    window resets); one round trip. Fails open: a broker outage must not lock every client out."""
    if not broker_url or (per_minute <= 0 and failures_per_minute <= 0):
        return None, 0
    now = time.time() if now is None else now
    window = int(now // 60)
    counter = f"callscope:ratelimit:{bucket}:{window}"
    try:
        pipe = broker_redis(broker_url).pipeline()
        pipe.incr(counter)
        pipe.expire(counter, 120)
        pipe.get(f"callscope:authfail:{address}:{window}")
        count, _, failures = pipe.execute()
    except redis.RedisError:
        return None, 0
    reset_s = 60 - int(now % 60)
    if failures_per_minute > 0 and int(failures or 0) >= failures_per_minute:
        return "failures", reset_s
    if per_minute > 0 and int(count) > per_minute:
        return "requests", reset_s
    return None, 0


def note_failure(broker_url: str, *, address: str, now: float | None = None) -> None:
    """Count a failed authentication from this address in the current window."""
    if not broker_url:
        return
    counter = f"callscope:authfail:{address}:{int((time.time() if now is None else now) // 60)}"
    try:
        pipe = broker_redis(broker_url).pipeline()
        pipe.incr(counter)
        pipe.expire(counter, 120)
        pipe.execute()
    except redis.RedisError:
        return


def allow(broker_url: str, *, key_prefix: str, per_minute: int, now: float | None = None) -> tuple[bool, int]:
    """(allowed, seconds until the window resets) for one caller's requests (the live WebSocket's events)."""
    exceeded, reset_s = check(broker_url, bucket=key_prefix, address="-", per_minute=per_minute,
                              failures_per_minute=0, now=now)  # fmt: skip
    return exceeded is None, reset_s


def first_use(broker_url: str, *, key: str, ttl_s: float) -> bool:
    """True the first time `key` is seen within `ttl_s` (a signature's nonce: a replayed request is refused).

    Fails open when the broker is away: the signature and its 10 s window still hold."""
    try:
        return bool(broker_redis(broker_url).set(f"callscope:once:{key}", 1, nx=True, ex=max(1, math.ceil(ttl_s))))
    except redis.RedisError:
        return True
