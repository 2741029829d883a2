"""Contacts the broker lost: a Redis restarted without persistence forgets every task that was waiting in it.

The service leaves a marker key in the broker. When the marker is gone the broker has started empty, so every
contact queued before the broker's start (its uptime says when) is queued again, at once, by one API process (a
short lock in the broker), instead of waiting `stale_queued_s` for the sweeper. Steps are idempotent, so the few
contacts queued in the margin around the restart cost a duplicate, never a loss. A FLUSHALL without a restart is
not dated this way; the sweeper's `stale_queued_s` still catches those contacts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import redis

MARKER_KEY = "callscope:broker:marker"
LOCK_KEY = "callscope:broker:recovery"
LOCK_TTL_S = 120  # a process that died while recovering hands over to another one after this
CLOCK_MARGIN_S = 5.0  # contacts queued this long after the broker's start are queued again too


def recover_lost_queue(
    client: redis.Redis, *, requeue: Callable[[datetime], int], now: datetime
) -> tuple[datetime, int] | None:
    """If the broker lost its queue, queue again what was queued before its start: (that start, contacts queued).

    None when nothing was lost (or another process is recovering). `requeue(before)` must queue every contact still
    waiting that was queued before `before`; if it raises, the marker stays unset and the next call tries again.
    """
    if client.exists(MARKER_KEY) or not client.set(LOCK_KEY, "1", nx=True, ex=LOCK_TTL_S):
        return None
    try:
        started = now - timedelta(seconds=int(client.info("server")["uptime_in_seconds"]))
        count = requeue(started + timedelta(seconds=CLOCK_MARGIN_S))
        client.set(MARKER_KEY, started.isoformat())
        return started, count
    finally:
        client.delete(LOCK_KEY)
