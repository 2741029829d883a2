"""Nobody let in: roles and tenants on every route, revocation, rate limits, upload limits, audit, erasure."""

import json

import pytest
from sqlalchemy import text

from callscope.settings import get_settings
from callscope.storage.db import AudioBlob, Interaction, Outcome
from callscope.storage.recordings import RecordingStoreError, recordings
from callscope.storage.store import apply_retention, set_retention
from tests.conftest import SAMPLES, auth

SMS = {"channel": "sms", "messages": [{"direction": "inbound", "text": "my card was declined"}]}
CALL = (SAMPLES / "call_dual_channel.wav").read_bytes()
ROUTES = [
    ("post", "/v1/interactions", {"json": SMS}, {"ingest", "admin"}),
    ("get", "/v1/interactions", {}, {"ingest", "agent", "supervisor", "admin"}),
    ("post", "/v1/analyze", {"json": {"text": "card lost"}}, {"ingest", "agent", "admin"}),
    ("get", "/v1/models/handle-time", {}, {"supervisor", "admin"}),
    ("get", "/v1/webhooks", {}, {"admin"}),
    ("get", "/v1/keys", {}, {"admin"}),
    ("get", "/v1/audit", {}, {"admin"}),
    ("put", "/v1/settings/retention", {"json": {"audio_days": 30}}, {"admin"}),
]


@pytest.mark.parametrize("role", ["ingest", "agent", "supervisor", "admin"])
@pytest.mark.parametrize(("method", "path", "kwargs", "allowed"), ROUTES)
def test_each_role_may_do_exactly_what_it_is_for(client, make_key, role, method, path, kwargs, allowed):
    status = getattr(client, method)(path, headers=auth(make_key(role)), **kwargs).status_code
    assert (status < 400) == (role in allowed), (role, path, status)
    if role not in allowed:
        assert status == 403


@pytest.mark.parametrize(
    ("method", "suffix", "kwargs"),
    [("get", "", {}), ("delete", "", {}), ("post", "/outcome", {"json": {"handle_time_s": 10}})],
)
def test_foreign_ids_answer_404_on_every_route(client, make_key, method, suffix, kwargs):
    owner = make_key("admin", tenant="bank-owner")
    interaction_id = client.post("/v1/interactions", json=SMS, headers=auth(owner)).json()["id"]
    other = make_key("admin", tenant="bank-other")
    response = getattr(client, method)(f"/v1/interactions/{interaction_id}{suffix}", headers=auth(other), **kwargs)
    assert response.status_code == 404
    assert client.get(f"/v1/interactions/{interaction_id}", headers=auth(owner)).status_code == 200


def test_admin_creates_lists_and_revokes_keys_of_its_own_tenant(client, make_key):
    admin = make_key("admin", tenant="bank-keys")
    created = client.post("/v1/keys", json={"role": "ingest"}, headers=auth(admin)).json()
    assert client.get("/v1/interactions", headers=auth(created["key"])).status_code == 200
    prefixes = [k["prefix"] for k in client.get("/v1/keys", headers=auth(admin)).json()]
    assert created["prefix"] in prefixes and created["key"] not in json.dumps(prefixes)
    assert client.delete(f"/v1/keys/{created['prefix']}", headers=auth(make_key("admin"))).status_code == 404
    assert client.delete(f"/v1/keys/{created['prefix']}", headers=auth(admin)).status_code == 204
    assert client.get("/v1/interactions", headers=auth(created["key"])).status_code == 401
    assert client.post("/v1/keys", json={"role": "god"}, headers=auth(admin)).status_code == 422


def test_keys_are_stored_hashed(client, make_key, session):
    key = make_key("admin")
    stored = session.execute(text("select key_hash, prefix from api_keys")).all()
    assert all(key not in (h, p) for h, p in stored) and any(p == key[:10] for _, p in stored)


