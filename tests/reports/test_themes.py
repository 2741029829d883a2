"""Themes among a tenant's unnamed contacts: found by a real Celery worker on request, served by the API."""

import time
import uuid
from datetime import timedelta

import pytest

from callscope.contacts import ContactMeta, Turn
from callscope.interactions import intake
from callscope.reports import themes
from callscope.storage.db import Interaction, utcnow
from callscope.understanding.custom_intents import read_examples
from tests.conftest import SAMPLES, auth

EXAMPLES = read_examples(SAMPLES / "custom_intents.csv")


def unnamed_contacts(session, tenant: str, *, label: str = "other", confidence: float = 0.3) -> dict[str, str]:
    """The sample requests as analyzed contacts that no intent named, spread over the last six days."""
    ids = {}
    for n, (text, intent) in enumerate(EXAMPLES):
        turns = [Turn(speaker="agent", text="Hello, how can I help?"), Turn(speaker="customer", text="Yes."),
                 Turn(speaker="customer", text=text)]  # fmt: skip
        row, _ = intake.create_interaction(session, tenant=tenant, channel="chat", meta=ContactMeta(), turns=turns)
        row.status, row.intent_label, row.intent_confidence = "done", label, confidence
        row.created_at = utcnow() - timedelta(days=n % 6, hours=1)
        ids[row.id] = intent
    session.commit()
    return ids


def test_a_run_groups_the_unnamed_requests_with_their_trend_and_contacts(session):
    tenant, other = f"th-{uuid.uuid4().hex[:8]}", f"th-{uuid.uuid4().hex[:8]}"
    ids = unnamed_contacts(session, tenant)
    unnamed_contacts(session, other)
    named = unnamed_contacts(session, tenant, label="order_cheques", confidence=0.95)  # named: never in a theme
    run = themes.discover(session, tenant=tenant, days=7)
    assert run.contacts == len(ids) and 5 <= len(run.themes) <= 7
    for theme in run.themes:
        assert set(theme["contacts"]) <= set(ids) and not set(theme["contacts"]) & set(named)
        assert sum(day["contacts"] for day in theme["trend"]) == theme["size"] == len(theme["contacts"])
        intents = [ids[c] for c in theme["contacts"]]
        assert max(map(intents.count, intents)) >= 0.6 * len(intents), theme
        assert all(example in {t for t, _ in EXAMPLES} for example in theme["examples"])  # the request, not "Yes."
    assert themes.latest(session, tenant=tenant)["themes"] == run.themes


@pytest.mark.usefixtures("live_worker")
def test_themes_are_recomputed_by_a_worker_on_request_and_tenant_scoped(client, make_key, session):
    tenant = f"th-{uuid.uuid4().hex[:8]}"
    unnamed_contacts(session, tenant)
    supervisor = make_key("supervisor", tenant=tenant)
    assert client.get("/v1/themes", headers=auth(supervisor)).json()["themes"] == []
    assert client.post("/v1/themes", headers=auth(make_key("ingest", tenant=tenant))).status_code == 403
    assert client.post("/v1/themes?days=0", headers=auth(supervisor)).status_code == 422
    assert client.post("/v1/themes?days=7", headers=auth(supervisor)).json() == {"queued": True, "days": 7}
    deadline = time.monotonic() + 300
    while not (found := client.get("/v1/themes", headers=auth(supervisor)).json())["themes"]:
        assert time.monotonic() < deadline, found
        time.sleep(0.5)
    assert found["days"] == 7 and found["contacts"] == len(EXAMPLES) and len(found["themes"]) >= 5
    theirs = client.get("/v1/themes", headers=auth(make_key("supervisor"))).json()
    assert theirs["themes"] == [] and theirs["computed_at"] is None
    assert session.get(Interaction, found["themes"][0]["contacts"][0]).tenant == tenant
