"""The HTTP API on the real PostgreSQL and Redis: authentication, tenants, idempotency, bad input, queueing."""

import base64
import json

import pytest
import redis

from callscope.settings import get_settings
from tests.conftest import BROKER_URL, SAMPLES, auth

SMS = json.loads((SAMPLES / "sms_thread.json").read_text())
CHAT = json.loads((SAMPLES / "web_chat.json").read_text())
CALL = (SAMPLES / "call_dual_channel.wav").read_bytes()


def queued_tasks(queue: str) -> list[dict]:
    """Messages waiting in a Celery queue on the real broker (nothing consumes them in these tests)."""
    client = redis.Redis.from_url(BROKER_URL)
    return [json.loads(m) for m in client.lrange(queue, 0, -1)]


def task_ids_for(queue: str, interaction_id: str) -> int:
    return sum(1 for m in queued_tasks(queue) if interaction_id in json.dumps(m))


def test_health_needs_no_key(client):
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/v1/interactions"), ("post", "/v1/interactions"), ("get", "/v1/interactions/x"),
     ("post", "/v1/analyze"), ("post", "/v1/interactions/x/outcome"), ("get", "/v1/webhooks")],
)  # fmt: skip
def test_every_route_but_health_needs_a_key(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 401
    assert "API key" in response.json()["detail"]
    assert getattr(client, method)(path, headers=auth("cs_wrong")).status_code == 401


def test_roles_are_enforced(client, make_key):
    supervisor = make_key("supervisor")
    response = client.post("/v1/interactions", json=SMS, headers=auth(supervisor))
    assert response.status_code == 403 and "may not ingest" in response.json()["detail"]
    assert client.get("/v1/interactions", headers=auth(supervisor)).status_code == 200
    assert client.get("/metrics", headers=auth(make_key("agent"))).status_code == 403
    assert (
        client.post("/v1/webhooks", json={"url": "http://x.invalid/h"}, headers=auth(make_key("ingest"))).status_code
        == 403
    )


def test_text_contact_is_stored_redacted_and_queued_for_analysis(client, make_key):
    key = make_key("ingest")
    response = client.post("/v1/interactions", json=CHAT, headers=auth(key))
    assert response.status_code == 202
    interaction_id = response.json()["id"]
    body = client.get(f"/v1/interactions/{interaction_id}", headers=auth(key)).json()
    assert body["status"] == "queued" and body["channel"] == "chat" and body["external_id"] == "chat-2001"
    texts = " ".join(t["text"] for t in body["turns"])
    assert "4111 1111 1111 1111" not in texts and "[CARD]" in texts
    assert task_ids_for("analyze", interaction_id) == 1


def test_recording_is_stored_and_queued_for_transcription(client, make_key):
    key = make_key("ingest")
    response = client.post(
        "/v1/interactions",
        files={"file": ("call.wav", CALL, "audio/wav")},
        data={"metadata": json.dumps({"agent_channel": "right", "queue": "cards", "agent": "a-7"})},
        headers=auth(key),
    )
    assert response.status_code == 202, response.text
    interaction_id = response.json()["id"]
    body = client.get(f"/v1/interactions/{interaction_id}", headers=auth(key)).json()
    assert (body["channel"], body["queue"], body["agent"], body["turns"]) == ("voice", "cards", "a-7", [])
    assert task_ids_for("transcribe", interaction_id) == 1


def test_idempotency_key_never_creates_a_second_interaction(client, make_key):
    key = make_key("ingest")
    headers = {**auth(key), "Idempotency-Key": "order-77"}
    first = client.post("/v1/interactions", json=SMS, headers=headers)
    second = client.post("/v1/interactions", json=SMS, headers=headers)
    assert first.status_code == 202 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"] and second.json()["created"] is False
    assert len(client.get("/v1/interactions", headers=auth(key)).json()["items"]) == 1
    assert task_ids_for("analyze", first.json()["id"]) == 1


def test_another_tenants_contact_is_indistinguishable_from_a_missing_one(client, make_key):
    mine, theirs = make_key("admin", tenant="bank-a"), make_key("admin", tenant="bank-b")
    interaction_id = client.post("/v1/interactions", json=SMS, headers=auth(mine)).json()["id"]
    other = client.get(f"/v1/interactions/{interaction_id}", headers=auth(theirs))
    missing = client.get("/v1/interactions/00000000-0000-0000-0000-000000000000", headers=auth(theirs))
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"].replace(interaction_id, "ID") == missing.json()["detail"].replace(
        "00000000-0000-0000-0000-000000000000", "ID"
    )
    outcome = client.post(f"/v1/interactions/{interaction_id}/outcome", json={"handle_time_s": 5}, headers=auth(theirs))
    assert outcome.status_code == 404
    assert interaction_id not in json.dumps(client.get("/v1/interactions", headers=auth(theirs)).json())


