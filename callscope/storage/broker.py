"""The broker's Redis as a plain client: the recovery marker, rate limits and live state share it."""

from __future__ import annotations

from functools import lru_cache

import redis


def redis_url_for(broker_url: str) -> str:
    """The broker's Redis as a redis-py URL (the embedded broker listens on a Unix socket)."""
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url.removeprefix("redis+socket://")
    return broker_url


@lru_cache(maxsize=4)
def broker_redis(broker_url: str) -> redis.Redis:
    """One client per broker and process, with short timeouts: callers fail open when the broker is away."""
    return redis.Redis.from_url(redis_url_for(broker_url), socket_timeout=0.5, socket_connect_timeout=0.5)
