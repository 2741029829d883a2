"""Per-caller rate limits shared by every API process: a leaky bucket per caller (GCRA) kept in Redis.

A caller may spend its whole minute at once, then earns one request back every 60/limit seconds: no window
edge lets a caller through twice its limit, and a request's Retry-After is when the next one would pass.
Two buckets: each caller's requests (a key, a report session or an address), and each address's failed
authentications (wrong keys, wrong logins), which hold that address off until the failures drain."""

from __future__ import annotations

import math
import time

import redis

from callscope.storage.broker import broker_redis

PERIOD_S = 60.0
_SLACK_S = 1e-6  # float arithmetic on epoch seconds: a request at exactly its Retry-After gets in

# A bucket is the time (epoch seconds) at which it is empty again ("theoretical arrival time"). ARGV: now,
# seconds one request adds to the requests bucket (0: no limit), the same for failures, the period (plus slack).
_EXACT = "local function exact(x) return string.format('%.17g', x) end\n"  # a float as Lua writes it in full
_CHECK = _EXACT + """
local now, per_request, per_failure, period = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if per_failure > 0 then
  local failed_until = tonumber(redis.call('GET', KEYS[2]) or '0')
  if failed_until - now > period - per_failure then
    return {'failures', exact(failed_until - (period - per_failure) - now)}
  end
end
if per_request > 0 then
  local full_until = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now) + per_request
  if full_until - now > period then return {'requests', exact(full_until - period - now)} end
  redis.call('SET', KEYS[1], exact(full_until), 'PX', math.ceil((full_until - now) * 1000))
end
return {'', '0'}
"""
_FAIL = _EXACT + """
local now, per_failure, period = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local failed_until = math.min(math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now) + per_failure, now + period)
redis.call('SET', KEYS[1], exact(failed_until), 'PX', math.ceil((failed_until - now) * 1000))
return 1
"""


def check(
    broker_url: str, *, bucket: str, address: str, per_minute: int, failures_per_minute: int, now: float | None = None
) -> tuple[str | None, int]:
    """(None, 0) when the request may go on (and is counted), else (what was exceeded: "requests" or "failures",
    whole seconds until the next request would pass); one round trip. Fails open: a broker outage must not lock
    every client out."""
    if not broker_url or (per_minute <= 0 and failures_per_minute <= 0):
        return None, 0
    now = time.time() if now is None else now
    try:
        exceeded, wait_s = broker_redis(broker_url).eval(
            _CHECK, 2, f"callscope:ratelimit:{bucket}", f"callscope:authfail:{address}",
            repr(now), repr(_spacing(per_minute)), repr(_spacing(failures_per_minute)), repr(PERIOD_S + _SLACK_S),
        )  # fmt: skip
    except redis.RedisError:
        return None, 0
    if not exceeded:
        return None, 0
    return exceeded.decode() if isinstance(exceeded, bytes) else exceeded, max(1, math.ceil(float(wait_s)))


def note_failure(broker_url: str, *, address: str, per_minute: int, now: float | None = None) -> None:
    """Count a failed authentication from this address (the bucket holds at most a minute of failures)."""
    if not broker_url or per_minute <= 0:
        return
    now = time.time() if now is None else now
    try:
        broker_redis(broker_url).eval(
            _FAIL, 1, f"callscope:authfail:{address}", repr(now), repr(_spacing(per_minute)), repr(PERIOD_S)
        )
    except redis.RedisError:
        return


def _spacing(per_minute: int) -> float:
    """Seconds one event adds to its bucket; 0 turns the limit off."""
    return PERIOD_S / per_minute if per_minute > 0 else 0.0


def first_use(broker_url: str, *, key: str, ttl_s: float) -> bool:
    """True the first time `key` is seen within `ttl_s` (a signature's nonce: a replayed request is refused).

    Fails open when the broker is away: the signature and its 10 s window still hold."""
    try:
        return bool(broker_redis(broker_url).set(f"callscope:once:{key}", 1, nx=True, ex=max(1, math.ceil(ttl_s))))
    except redis.RedisError:
        return True
