"""Rules over the app's whole route table, so that a new route cannot skip them: every route but the health check is
rate limited, and every route is either audited (with the action it writes) or listed here with why it is not."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from api.app import app
from callscope.settings import get_settings
from callscope.storage.db import AuditEvent
from tests.conftest import SAMPLES, auth


def routes(table: Any = None) -> Iterator[tuple[str, str]]:
    """(method, path) of every route the app answers, through included routers too."""
    for route in table if table is not None else app.routes:
        if not hasattr(route, "path"):
            yield from routes(route.original_router.routes)
            continue
        for method in sorted(getattr(route, "methods", None) or {"WEBSOCKET"}):
            if method != "HEAD":
                yield method, route.path


PLATFORM_STREAMS = ("/v1/audiohook", "/v1/twilio/media")  # signed by the platform: 401 at the upgrade
AUDITED = {
    ("GET", "/v1/interactions/{interaction_id}"): "read",
    ("DELETE", "/v1/interactions/{interaction_id}"): "delete",
    ("GET", "/v1/interactions"): "list",
    ("POST", "/v1/webhooks"): "create webhook",
    ("DELETE", "/v1/webhooks/{webhook_id}"): "delete webhook",
    ("POST", "/v1/keys"): "create_key",
    ("DELETE", "/v1/keys/{prefix}"): "revoke_key",
    ("PUT", "/v1/settings/retention"): "set retention",
    ("PUT", "/v1/settings/channel-map"): "set channel map",
    ("PUT", "/v1/settings/recordings"): "set recording policy",
    ("PUT", "/v1/settings/qa"): "set qa visibility",
    ("PUT", "/v1/settings/intent-thresholds"): "set intent thresholds",
    ("WEBSOCKET", "/v1/live/calls/{platform_id}"): "live.follow",
    ("POST", "/v1/integrations/audiohook"): "add integration",
    ("POST", "/v1/integrations/twilio"): "add integration",
    ("DELETE", "/v1/integrations/{kind}/{integration_id}"): "remove integration",
    ("PUT", "/v1/qa/forms/{form_id}"): "put qa form",
    ("DELETE", "/v1/qa/forms/{form_id}"): "delete qa form",
    ("GET", "/v1/interactions/{interaction_id}/audio/original"): "contact.audio.original",
    ("PUT", "/v1/intents/{name}"): "put intent",
    ("DELETE", "/v1/intents/{name}"): "delete intent",
    ("POST", "/v1/intent-models"): "fit intents",
    ("POST", "/reports/login"): "login",
    ("GET", "/reports/contacts/{interaction_id}"): "contact.view",
    ("GET", "/v1/customers/{customer_hash}/journey"): "customer.journey",
    ("GET", "/reports/customers/{customer_hash}"): "customer.journey",
    ("GET", "/v1/reports/search"): "reports.search",
    ("GET", "/v1/reports/contacts"): "reports.list",
    ("GET", "/v1/reports/contacts/{interaction_id}"): "contact.view",
    ("GET", "/v1/reports/export.csv"): "reports.export",
    ("PUT", "/v1/interactions/{interaction_id}/qa/{question_id}"): "qa.override",
    ("GET", "/v1/interactions/{interaction_id}/audio"): "contact.audio",
    ("POST", "/v1/categories"): "create category",
    ("PUT", "/v1/categories/{category_id}"): "update category",
    ("DELETE", "/v1/categories/{category_id}"): "delete category",
    ("POST", "/v1/themes/{index}/intent"): "theme.intent",
}
NOT_AUDITED = {
    ("GET", "/healthz"): "no caller, no data",
    ("GET", "/metrics"): "the operator's counters; no tenant key reads them",
    ("GET", "/openapi.json"): "the published contract (README): no data",
    ("GET", "/docs"): "the published contract: no data",
    ("GET", "/docs/oauth2-redirect"): "part of the docs page",
    ("GET", "/redoc"): "the published contract: no data",
    ("POST", "/v1/interactions"): "ingest: the stored contact is its own record",
    ("POST", "/v1/interactions/{interaction_id}/outcome"): "ingest of an outcome: stored with the contact",
    ("POST", "/v1/analyze"): "nothing is stored or read back",
    ("GET", "/v1/webhooks"): "the tenant's own configuration, no contact data",
    ("GET", "/v1/keys"): "prefixes and roles only",
    ("GET", "/v1/audit"): "reading the audit itself",
    ("GET", "/v1/qa/forms"): "configuration",
    ("GET", "/v1/models/handle-time"): "model metrics, no contact data",
    ("POST", "/v1/models/handle-time/retrain"): "queues a job over aggregates",
    ("GET", "/v1/intents"): "configuration",
    ("WEBSOCKET", "/v1/live/{session_id}"): "a live contact: stored at its end like a posted one",
    ("WEBSOCKET", "/v1/audiohook"): "a platform's live call, signed by its integration: stored like a posted call",
    ("WEBSOCKET", "/v1/twilio/media"): "a platform's live call, signed by its integration: stored like a posted call",
    ("GET", "/v1/integrations"): "the tenant's own configuration, no secrets",
    ("GET", "/agent"): "a static page",
    ("GET", "/agent/{name}"): "static files",
    ("GET", "/reports/login"): "the login form",
    ("GET", "/reports/logout"): "ends the caller's own session",
    ("POST", "/reports/logout"): "ends the caller's own session",
    ("GET", "/reports"): "aggregates (its contact list links to audited drill-downs)",
    ("GET", "/reports/opportunities"): "aggregates",
    ("GET", "/reports/static/plotly.min.js"): "static files",
    ("GET", "/reports/static/{name}"): "static files",
    ("GET", "/v1/reports/volume"): "aggregates",
    ("GET", "/v1/reports/handle-time"): "aggregates (its CSV export is audited)",
    ("GET", "/v1/reports/predicted-vs-actual"): "aggregates (its CSV export is audited)",
    ("GET", "/v1/reports/sentiment"): "aggregates (its CSV export is audited)",
    ("GET", "/v1/reports/queues-agents"): "aggregates (its CSV export is audited)",
    ("GET", "/v1/reports/conversation"): "aggregates (its CSV export is audited)",
    ("GET", "/v1/reports/opportunities"): "aggregates (its CSV export is audited)",
    ("GET", "/v1/reports/qa"): "aggregates (its CSV export is audited)",
    ("GET", "/v1/reports/repeats"): "aggregates (its CSV export is audited)",
    ("GET", "/v1/categories"): "configuration",
    ("GET", "/v1/themes"): "theme summaries, no contact text",
    ("POST", "/v1/themes"): "queues a job",
    ("GET", "/reports/themes"): "theme summaries",
}


def test_every_route_is_classified_for_the_audit():
    table = set(routes())
    assert not AUDITED.keys() & NOT_AUDITED.keys()
    assert table == AUDITED.keys() | NOT_AUDITED.keys(), {
        "unclassified (audit it, or say here why not)": sorted(table - AUDITED.keys() - NOT_AUDITED.keys()),
        "gone": sorted((AUDITED.keys() | NOT_AUDITED.keys()) - table),
    }


def _concrete(path: str) -> str:
    fills = {"{interaction_id}": "x", "{webhook_id}": "1", "{prefix}": "cs_x", "{form_id}": "f1", "{name}": "n1",
             "{customer_hash}": "h", "{question_id}": "q", "{category_id}": "1", "{index}": "0",
             "{session_id}": "s1", "{kind}": "twilio", "{integration_id}": "1",
             "{platform_id}": "CA1"}  # fmt: skip
    for hole, value in fills.items():
        path = path.replace(hole, value)
    return path


@pytest.mark.parametrize(("method", "path"), sorted(set(routes()) - {("GET", "/healthz")}))
def test_every_route_is_rate_limited_per_caller(client, monkeypatch, method, path):
    """The guard answers before any route: the second request of a caller over a limit of one is refused."""
    monkeypatch.setattr(get_settings(), "rate_limit_per_minute", 1)
    caller = auth(f"cs_{uuid.uuid4().hex}")
    if method == "WEBSOCKET" and path in PLATFORM_STREAMS:  # a platform's upgrade is refused before it opens
        with pytest.raises(WebSocketDenialResponse), client.websocket_connect(_concrete(path), headers=caller):
            pass
    elif method == "WEBSOCKET":
        with client.websocket_connect(_concrete(path), headers=caller) as ws:
            ws.receive_json()  # the first gets in (and is refused for its unknown key)
    if method == "WEBSOCKET":
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(_concrete(path), headers=caller):
            pass
        assert refused.value.code == 1008
        return
    client.request(method, _concrete(path), headers=caller)
    second = client.request(method, _concrete(path), headers=caller)
    assert second.status_code == 429 and int(second.headers["retry-after"]) > 0, (method, path, second.text)
    assert client.get("/healthz").status_code == 200  # the probe is never limited


def test_failed_keys_and_logins_are_throttled_per_address_and_logins_audited(make_key, session, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setattr(get_settings(), "auth_failures_per_minute", 5)
    client = TestClient(app, client=(f"198.51.100.{uuid.uuid4().int % 250}", 4000))  # an address of its own
    tenant = f"login-{uuid.uuid4().hex[:8]}"
    good = make_key("supervisor", tenant=tenant)
    for _ in range(3):
        assert client.post("/reports/login", data={"key": "cs_wrong"}, follow_redirects=False).status_code == 401
    assert client.post("/reports/login", data={"key": good}, follow_redirects=False).status_code == 303
    for _ in range(2):
        assert client.get("/v1/interactions", headers=auth("cs_wrong")).status_code == 401
    throttled = client.post("/reports/login", data={"key": good}, follow_redirects=False)
    assert throttled.status_code == 429 and "failed" in throttled.json()["detail"]  # the right key waits too
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.tenant == tenant)).all()
    assert actions == ["login"]


def test_report_sessions_live_on_the_server_and_end_at_logout(client, make_key):
    from itsdangerous import URLSafeTimedSerializer

    key = make_key("supervisor")
    client.cookies.clear()
    assert client.post("/reports/login", data={"key": key}, follow_redirects=False).status_code == 303
    cookie = client.cookies.get("callscope_session")
    assert cookie and len(cookie) >= 40
    assert client.get("/v1/reports/volume").status_code == 200
    assert client.get("/reports/logout", follow_redirects=False).status_code == 303
    client.cookies.set("callscope_session", cookie)  # the old cookie, replayed after logout
    assert client.get("/v1/reports/volume").status_code == 401
    old_secret = "change-me-to-a-long-random-secret"
    forged = URLSafeTimedSerializer(old_secret, salt="callscope-reports-session").dumps({"k": 1})
    client.cookies.set("callscope_session", forged)  # the tester's cookie signed with compose.yaml's old secret
    assert client.get("/v1/reports/volume").status_code == 401
    client.cookies.clear()


def test_audited_routes_write_their_action(client, make_key, session):
    tenant = f"audit-{uuid.uuid4().hex[:8]}"
    admin = make_key("admin", tenant=tenant)
    headers = auth(admin)
    sms = client.post("/v1/interactions", json={"channel": "sms", "direction": "inbound", "text": "card lost"},
                      headers=headers).json()["id"]  # fmt: skip
    call = client.post("/v1/interactions", files={"file": ("c.wav", (SAMPLES / "call_dual_channel.wav").read_bytes(),
                                                           "audio/wav")}, headers=headers).json()["id"]  # fmt: skip
    hook = client.post("/v1/webhooks", json={"url": "https://93.184.216.34/h"}, headers=headers).json()["id"]
    category = client.post("/v1/categories", json={"name": "c1", "rule": {"phrases": ["card"]}}, headers=headers)
    calls = [
        ("GET", f"/v1/interactions/{sms}", {}, "read"), ("GET", "/v1/interactions", {}, "list"),
        ("GET", f"/v1/interactions/{call}/audio", {}, "contact.audio"),
        ("GET", f"/v1/reports/contacts/{sms}", {}, "contact.view"), ("GET", "/v1/reports/contacts", {}, "reports.list"),
        ("GET", "/v1/reports/search?q=card", {}, "reports.search"),
        ("GET", "/v1/reports/export.csv", {}, "reports.export"),
        ("PUT", "/v1/settings/retention", {"json": {"audio_days": 30}}, "set retention"),
        ("PUT", "/v1/settings/channel-map", {"json": {"agent_channel": "left"}}, "set channel map"),
        ("PUT", f"/v1/categories/{category.json()['id']}", {"json": {"name": "c2", "rule": {"phrases": ["x"]}}},
         "update category"),
        ("DELETE", f"/v1/categories/{category.json()['id']}", {}, "delete category"),
        ("DELETE", f"/v1/webhooks/{hook}", {}, "delete webhook"),
        ("DELETE", f"/v1/interactions/{sms}", {}, "delete"),
    ]  # fmt: skip
    for method, path, kwargs, action in calls:
        response = client.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 300, (path, response.text)
        assert AUDITED.get((method, next(p for m, p in AUDITED if m == method and _matches(p, path)))) == action
    written = set(session.scalars(select(AuditEvent.action).where(AuditEvent.tenant == tenant)))
    assert {action for *_, action in calls} | {"create webhook", "create category"} <= written


def _matches(template: str, path: str) -> bool:
    parts, wanted = template.split("?")[0].split("/"), path.split("?")[0].split("/")
    return len(parts) == len(wanted) and all(p == w or p.startswith("{") for p, w in zip(parts, wanted, strict=True))
