"""A broker that started empty is noticed by the missing marker, and exactly one caller queues the lost contacts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from callscope.pipeline import recovery
from callscope.storage import broker
from tests.conftest import FAULTS_REDIS_DB, REDIS_HOST_URL

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(f"{REDIS_HOST_URL}/{FAULTS_REDIS_DB}")  # flushed by the fault tests too
    conn.flushdb()
    yield conn
    conn.flushdb()


def test_a_missing_marker_requeues_what_was_queued_before_the_broker_started_once(client: redis.Redis) -> None:
    calls: list[tuple[datetime | None, datetime]] = []

    def requeue(after: datetime | None, before: datetime) -> int:
        calls.append((after, before))
        return 7

    started, count = recovery.recover_lost_queue(client, requeue=requeue, now=NOW)
    uptime = int(client.info("server")["uptime_in_seconds"])
    assert count == 7 and abs((NOW - started) - timedelta(seconds=uptime)) <= timedelta(seconds=2)
    assert calls == [(None, started + timedelta(seconds=recovery.CLOCK_MARGIN_S))]
    assert client.exists(recovery.MARKER_KEY) and not client.exists(recovery.LOCK_KEY)
    assert recovery.recover_lost_queue(client, requeue=requeue, now=NOW) is None  # the marker is back: nothing lost
    assert len(calls) == 1


def test_another_server_behind_the_marker_requeues_what_was_queued_since_its_last_refresh(client: redis.Redis) -> None:
    """A replica promoted by Sentinel holds the marker the old primary replicated, with the old primary's id: the
    writes it lacks came after that marker's last refresh."""
    calls: list[tuple[datetime | None, datetime]] = []

    def requeue(after: datetime | None, before: datetime) -> int:
        calls.append((after, before))
        return 2

    assert recovery.recover_lost_queue(client, requeue=requeue, now=NOW) is not None  # first sight: the broker is new
    calls.clear()
    later = NOW + timedelta(seconds=30)
    assert recovery.recover_lost_queue(client, requeue=requeue, now=later) is None  # the same server: refreshed only
    assert json.loads(client.get(recovery.MARKER_KEY))["seen_at"] == later.isoformat()
    client.set(recovery.MARKER_KEY, json.dumps({"run_id": "a-primary-that-died", "seen_at": later.isoformat()}))
    promoted = later + timedelta(seconds=12)
    since, count = recovery.recover_lost_queue(client, requeue=requeue, now=promoted)
    assert count == 2 and calls == [(later - timedelta(seconds=recovery.REPLICATION_MARGIN_S), promoted)]
    assert since == calls[0][0] and recovery.recover_lost_queue(client, requeue=requeue, now=promoted) is None
    client.set(recovery.MARKER_KEY, "2026-12-01T00:00:00+00:00")  # a marker of the older form: another server too
    assert recovery.recover_lost_queue(client, requeue=requeue, now=promoted)[1] == 2


def test_another_process_recovering_holds_the_lock(client: redis.Redis) -> None:
    client.set(recovery.LOCK_KEY, "1", ex=60)
    assert recovery.recover_lost_queue(client, requeue=lambda *_: pytest.fail("requeued twice"), now=NOW) is None


def test_a_failed_requeue_leaves_the_marker_unset_so_the_next_sweep_tries_again(client: redis.Redis) -> None:
    def refused(*_: object) -> int:
        raise redis.ConnectionError("broker went away again")

    with pytest.raises(redis.ConnectionError):
        recovery.recover_lost_queue(client, requeue=refused, now=NOW)
    assert not client.exists(recovery.MARKER_KEY) and not client.exists(recovery.LOCK_KEY)
    assert recovery.recover_lost_queue(client, requeue=lambda *_: 3, now=NOW)[1] == 3


def test_the_embedded_brokers_socket_url_becomes_a_redis_py_url() -> None:
    assert broker.redis_url_for("redis+socket:///var/broker/redis.sock") == "unix:///var/broker/redis.sock"
    assert broker.redis_url_for("redis://h:6379/0") == "redis://h:6379/0"
