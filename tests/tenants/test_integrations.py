"""A tenant's platform integrations: secrets sealed at rest and never returned, one tenant's out of another's reach."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from callscope.errors import InvalidInput
from callscope.storage.db import AuditEvent, Integration
from callscope.tenants import integrations
from tests.conftest import auth

SERVICE = "a service secret of at least thirty-two characters"
SECRET = base64.b64encode(b"sixteen or more bytes of secret").decode()


def test_a_secret_is_sealed_bound_to_its_tenant_and_found_by_its_key(session: Any) -> None:
    tenant, key = f"t-{uuid.uuid4().hex[:8]}", "genesys-" + uuid.uuid4().hex
    row, found_by = integrations.add(
        session, tenant=tenant, kind="audiohook", api_key=key, secret=SECRET, service_secret=SERVICE
    )
    assert found_by == key and b"sixteen" not in row.sealed_secret and key not in row.key_hash
    found = integrations.find(session, kind="audiohook", key=key, service_secret=SERVICE)
    assert found is not None and (found.tenant, found.secret) == (tenant, b"sixteen or more bytes of secret")
    assert integrations.find(session, kind="twilio", key=key, service_secret=SERVICE) is None
    row.tenant = "another-tenant"  # a sealed secret moved to another tenant no longer opens
    session.commit()
    assert integrations.find(session, kind="audiohook", key=key, service_secret=SERVICE) is None
    session.delete(row)
    session.commit()


@pytest.mark.parametrize(
    ("kind", "api_key", "secret", "why"),
    [
        ("audiohook", "short", SECRET, "16-200 characters"),
        ("audiohook", "genesys-key-0123456789", "not base64!", "base64"),
        ("audiohook", "genesys-key-0123456789", base64.b64encode(b"tiny").decode(), "at least 16 bytes"),
        ("twilio", None, "short", "at least 16 characters"),
    ],
)
def test_malformed_keys_and_weak_secrets_are_refused(
    session: Any, kind: str, api_key: Any, secret: str, why: str
) -> None:
    with pytest.raises(InvalidInput, match=why):
        integrations.add(session, tenant="t", kind=kind, api_key=api_key, secret=secret, service_secret=SERVICE)  # type: ignore[arg-type]


def test_registration_through_the_api_is_audited_never_shows_a_secret_and_stays_in_its_tenant(
    client: Any, make_key: Any, session: Any
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    admin, other = make_key("admin", tenant=tenant), make_key("admin")
    api_key = "genesys-" + uuid.uuid4().hex
    made = client.post(
        "/v1/integrations/audiohook", json={"api_key": api_key, "client_secret": SECRET}, headers=auth(admin)
    )
    assert made.status_code == 201 and SECRET not in made.text and api_key not in made.text
    again = client.post(
        "/v1/integrations/audiohook", json={"api_key": api_key, "client_secret": SECRET}, headers=auth(other)
    )
    assert again.status_code == 409  # an API key streams to one tenant only
    twilio = client.post("/v1/integrations/twilio", json={"auth_token": "f" * 32}, headers=auth(admin))
    assert twilio.status_code == 201 and twilio.json()["stream_path"].startswith("/v1/twilio/media?integration=tw_")
    listed = client.get("/v1/integrations", headers=auth(admin)).json()
    assert [i["kind"] for i in listed] == ["audiohook", "twilio"] and "f" * 32 not in str(listed)
    assert client.get("/v1/integrations", headers=auth(other)).json() == []
    ident = made.json()["id"]
    assert client.delete(f"/v1/integrations/audiohook/{ident}", headers=auth(other)).status_code == 404
    assert client.delete(f"/v1/integrations/twilio/{ident}", headers=auth(admin)).status_code == 404
    assert client.delete(f"/v1/integrations/audiohook/{ident}", headers=auth(admin)).status_code == 204
    assert (
        client.post(
            "/v1/integrations/audiohook",
            json={"api_key": api_key, "client_secret": SECRET},
            headers=auth(make_key("supervisor", tenant=tenant)),
        ).status_code
        == 403
    )
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.tenant == tenant)).all()
    assert actions.count("add integration") == 2 and actions.count("remove integration") == 1
    assert session.scalars(select(Integration).where(Integration.tenant == tenant)).all()[0].kind == "twilio"
