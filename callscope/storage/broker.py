"""The broker's Redis as a plain client: the recovery marker, rate limits and live state share it.

The broker is one Redis (`redis://host:6379/0`), the embedded one (`redis+socket://...`), or a primary found through
Redis Sentinel: `sentinel://s1:26379;sentinel://s2:26379;sentinel://s3:26379/0?master_name=callscope`, kombu's own
form with the master's name carried in the URL, so that Celery and every other use of the broker read one setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
from redis.sentinel import Sentinel

SENTINEL_PORT = 26379
TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


@dataclass(frozen=True)
class SentinelBroker:
    """The parts of a `sentinel://` broker URL."""

    sentinels: tuple[tuple[str, int], ...]
    master_name: str
    db: int
    password: str | None

    @property
    def kombu_url(self) -> str:
        """The URL as kombu takes it (the master's name goes in the transport options instead)."""
        auth = f":{self.password}@" if self.password else ""
        return ";".join(f"sentinel://{auth}{host}:{port}/{self.db}" for host, port in self.sentinels)


def parse_sentinel(broker_url: str) -> SentinelBroker | None:
    """The Sentinel set and master of a `sentinel://` URL; None for any other broker. A URL without a master's name
    raises: Celery would fail at its first task, far from the setting."""
    if not broker_url.startswith("sentinel://"):
        return None
    sentinels, master, db, password = [], None, 0, None
    for part in broker_url.split(";"):
        url = urlsplit(part.strip())
        if url.scheme != "sentinel" or not url.hostname:
            raise ValueError("a Sentinel broker URL is sentinel://host:port;sentinel://host:port/db?master_name=NAME")
        sentinels.append((url.hostname, url.port or SENTINEL_PORT))
        master = parse_qs(url.query).get("master_name", [master])[0]
        db = int(url.path.strip("/") or db)
        password = url.password or password
    if not master:
        raise ValueError("a Sentinel broker URL needs ?master_name=NAME (the name Sentinel monitors)")
    return SentinelBroker(tuple(sentinels), master, db, password)


def celery_broker(broker_url: str) -> tuple[str, dict[str, Any]]:
    """Celery's broker URL and the transport options it needs besides (the Sentinel master's name)."""
    found = parse_sentinel(broker_url)
    if found is None:
        return broker_url, {}
    return found.kombu_url, {"master_name": found.master_name, "sentinel_kwargs": dict(TIMEOUTS)}


def redis_url_for(broker_url: str) -> str:
    """The broker's Redis as a redis-py URL (the embedded broker listens on a Unix socket)."""
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url.removeprefix("redis+socket://")
    return broker_url


@lru_cache(maxsize=4)
def broker_redis(broker_url: str) -> redis.Redis:
    """One client per broker and process, with short timeouts: callers fail open when the broker is away. Through
    Sentinel the client asks for the current primary on each new connection, so it follows a failover."""
    found = parse_sentinel(broker_url)
    if found is None:
        return redis.Redis.from_url(redis_url_for(broker_url), **TIMEOUTS)
    sentinel = Sentinel(list(found.sentinels), sentinel_kwargs=dict(TIMEOUTS), **TIMEOUTS)
    return sentinel.master_for(found.master_name, db=found.db, password=found.password, **TIMEOUTS)


def async_broker_redis(broker_url: str) -> Any:
    """A new asyncio client of the broker's Redis (the caller closes it), through Sentinel where the URL says so."""
    import redis.asyncio as aioredis
    from redis.asyncio.sentinel import Sentinel as AsyncSentinel

    found = parse_sentinel(broker_url)
    if found is None:
        return aioredis.Redis.from_url(redis_url_for(broker_url))
    sentinel = AsyncSentinel(list(found.sentinels), sentinel_kwargs=dict(TIMEOUTS), socket_connect_timeout=0.5)
    return sentinel.master_for(found.master_name, db=found.db, password=found.password, socket_connect_timeout=0.5)