def test_rate_limit_per_key_answers_429_with_retry_after(client, make_key, monkeypatch):
    monkeypatch.setattr(get_settings(), "rate_limit_per_minute", 5)
    key, other = make_key("supervisor"), make_key("supervisor")
    statuses = [client.get("/v1/interactions", headers=auth(key)).status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3
    limited = client.get("/v1/interactions", headers=auth(key))
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert client.get("/v1/interactions", headers=auth(other)).status_code == 200  # other keys are not affected


def test_recording_longer_than_the_limit_is_refused_before_decoding(client, make_key, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_audio_seconds", 10)
    response = client.post("/v1/interactions", files={"file": ("x.wav", CALL, "audio/wav")}, headers=auth(make_key()))
    assert response.status_code == 413 and "longer than" in response.json()["detail"]


def test_filenames_are_never_used_as_paths(client, make_key, session):
    key = make_key()
    response = client.post(
        "/v1/interactions", files={"file": ("../../etc/passwd", CALL, "audio/wav")}, headers=auth(key)
    )
    assert response.status_code == 202
    blob = session.get(AudioBlob, response.json()["id"])
    tenant = session.get(Interaction, response.json()["id"]).tenant
    assert blob.object_key.startswith(f"{tenant}/{response.json()['id']}/") and ".." not in blob.object_key
    assert recordings().read(blob.object_key) == CALL and blob.size == len(CALL)  # under its own key, not the name


def test_reads_lists_and_erasures_are_audited(client, make_key):
    admin = make_key("admin", tenant="bank-audit")
    interaction_id = client.post("/v1/interactions", json=SMS, headers=auth(admin)).json()["id"]
    client.get(f"/v1/interactions/{interaction_id}", headers=auth(admin))
    client.get("/v1/interactions", headers=auth(admin))
    client.delete(f"/v1/interactions/{interaction_id}", headers=auth(admin))
    events = client.get("/v1/audit", headers=auth(admin)).json()
    assert [e["action"] for e in events][:3] == ["delete", "list", "read"]
    assert events[0]["target"] == interaction_id and events[0]["key_prefix"] == admin[:10]
    assert "declined" not in json.dumps(events)  # ids and actions, never content
    assert client.get("/v1/audit", headers=auth(make_key("admin"))).json() == []


def test_delete_erases_audio_turns_analysis_and_outcome(client, make_key, session):
    admin = make_key("admin")
    interaction_id = client.post("/v1/interactions", files={"file": ("c.wav", CALL, "audio/wav")},
                                 headers=auth(admin)).json()["id"]  # fmt: skip
    client.post(f"/v1/interactions/{interaction_id}/outcome", json={"handle_time_s": 60}, headers=auth(admin))
    key = session.get(AudioBlob, interaction_id).object_key
    assert recordings().read(key) == CALL
    assert client.delete(f"/v1/interactions/{interaction_id}", headers=auth(admin)).status_code == 204
    session.expire_all()
    assert session.get(Interaction, interaction_id) is None
    assert session.get(AudioBlob, interaction_id) is None
    with pytest.raises(RecordingStoreError):  # the object went with the row
        recordings().read(key)
    assert session.query(Outcome).filter_by(interaction_id=interaction_id).count() == 0
    assert client.get(f"/v1/interactions/{interaction_id}", headers=auth(admin)).status_code == 404


def test_retention_erases_old_recordings_and_old_contacts_per_tenant(client, make_key, session):
    from datetime import timedelta

    from callscope.storage.db import utcnow

    key_a, key_b = make_key("admin", tenant="keep-90d"), make_key("admin", tenant="keep-forever")
    ids = {}
    for name, key in (("a", key_a), ("b", key_b)):
        ids[name] = client.post("/v1/interactions", files={"file": ("c.wav", CALL, "audio/wav")},
                                headers=auth(key)).json()["id"]  # fmt: skip
        session.get(Interaction, ids[name]).created_at = utcnow() - timedelta(days=100)
    session.commit()
    objects = {name: session.get(AudioBlob, ids[name]).object_key for name in ids}
    assert client.put("/v1/settings/retention", json={"audio_days": 90}, headers=auth(key_a)).status_code == 200
    erased = apply_retention(session)
    assert erased["audio"] >= 1
    assert session.get(AudioBlob, ids["a"]) is None and session.get(AudioBlob, ids["b"]) is not None
    assert recordings().read(objects["b"]) == CALL
    with pytest.raises(RecordingStoreError):
        recordings().read(objects["a"])  # the recording itself is gone from the store, not only its row
    assert session.get(Interaction, ids["a"]) is not None  # only the audio went
    set_retention(session, tenant="keep-90d", audio_days=90, contact_days=30)
    apply_retention(session)
    session.expire_all()
    assert session.get(Interaction, ids["a"]) is None and session.get(Interaction, ids["b"]) is not None


INTERNAL_TARGETS = [
    "http://127.0.0.1:8799/", "http://0x7f000001:8799/", "http://2130706433/", "http://0177.0.0.1/",
    "http://169.254.169.254/latest/meta-data/", "https://10.0.0.1/", "http://192.168.1.10/hook", "http://172.16.0.5/",
    "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://localhost:8000/", "http://0.0.0.0/", "http://100.64.0.1/",
    "http://[fe80::1]/", "http://[fc00::1]/", "http://224.0.0.1/", "ftp://93.184.216.34/", "http:///nohost",
    "http://no-such-host.invalid/",
]  # fmt: skip


@pytest.mark.parametrize("url", INTERNAL_TARGETS)
def test_webhooks_to_internal_or_odd_targets_are_refused(client, make_key, url):
    response = client.post("/v1/webhooks", json={"url": url}, headers=auth(make_key("admin")))
    assert response.status_code == 422, (url, response.text)


def test_named_internal_receivers_are_allowed_by_the_operator_and_checked_again_at_delivery(client, make_key,
                                                                                          monkeypatch):  # fmt: skip
    from callscope.errors import InvalidInput
    from callscope.pipeline import webhooks

    admin = auth(make_key("admin"))
    monkeypatch.setattr(get_settings(), "webhook_allowed_hosts", "localhost, 10.20.0.0/16")
    for url in ("http://localhost:8000/hook", "https://10.20.3.4/hook"):
        assert client.post("/v1/webhooks", json={"url": url}, headers=admin).status_code == 201, url
    assert client.post("/v1/webhooks", json={"url": "https://10.21.0.1/"}, headers=admin).status_code == 422
    with pytest.raises(InvalidInput):  # the allowance withdrawn (or the name now resolving inside): never posted
        webhooks.deliver("http://localhost:8000/hook", b"{}", secret=webhooks.new_secret(), message_id="msg_1",
                         timeout_s=1, allowed="")  # fmt: skip
