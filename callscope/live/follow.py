"""Following a platform's live call by its own id (Genesys conversation id, Twilio call SID), from any API process.

The process that hears the call publishes each update (redacted utterances, intent, routing, remaining handling
time, suggestions) on the broker's Redis, on a channel of the tenant and the call; the agent's page or a desktop
integration subscribes there through whichever API process it reached. The last updates are kept a while, so a
panel opened mid-call starts with the conversation so far.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis

from callscope.storage.broker import async_broker_redis, broker_redis

log = logging.getLogger("callscope.live.follow")
KEPT = 200  # updates kept for a panel that opens mid-call
KEPT_S = 3600  # and for this long after the last one


def channel(tenant: str, platform_id: str) -> str:
    """The tenant and the call, hashed: a call id (which may hold digits of anything) is never a Redis key."""
    return "callscope:follow:" + hashlib.sha256(f"{tenant}\x00{platform_id}".encode()).hexdigest()[:40]


def publish(broker_url: str, *, tenant: str, platform_id: str, update: dict[str, Any]) -> None:
    """Send an update to the call's followers and keep it for late ones; a broker outage costs only the update."""
    name = channel(tenant, platform_id)
    try:
        client = broker_redis(broker_url)
        number = int(client.incr(name + ":n"))  # followers skip what they already read from the kept list
        body = json.dumps({**update, "n": number})
        pipe = client.pipeline()
        pipe.rpush(name + ":kept", body).ltrim(name + ":kept", -KEPT, -1).expire(name + ":kept", KEPT_S)
        pipe.expire(name + ":n", KEPT_S).publish(name, body)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("live update of a call not published: %s", exc.__class__.__name__)


async def follow(broker_url: str, *, tenant: str, platform_id: str) -> AsyncIterator[dict[str, Any]]:
    """The call's updates so far, then each new one as it is published (until the caller stops)."""
    name = channel(tenant, platform_id)
    client = async_broker_redis(broker_url)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(name)  # subscribed before reading what was kept: nothing falls in between
        last = 0
        for raw in await client.lrange(name + ":kept", 0, -1):
            update = json.loads(raw)
            last = update["n"]
            yield update
        async for message in pubsub.listen():
            if message.get("type") != "message":
                continue
            update = json.loads(message["data"])
            if update["n"] > last:  # published while the kept ones were read: already yielded
                yield update
    finally:
        await pubsub.aclose()
        await client.aclose()
