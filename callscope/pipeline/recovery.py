"""Contacts the broker lost: a Redis restarted without persistence forgets every task that was waiting in it, and a
replica promoted by Sentinel lacks the last writes its primary had not yet replicated (replication is asynchronous).

The service keeps a marker in the broker: the id of the Redis server it saw and when it last saw it. When the marker
is gone the broker has started empty, so every contact queued before the broker's start (its uptime says when) is
queued again. When the marker names another server (a failover, or a restart from the append-only file), the
contacts queued since the marker was last refreshed, less a margin, are queued again: the replica had the marker, so
whatever it lacks came after. One API process does it (a short lock in the broker). Steps are idempotent, so the
contacts queued again needlessly cost a duplicate, never a loss. A FLUSHALL without a restart is not dated this way;
the sweeper's `stale_queued_s` still catches those contacts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import redis

MARKER_KEY = "callscope:broker:marker"
LOCK_KEY = "callscope:broker:recovery"
LOCK_TTL_S = 120  # a process that died while recovering hands over to another one after this
CLOCK_MARGIN_S = 5.0  # contacts queued this long after the broker's start are queued again too
REPLICATION_MARGIN_S = 30.0  # and this long before the marker's last refresh on the server that went away


def _marker(client: redis.Redis) -> dict[str, str] | None:
    raw = client.get(MARKER_KEY)
    if raw is None:
        return None
    try:
        found = json.loads(raw)
        return found if isinstance(found, dict) else {}
    except ValueError:  # an older marker (a date alone): no server id, so treated as another server
        return {}


def recover_lost_queue(
    client: redis.Redis, *, requeue: Callable[[datetime | None, datetime], int], now: datetime
) -> tuple[datetime, int] | None:
    """If the broker lost tasks, queue again the contacts it may have lost: (since when, contacts queued).

    None when nothing was lost (or another process is recovering). `requeue(after, before)` must queue every contact
    still waiting that was queued between `after` (None: any time) and `before`; if it raises, the marker stays as it
    was and the next call tries again."""
    server = client.info("server")
    run_id, uptime = str(server["run_id"]), int(server["uptime_in_seconds"])
    seen = _marker(client)
    mark = json.dumps({"run_id": run_id, "seen_at": now.isoformat()})
    if seen is not None and seen.get("run_id") == run_id:
        client.set(MARKER_KEY, mark)
        return None
    if not client.set(LOCK_KEY, "1", nx=True, ex=LOCK_TTL_S):
        return None
    try:
        if seen is None:  # started empty
            since, after = now - timedelta(seconds=uptime), None
            before = since + timedelta(seconds=CLOCK_MARGIN_S)
        else:  # another server, which had the marker: what it lacks was queued after the marker's last refresh
            last = datetime.fromisoformat(seen["seen_at"]) if "seen_at" in seen else now - timedelta(seconds=uptime)
            since = after = last - timedelta(seconds=REPLICATION_MARGIN_S)
            before = now
        count = requeue(after, before)
        client.set(MARKER_KEY, mark)
        return since, count
    finally:
        client.delete(LOCK_KEY)
