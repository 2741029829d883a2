"""The audit trail: who read, exported, erased or changed what, as ids and actions, never content."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from callscope.access.keys import Principal
from callscope.access.scrub import scrub
from callscope.storage.db import AuditEvent


def record(session: Session, who: Principal, *, action: str, target: str | None = None) -> None:
    """Record who read, exported or erased what: ids and actions only, never content (a target such as an export's
    filters is scrubbed of query values, keys and PII before it is written)."""
    if target is not None:
        target = scrub(target, names=True)[:200]
    session.add(AuditEvent(tenant=who.tenant, key_prefix=who.key_prefix, action=action, target=target))
    session.commit()


def events(session: Session, *, tenant: str, limit: int = 200) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.tenant == tenant).order_by(AuditEvent.id.desc()).limit(limit)
    return list(session.scalars(query))
