"""A tenant's own intents through the real stack: the API stores them, a Celery worker fits a version, and the
worker's analysis answers and routes with it; other tenants keep the shipped model."""

import time
import uuid

import pytest

from callscope.understanding.custom_intents import read_examples
from tests.conftest import SAMPLES, auth, wait_final

pytestmark = pytest.mark.usefixtures("live_worker")

ROUTES = {"apply_for_loan": ("lending", 2, False), "update_address": ("servicing", 4, True)}


def chat(text: str) -> dict:
    return {"channel": "chat", "messages": [
        {"role": "agent", "text": "Hello, how can I help?", "timestamp": "2026-12-04T10:00:00Z"},
        {"role": "customer", "text": text, "timestamp": "2026-12-04T10:00:09Z"}]}  # fmt: skip


def test_a_tenants_intents_are_fit_by_a_worker_and_answer_its_contacts_only(client, make_key):
    tenant = f"bank-{uuid.uuid4().hex[:8]}"
    admin, supervisor = make_key("admin", tenant=tenant), make_key("supervisor", tenant=tenant)
    assert client.get("/v1/intents", headers=auth(supervisor)).status_code == 403
    assert client.post("/v1/intent-models", json={}, headers=auth(admin)).status_code == 400  # nothing defined yet
    few = client.put("/v1/intents/open_isa", json={"examples": ["open an isa"] * 5, "queue": "q", "priority": 3},
                     headers=auth(admin))  # fmt: skip
    assert few.status_code == 422 and "5 different examples" in few.json()["detail"]
    examples: dict[str, list[str]] = {}
    for text, intent in read_examples(SAMPLES / "custom_intents.csv"):
        examples.setdefault(intent, []).append(text)
    for name, texts in examples.items():
        queue, priority, escalate = ROUTES.get(name, ("general", 3, False))
        put = client.put(f"/v1/intents/{name}", json={"examples": texts, "queue": queue, "priority": priority,
                                                        "escalate": escalate}, headers=auth(admin))  # fmt: skip
        assert put.status_code == 200, put.text
    assert client.post("/v1/intent-models", json={"base": "none"}, headers=auth(admin)).status_code == 202
    deadline = time.monotonic() + 300  # the fit waits behind whatever the shared worker has queued before it
    while time.monotonic() < deadline:
        listed = client.get("/v1/intents", headers=auth(admin)).json()
        if any(v["active"] for v in listed["versions"]):
            break
        time.sleep(0.5)
    assert sorted(i["name"] for i in listed["intents"]) == sorted(examples)
    assert len(listed["versions"]) == 1, listed["versions"]
    version = listed["versions"][0]
    assert version["active"] and version["metrics"]["cv_accuracy"] >= 0.8 and version["metrics"]["base"] == "none"

    ingest = make_key("ingest", tenant=tenant)
    loan = client.post("/v1/interactions", json=chat("yeah hi, um, I was hoping to borrow some money for a new "
                                                     "kitchen, like ten grand?"), headers=auth(ingest))  # fmt: skip
    moved = client.post("/v1/interactions", json=chat("hi, I moved to a new flat last week so my address has "
                                                      "changed"), headers=auth(ingest))  # fmt: skip
    loan_result, moved_result = (wait_final(client, ingest, r.json()["id"]) for r in (loan, moved))
    assert loan_result["intent"]["label"] == "apply_for_loan"
    assert loan_result["routing"]["queue"] == "lending" and loan_result["routing"]["priority"] == 2
    assert moved_result["intent"]["label"] == "update_address"
    assert moved_result["routing"]["queue"] == "servicing" and moved_result["routing"]["escalate"] is True

    agent = make_key("agent", tenant=tenant)  # live assist answers with the tenant's model and routes too
    with client.websocket_connect("/v1/live/loan-call", headers=auth(agent)) as ws:
        ws.send_json({"type": "start", "channel": "chat"})
        ws.receive_json()
        ws.send_json({"type": "turn", "speaker": "customer", "text": "hi, can I borrow some money to buy a car?"})
        live = ws.receive_json()
    assert live["intent"]["label"] == "apply_for_loan" and live["routing"]["queue"] == "lending"

    other = make_key("ingest")  # another tenant: the shipped Banking77 model, untouched by this tenant's intents
    theirs = wait_final(client, other, client.post("/v1/interactions", json=chat("hi, I moved house so my address "
                                                   "has changed"), headers=auth(other)).json()["id"])  # fmt: skip
    assert theirs["intent"]["label"] not in examples
    assert client.get("/v1/intents", headers=auth(make_key("admin"))).json() == {"intents": [], "versions": []}
    assert client.delete("/v1/intents/order_cheques", headers=auth(admin)).status_code == 204
    assert client.delete("/v1/intents/order_cheques", headers=auth(admin)).status_code == 404
