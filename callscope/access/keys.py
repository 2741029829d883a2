"""API keys, roles and the principal a key stands for; report-page sessions opened with a key."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callscope.errors import InvalidInput, NotFound
from callscope.storage.db import ApiKey, WebSession, as_utc, utcnow

ROLES = ("ingest", "agent", "supervisor", "admin")
# What each role may do; admin may do everything the others may.
PERMISSIONS: dict[str, set[str]] = {
    "ingest": {"ingest", "read", "analyze"},
    "agent": {"read", "analyze"},
    "supervisor": {"read", "reports", "metrics"},
}
# Only admin may manage keys, webhooks, retention, deletion and read the audit log.
PERMISSIONS["admin"] = set().union(*PERMISSIONS.values(), {"admin"})


@dataclass(frozen=True)
class Principal:
    tenant: str
    role: str
    key_prefix: str = ""
    agent: str | None = None  # the agent an agent key belongs to

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]


def hash_key(key: str) -> str:
    """Keys are 256-bit random tokens, so one SHA-256 is enough (no password stretching needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, *, tenant: str, role: str, agent: str | None = None) -> str:
    """Store the key's hash and return the key itself, which is shown once; an agent key may name its agent."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    if not tenant.strip() or len(tenant) > 100:
        raise InvalidInput("tenant must be 1-100 characters")
    key = "cs_" + secrets.token_urlsafe(32)
    if agent is not None and role != "agent":
        raise InvalidInput("only an agent key names an agent")
    session.add(ApiKey(tenant=tenant, role=role, key_hash=hash_key(key), prefix=key[:10], agent=agent))
    session.commit()
    return key


def authenticate(session: Session, *, key: str) -> Principal | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked.is_(False)))
    return Principal(tenant=row.tenant, role=row.role, key_prefix=row.prefix, agent=row.agent) if row else None


def open_web_session(session: Session, *, key_id: int, max_age_s: float) -> str:
    """A report page's login: a random token for the cookie; only its digest is stored."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(WebSession(token_hash=hash_key(token), key_id=key_id, created_at=now,
                           expires_at=now + timedelta(seconds=max_age_s)))  # fmt: skip
    session.execute(delete(WebSession).where(WebSession.expires_at < now))  # the expired ones go as new ones come
    session.commit()
    return token


def web_session_key(session: Session, *, token: str) -> ApiKey | None:
    """The key a report session was opened with, while the session lasts and the key is not revoked."""
    row = session.get(WebSession, hash_key(token))
    if row is None or as_utc(row.expires_at) < utcnow():
        return None
    key = session.get(ApiKey, row.key_id)
    return key if key is not None and not key.revoked else None


def close_web_session(session: Session, *, token: str) -> None:
    """Logout: the session ends on the server, whatever the browser keeps."""
    session.execute(delete(WebSession).where(WebSession.token_hash == hash_key(token)))
    session.commit()


def list_keys(session: Session, *, tenant: str) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.tenant == tenant).order_by(ApiKey.id)))


def revoke_key(session: Session, *, tenant: str, prefix: str) -> None:
    """Revoked keys stop working at once; the row stays for the audit trail."""
    rows = list(session.scalars(select(ApiKey).where(ApiKey.tenant == tenant, ApiKey.prefix == prefix)))
    if not rows:
        raise NotFound(f"key {prefix} not found")
    for row in rows:
        row.revoked = True
    session.commit()


def key_row(session: Session, *, key: str) -> ApiKey | None:
    """The stored key a secret names, revoked or not (the caller decides what a revoked key may still do)."""
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key.strip())))
