"""One tenant's bad input beside another's good posts, concurrently, on PostgreSQL through a real two-process API:
every good contact is stored, every bad one gets its own 4xx, and a body over its limit is not read to the end."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import redis
from sqlalchemy import text

from callscope.access.keys import create_api_key
from tests.conftest import FAULTS_REDIS_DB, REDIS_HOST_URL
from tests.services import start_api, stop

pytestmark = pytest.mark.slow
ROUNDS, GOOD_PER_ROUND = 2, 30


def _bad_requests() -> list[tuple[dict[str, str], bytes, set[int]]]:
    """(headers, body, the answers allowed): each a kind of input a tester came back with."""
    sms = {"channel": "sms", "direction": "inbound", "text": "my card was declined"}
    as_json = {"Content-Type": "application/json"}
    reused = f"reused-{uuid.uuid4().hex}"
    return [
        ({**as_json, "Idempotency-Key": "k" * 300}, json.dumps(sms).encode(), {422}),
        (as_json, json.dumps({**sms, "text": "nul \x00 byte"}).encode(), {422}),
        (as_json, b"[" * 100_000 + b"]" * 100_000, {422}),
        (as_json, b'{"channel": "sms", "direction": "inbound", "text": NaN}', {422}),
        (as_json, json.dumps({**sms, "text": "\ud800"}).encode(), {422}),
        (as_json, json.dumps({**sms, "queue": "q" * 500}).encode(), {422}),
        ({**as_json, "Idempotency-Key": reused}, json.dumps(sms).encode(), {202, 200, 409}),
        ({**as_json, "Idempotency-Key": reused}, json.dumps({**sms, "text": "other"}).encode(), {202, 200, 409}),
        # a 190 KB chat: valid, so accepted, but redacted on its own rather than in a batch others wait on
        (as_json, json.dumps({"channel": "chat", "transcript": "Customer: " + "my card was lost " * 11_500}).encode(),
         {202}),
    ]


async def _round(base: str, good_key: str, bad_key: str) -> tuple[list[httpx.Response], list[tuple[set[int], int]]]:
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=64)) as client:
        good = [
            client.post("/v1/interactions", headers={"Authorization": f"Bearer {good_key}",
                                                     "Idempotency-Key": uuid.uuid4().hex},
                        json={"channel": "sms", "direction": "inbound", "text": f"card {i} has not arrived"})
            for i in range(GOOD_PER_ROUND)
        ]  # fmt: skip
        bad = _bad_requests()
        sent = [client.post("/v1/interactions", headers={**h, "Authorization": f"Bearer {bad_key}"}, content=body)
                for h, body, _ in bad]  # fmt: skip
        answers = await asyncio.gather(*good, *sent)
    return list(answers[:GOOD_PER_ROUND]), [(allowed, r.status_code) for (_, _, allowed), r in
                                              zip(bad, answers[GOOD_PER_ROUND:], strict=True)]  # fmt: skip


def test_bad_requests_beside_good_ones_lose_nothing_and_stall_no_one(session, database):
    good_key = create_api_key(session, tenant="good-tenant", role="ingest")
    bad_key = create_api_key(session, tenant="bad-tenant", role="ingest")
    broker = f"{REDIS_HOST_URL}/{FAULTS_REDIS_DB}"  # its queued tasks are no other test's worker's work
    env = {"CALLSCOPE_BROKER_URL": broker, "CALLSCOPE_API_PROCESSES": "2", "CALLSCOPE_RATE_LIMIT_PER_MINUTE": "0"}
    api, base = start_api(name="bad-beside-good-api", env=env)
    try:
        for _ in range(ROUNDS):
            good, bad = asyncio.run(_round(base, good_key, bad_key))
            assert [r.status_code for r in good] == [202] * GOOD_PER_ROUND, [r.text for r in good if r.is_error]
            assert all(status in allowed for allowed, status in bad), bad
        sent = {"chunks": 0}

        def endless():
            for _ in range(2000):  # 125 MiB if it were all read
                sent["chunks"] += 1
                yield b"[" + b" " * 65_535

        try:
            response = httpx.post(f"{base}/v1/interactions", content=endless(), timeout=60,
                                  headers={"Authorization": f"Bearer {bad_key}", "Content-Type": "application/json"})
            assert response.status_code == 413
        except httpx.TransportError:  # the server answered 413 and closed while the client was still sending
            pass
        assert sent["chunks"] < 200, sent  # refused at the limit (about 16 chunks), not after reading it all
    finally:
        stop(api)
        redis.Redis.from_url(broker).flushdb()
    stored = session.execute(text("select count(*) from interactions where tenant = 'good-tenant'")).scalar_one()
    assert stored == ROUNDS * GOOD_PER_ROUND
