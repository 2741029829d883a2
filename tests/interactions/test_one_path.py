"""One conversation, four ways in (posted, imported, `/v1/analyze`d, a live session's end): the same analysis.

Before the one path, an imported contact skipped the tenant's QA forms, own intents, learned handling time and
repeat-contact link, and `/v1/analyze` took a single customer text; the tenant here has its own QA form and a
category, so a path that skips the tenant's resources answers differently."""

from __future__ import annotations

import json
import uuid
from typing import Any

from callscope.interactions import jobs
from callscope.interactions.analyze import Batch
from callscope.interactions.importing import import_file
from callscope.live.session import LiveResources, LiveSession, handle_event, store_session
from callscope.settings import get_settings
from callscope.storage.db import Interaction
from callscope.tenants import categories
from tests.conftest import auth

MESSAGES = [
    {"role": "customer", "text": "Hello, I lost my card yesterday and I need to block it please."},
    {"role": "agent", "text": "Good morning, Northfield Bank. I can block it now; never share your code with anyone."},
    {"role": "customer", "text": "Thank you. Also my salary has not arrived in my account this month."},
    {"role": "agent", "text": "I have blocked the card and I will check the transfer for you."},
]
FORM = {
    "name": "Cards desk",
    "channels": ["chat"],
    "questions": [
        {"id": "fraud_warning", "text": "Warned never to share a code", "weight": 5,
         "check": {"type": "phrase", "pattern": "never (share|give)"}},
    ],
}  # fmt: skip
COMPARED = ("intent", "intents", "routing", "handle_time", "entities", "sentiment", "features", "summary", "qa",
            "categories", "repeat_contact")  # fmt: skip


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def stored_analysis(row: Interaction) -> dict[str, Any]:
    details = row.analysis or {}
    return {
        "intent": {"label": row.intent_label, "confidence": row.intent_confidence},
        "routing": row.routing,
        "handle_time": row.handle_time,
        "categories": row.categories or [],
        **{
            k: details.get(k)
            for k in ("intents", "entities", "sentiment", "features", "summary", "qa", "repeat_contact")
        },
    }


def test_posted_imported_analyzed_and_live_contacts_get_the_same_analysis(client, make_key, session, tmp_path):
    tenant = f"one-path-{uuid.uuid4().hex[:8]}"
    admin = make_key("admin", tenant)
    assert client.put("/v1/qa/forms/cards-desk", json=FORM, headers=auth(admin)).status_code == 200
    rule = categories.CategoryIn(name="lost card", rule=categories.Rule(phrases=["lost my card"]))
    categories.create_category(session, tenant=tenant, body=rule)
    batch = Batch.from_settings(get_settings())

    posted = client.post("/v1/interactions", json={"channel": "chat", "messages": MESSAGES}, headers=auth(admin))
    assert posted.status_code == 202, posted.text
    jobs.analyze_step(session, posted.json()["id"], batch=batch)  # what the worker's task runs
    by_post = stored_analysis(session.get(Interaction, posted.json()["id"]))

    lines = tmp_path / "contacts.jsonl"
    lines.write_text(json.dumps({"channel": "chat", "messages": MESSAGES}) + "\n")
    assert import_file(session, lines, fmt="jsonl", tenant=tenant, batch=batch).imported == 1
    imported = session.query(Interaction).filter_by(tenant=tenant).order_by(Interaction.created_at.desc()).first()
    by_import = stored_analysis(imported)

    answer = client.post("/v1/analyze", json={"channel": "chat", "messages": MESSAGES}, headers=auth(admin))
    assert answer.status_code == 200, answer.text
    by_analyze = {k: answer.json()[k] for k in COMPARED}

    clock = Clock()
    live = LiveSession(f"call-{uuid.uuid4().hex[:8]}", LiveResources.from_settings(get_settings()), clock=clock)
    assert handle_event(live, {"type": "start", "channel": "chat"})["type"] == "update"
    for message in MESSAGES:  # a message a second, as a posted chat without timestamps is timed
        answer = handle_event(live, {"type": "turn", "speaker": message["role"], "text": message["text"]})
        assert answer["type"] == "update", answer
        clock.now += 1.0
    queued: list[str] = []
    stored = store_session(
        live, db=session, tenant=tenant, send=lambda _task, interaction_id: queued.append(interaction_id)
    )
    assert stored["stored"] and queued == [stored["interaction_id"]], stored
    jobs.analyze_step(session, stored["interaction_id"], batch=batch)
    by_live = stored_analysis(session.get(Interaction, stored["interaction_id"]))

    assert by_post["qa"]["form"].startswith("cards-desk"), by_post["qa"]
    assert by_post["categories"] == ["lost card"]
    assert by_post["intent"]["label"] == "lost_or_stolen_card"
    for way, analysis in (("imported", by_import), ("/v1/analyze", by_analyze), ("live", by_live)):
        for key in COMPARED:
            assert analysis[key] == by_post[key], f"{way}: {key} differs from the posted contact's"

