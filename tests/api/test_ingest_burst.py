"""A burst of concurrent text contacts through a real API (two processes, batched group commit) and worker:
every accepted contact is stored once and analyzed; repeated Idempotency-Keys answer with the first id."""

import asyncio
import time
import uuid

import httpx
import pytest
from sqlalchemy import text

from callscope.access.keys import create_api_key
from callscope.contacts import ContactMeta, Turn
from callscope.interactions.intake import NewTextContact, create_text_interactions
from tests.conftest import BROKER_URL
from tests.services import start_api, start_worker, stop


def test_a_batch_stores_each_idempotency_key_once_and_redacts(session):
    turns = [Turn(speaker="customer", text="my card 4539 1488 0343 6467 is lost")]
    first = create_text_interactions(session, [NewTextContact("batch", "sms", ContactMeta(), "k1", turns)])
    again = create_text_interactions(session, [
        NewTextContact("batch", "sms", ContactMeta(), "k1", turns),  # stored by the earlier batch
        NewTextContact("batch", "sms", ContactMeta(), "k2", turns),
        NewTextContact("batch", "sms", ContactMeta(), "k2", turns),  # twice in one batch
        NewTextContact("other-tenant", "sms", ContactMeta(), "k1", turns),  # keys are per tenant
    ])  # fmt: skip
    assert again[0].id == first[0].id and not again[0].created
    assert again[1].created and again[2].id == again[1].id and not again[2].created
    assert again[3].created and again[3].id != first[0].id
    stored = session.execute(text("select tenant, turns from interactions where tenant in ('batch', 'other-tenant')"))
    rows = list(stored)
    assert len(rows) == 3
    assert all("4539" not in str(r.turns) and "[CARD]" in str(r.turns) for r in rows)


async def _post_all(base: str, key: str, bodies: list[tuple[str, dict]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        return await asyncio.gather(*[
            client.post("/v1/interactions", json=body,
                        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idem})
            for idem, body in bodies
        ])  # fmt: skip


@pytest.mark.slow
def test_a_burst_of_concurrent_posts_is_stored_once_each_and_analyzed(session, database):
    key = create_api_key(session, tenant="burst", role="ingest")
    env = {"CALLSCOPE_BROKER_URL": BROKER_URL, "CALLSCOPE_API_PROCESSES": "2", "CALLSCOPE_RATE_LIMIT_PER_MINUTE": "0"}
    api, base = start_api(name="burst-api", env=env)
    worker = start_worker(name="burst-worker", env=env)
    try:
        unique = [(uuid.uuid4().hex, {"channel": "sms", "direction": "inbound", "text": f"card {i} not arrived"})
                  for i in range(300)]  # fmt: skip
        repeats = unique[:40]  # a client retrying: same key, same body
        answers = asyncio.run(_post_all(base, key, unique + repeats))
        assert {r.status_code for r in answers} <= {200, 202}
        ids = [r.json()["id"] for r in answers]
        assert len(set(ids)) == 300 and ids[300:] == ids[:40]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = session.execute(text("select count(*) from interactions where tenant = 'burst' and status = 'done'"))
            if done.scalar() == 300:
                break
            session.commit()
            time.sleep(1)
        counts = session.execute(text(
            "select count(*), count(distinct idempotency_key), count(*) filter (where status = 'done') "
            "from interactions where tenant = 'burst'")).one()  # fmt: skip
        assert tuple(counts) == (300, 300, 300)
        # each scrape is answered by one of the two processes; every one counts the posts of both
        admin = create_api_key(session, tenant="burst", role="admin")
        for _ in range(4):
            text_out = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {admin}"}).text
            posts = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text_out.splitlines()
                if line.startswith("callscope_http_request_seconds_count") and 'route="/v1/interactions"' in line
                and 'method="POST"' in line
            )  # fmt: skip
            assert posts == 340
    finally:
        stop(worker)
        stop(api)