@pytest.mark.parametrize(
    ("kwargs", "status", "reason"),
    [
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "malformed JSON"),
        ({"json": {"channel": "pigeon", "messages": []}}, 422, "unknown channel"),
        ({"json": {"channel": "sms", "messages": []}}, 422, "messages"),
        ({"content": b"hello", "headers": {"Content-Type": "text/plain"}}, 415, "JSON body"),
        ({"files": {"file": ("a.wav", b"", "audio/wav")}}, 400, "empty"),
        ({"files": {"file": ("a.wav", b"this is not audio" * 50, "audio/wav")}}, 415, "not a readable audio"),
        ({"files": {"file": ("a.wav", CALL[:5000], "audio/wav")}}, 400, "truncated"),
        ({"files": {"other": ("a.wav", CALL, "audio/wav")}}, 400, "field `file`"),
        ({"files": {"file": ("a.wav", CALL, "audio/wav")}, "data": {"metadata": "{oops"}}, 400, "metadata"),
        ({"files": {"file": ("a.wav", CALL, "audio/wav")}, "data": {"metadata": '{"agent_channel": "up"}'}}, 422,
         "agent_channel"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_clear_4xx_and_stores_nothing(client, make_key, kwargs, status, reason):
    key = make_key("ingest")
    headers = {**auth(key), **kwargs.pop("headers", {})}
    response = client.post("/v1/interactions", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert client.get("/v1/interactions", headers=auth(key)).json()["items"] == []


def test_oversized_upload_is_refused(client, make_key, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_upload_bytes", 100_000)
    key = make_key("ingest")
    response = client.post("/v1/interactions", files={"file": ("a.wav", CALL, "audio/wav")}, headers=auth(key))
    assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_unknown_interaction_is_404(client, make_key):
    response = client.get("/v1/interactions/nope", headers=auth(make_key()))
    assert response.status_code == 404 and "not found" in response.json()["detail"]


def test_list_is_paginated_and_filterable(client, make_key):
    key = make_key("ingest")
    ids = [client.post("/v1/interactions", json=SMS, headers=auth(key)).json()["id"] for _ in range(5)]
    first = client.get("/v1/interactions?limit=2", headers=auth(key)).json()
    second = client.get(f"/v1/interactions?limit=2&next={first['next']}", headers=auth(key)).json()
    third = client.get(f"/v1/interactions?limit=2&next={second['next']}", headers=auth(key)).json()
    seen = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert sorted(seen) == sorted(ids) and len(set(seen)) == 5 and third["next"] is None
    assert len(client.get("/v1/interactions?status=queued", headers=auth(key)).json()["items"]) == 5
    assert client.get("/v1/interactions?status=done", headers=auth(key)).json()["items"] == []
    assert client.get("/v1/interactions?status=bogus", headers=auth(key)).status_code == 422
    assert client.get("/v1/interactions?limit=501", headers=auth(key)).status_code == 422


def test_analyze_snippet_synchronously(client, make_key):
    response = client.post(
        "/v1/analyze", json={"text": "I think my card was stolen, my number is 4111111111111111"},
        headers=auth(make_key("agent")),
    )  # fmt: skip
    body = response.json()
    assert response.status_code == 200
    assert body["intent"]["label"] in ("lost_or_stolen_card", "compromised_card")
    assert body["routing"]["queue"] == "security" and body["routing"]["priority"] == 1
    assert body["handle_time"]["p50_s"] > 0 and "4111111111111111" not in body["text"]
    assert client.post("/v1/analyze", json={"text": ""}, headers=auth(make_key("agent"))).status_code == 422
    conversation = [
        {"role": "customer", "text": "My card 4111 1111 1111 1111 was stolen"},
        {"role": "agent", "text": "OK"},
    ]
    both = {"text": "card stolen", "messages": conversation}
    for bad in (both, {"channel": "chat"}, {"messages": []}, {"messages": [{"role": "boss", "text": "hi"}]}):
        assert client.post("/v1/analyze", json=bad, headers=auth(make_key("agent"))).status_code == 422, bad
    whole = client.post("/v1/analyze", json={"messages": conversation}, headers=auth(make_key("agent"))).json()
    assert [t["speaker"] for t in whole["turns"]] == ["customer", "agent"] and "4111" not in json.dumps(whole)


def test_outcomes_teach_the_handle_time_prediction(client, make_key):
    key = make_key("admin")
    snippet = {"text": "how do I get a spare physical card", "channel": "chat"}
    before = client.post("/v1/analyze", json=snippet, headers=auth(key)).json()
    intent = before["intent"]["label"]
    assert "prior" in before["handle_time"]["basis"]
    from callscope.storage.db import Interaction, get_sessionmaker

    with get_sessionmaker(get_settings().resolved_database_url)() as session:
        for _ in range(5):
            interaction_id = client.post("/v1/interactions", json=CHAT, headers=auth(key)).json()["id"]
            row = session.get(Interaction, interaction_id)
            row.intent_label, row.status = intent, "done"
            session.commit()
            posted = client.post(
                f"/v1/interactions/{interaction_id}/outcome",
                json={"handle_time_s": 42, "queue": "cards", "resolution": "resolved"}, headers=auth(key),
            )  # fmt: skip
            assert posted.status_code == 200
    after = client.post("/v1/analyze", json=snippet, headers=auth(key)).json()
    assert after["handle_time"]["p50_s"] == 42 and after["handle_time"]["n_outcomes"] == 5
    bad = client.post(f"/v1/interactions/{interaction_id}/outcome", json={"handle_time_s": -1}, headers=auth(key))
    assert bad.status_code == 422


def test_webhooks_are_registered_per_tenant(client, make_key):
    key = make_key("admin")
    created = client.post("/v1/webhooks", json={"url": "https://93.184.216.34/hook"}, headers=auth(key))
    secret = created.json()["secret"]
    assert created.status_code == 201 and secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert [h["url"] for h in client.get("/v1/webhooks", headers=auth(key)).json()] == ["https://93.184.216.34/hook"]
    assert client.get("/v1/webhooks", headers=auth(make_key("admin"))).json() == []
    assert client.post("/v1/webhooks", json={"url": "ftp://example.invalid/x"}, headers=auth(key)).status_code == 422
    assert client.delete(f"/v1/webhooks/{created.json()['id']}", headers=auth(make_key("admin"))).status_code == 404
    assert client.delete(f"/v1/webhooks/{created.json()['id']}", headers=auth(key)).status_code == 204


def test_metrics_in_prometheus_format_for_the_operator_alone(client, make_key, monkeypatch):
    token = "operator-metrics-token-0123456789abcdef"
    monkeypatch.setattr(get_settings(), "metrics_token", token)
    client.post("/v1/interactions", json=SMS, headers=auth(make_key("ingest")))
    for tenant_key in (make_key("supervisor"), make_key("admin")):  # every tenant's counts: no tenant key reads them
        assert client.get("/metrics", headers=auth(tenant_key)).status_code == 401
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=auth(token)).text
    assert 'callscope_queue_depth{queue="analyze"}' in text
    assert 'callscope_interactions{status="queued"}' in text
    assert "callscope_task_duration_seconds_bucket" in text
    assert "callscope_http_request_seconds_count" in text


def test_openapi_documents_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/interactions", "/v1/interactions/{interaction_id}", "/v1/analyze", "/healthz"} <= set(paths)
    content = paths["/v1/interactions"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(content)


def test_a_tenant_chooses_its_point_on_the_intent_curve(client, make_key):
    """PUT /v1/settings/intent-thresholds moves one tenant's `other` decision; another tenant keeps the model's."""
    strict, neighbour = make_key("admin"), make_key("admin")
    snippet = {"text": "my new card has still not arrived", "channel": "chat"}

    def label(key: str) -> str:
        return client.post("/v1/analyze", json=snippet, headers=auth(key)).json()["intent"]["label"]

    assert label(strict) == label(neighbour) == "card_arrival"
    for bad in ({"typed": 1.5}, {"typed": -0.1}, {"spoken": "high"}):
        assert client.put("/v1/settings/intent-thresholds", json=bad, headers=auth(strict)).status_code == 422, bad
    supervisor = make_key("supervisor")
    refused = client.put("/v1/settings/intent-thresholds", json={"typed": 1.0}, headers=auth(supervisor))
    assert refused.status_code == 403
    chosen = client.put("/v1/settings/intent-thresholds", json={"typed": 1.0}, headers=auth(strict))
    assert chosen.status_code == 200 and chosen.json() == {"typed": 1.0, "spoken": None}
    assert label(strict) == "other" and label(neighbour) == "card_arrival"
    assert client.put("/v1/settings/intent-thresholds", json={}, headers=auth(strict)).status_code == 200
    assert label(strict) == "card_arrival"
