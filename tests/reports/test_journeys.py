"""A customer's journey over calls, SMS and chats, repeats linked; repeat drivers and first-contact resolution;
access as for contacts (supervisors of the tenant only, audited)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

from callscope.contacts import Turn
from callscope.interactions import intake, jobs
from callscope.interactions.analyze import Batch
from callscope.settings import get_settings
from callscope.storage import search
from callscope.storage.db import Interaction
from tests.conftest import SAMPLES, auth

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def post(client, key, body=None, *, customer, hours, session):
    """One contact posted through the API (nothing queued: this test analyzes it), dated `hours` after START."""
    with mock.patch("api.app.send_task"), mock.patch("api.batching.send_task"):
        if body is None:  # a call: the recording, then stand-in turns for the transcription step
            meta = json.dumps({"customer_ref": customer, "agent_channel": "left", "queue": "security", "agent": "a1"})
            files = {"file": ("call.wav", (SAMPLES / "call_dual_channel.wav").read_bytes(), "audio/wav")}
            answer = client.post("/v1/interactions", files=files, data={"metadata": meta}, headers=auth(key))
        else:
            answer = client.post("/v1/interactions", json={**body, "customer_ref": customer}, headers=auth(key))
    assert answer.status_code == 202, answer.text
    row = session.get(Interaction, answer.json()["id"])
    row.created_at = START + timedelta(hours=hours)
    if body is None:
        row.turns = intake.redact_turns([
            Turn(speaker="agent", start=0, end=2, text="Northfield Bank, how can I help?"),
            Turn(speaker="customer", start=3, end=8, text="I lost my card yesterday, can you block it?"),
            Turn(speaker="agent", start=9, end=12, text="I've blocked the card and ordered a new one."),
        ])  # fmt: skip
    session.commit()
    jobs.analyze_step(session, row.id, batch=Batch.from_settings(get_settings()))
    return row.id


def test_the_journey_over_three_channels_is_in_order_with_repeats_linked(client, make_key, session):
    tenant = f"journey-{uuid.uuid4().hex[:8]}"
    ingest, supervisor = make_key("ingest", tenant), make_key("supervisor", tenant)
    sms = {"channel": "sms", "queue": "cards", "messages": [
        {"direction": "inbound", "text": "my new card still hasn't arrived and I need to pay rent"}]}  # fmt: skip
    chat = {
        "channel": "chat",
        "queue": "cards",
        "agent": "a2",
        "transcript": "Customer: Still no card, it's been a week!\nAgent: Sorry, I've ordered another.",
    }
    call = post(client, ingest, customer="cust-77", hours=0, session=session)
    text = post(client, ingest, sms, customer="cust-77", hours=20, session=session)
    later = post(client, ingest, chat, customer="cust-77", hours=30, session=session)
    other = post(client, ingest, sms, customer="cust-88", hours=10, session=session)  # another customer, no repeat
    post(client, ingest, {**sms, "customer_ref": None}, customer=None, hours=5, session=session)  # unknown customer

    customer_hash = client.get(f"/v1/interactions/{call}", headers=auth(supervisor)).json()["customer_hash"]
    answer = client.get(f"/v1/customers/{customer_hash}/journey", headers=auth(supervisor))
    assert answer.status_code == 200, answer.text
    journey = answer.json()
    assert [c["id"] for c in journey["contacts"]] == [call, text, later]
    assert [c["channel"] for c in journey["contacts"]] == ["voice", "sms", "chat"]
    assert journey["channels"] == ["chat", "sms", "voice"] and journey["count"] == 3 and journey["repeats"] == 2
    first, second, third = journey["contacts"]
    assert first["repeat_of"] is None and first["repeated_by"] == [text] and first["intent"] == "lost_or_stolen_card"
    assert second["repeat_of"] == call and second["hours_since_previous"] == 20.0 and second["repeated_by"] == [later]
    assert third["repeat_of"] == text and third["repeated_by"] == []
    assert first["outcome"] == "resolved" and "blocked the card" in first["summary"]
    assert "cust-77" not in answer.text  # the reference itself is never stored

    page = client.get(f"/reports/customers/{customer_hash}", headers=auth(supervisor))
    assert page.status_code == 200 and page.text.count('class="contact-link"') == 3
    assert 'class="repeat"' in page.text and f'href="#step-{call}"' in page.text
    detail = client.get(f"/reports/contacts/{text}", headers=auth(supervisor)).text
    assert f'href="/reports/customers/{customer_hash}"' in detail

    outsider = make_key("supervisor")
    assert client.get(f"/v1/customers/{customer_hash}/journey", headers=auth(outsider)).status_code == 404
    assert client.get(f"/reports/customers/{customer_hash}", headers=auth(outsider)).status_code == 404
    assert client.get(f"/v1/customers/{customer_hash}/journey", headers=auth(ingest)).status_code == 403
    assert client.get("/v1/customers/not-a-hash/journey", headers=auth(supervisor)).status_code == 422
    audited = [e["action"] for e in client.get("/v1/audit", headers=auth(make_key("admin", tenant))).json()]
    assert audited.count("customer.journey") == 2

    report = client.get("/v1/reports/repeats", headers=auth(supervisor)).json()
    assert report["overall"]["contacts"] == 4 and report["overall"]["repeated"] == 2  # unknown customers left out
    assert report["overall"]["fcr"] == 0.5
    lost = next(r for r in report["drivers"] if r["intent"] == "lost_or_stolen_card")
    assert lost["repeated"] == 1 and lost["repeat_channels"] == {"sms": 1} and lost["fcr"] == 0.0
    by_queue = {r["queue"]: r for r in report["by_queue"]}
    assert by_queue["security"]["fcr"] == 0.0 and by_queue["cards"]["contacts"] == 3
    assert by_queue["cards"]["repeated"] == 1  # the SMS was followed by the chat; the chat and cust-88's were not
    assert other not in {c["id"] for c in journey["contacts"]}

    # erasure: the repeat's report row goes with it and first-contact resolution follows
    admin = make_key("admin", tenant)
    assert client.delete(f"/v1/interactions/{later}", headers=auth(admin)).status_code == 204
    report = client.get("/v1/reports/repeats", headers=auth(supervisor)).json()
    assert report["overall"]["contacts"] == 3 and report["overall"]["repeated"] == 1
    search.reindex(session, tenant=tenant)  # `callscope reports reindex` rebuilds the same links
    session.commit()
    assert client.get("/v1/reports/repeats", headers=auth(supervisor)).json() == report
