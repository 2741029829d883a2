"""A customer's journey: every contact of one customer (by the keyed hash of `customer_ref`) over every channel, in
time order, each with what it was about, how it ended and what it cost, and the repeats linked to what they repeat."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from callscope.errors import NotFound
from callscope.storage.db import Interaction, Outcome
from callscope.understanding.figures import as_utc


def journey(session: Session, tenant: str, customer_hash: str, *, limit: int = 500) -> dict[str, Any]:
    """The customer's contacts, oldest first (the latest `limit`); another tenant's customer is NotFound."""
    rows = session.execute(
        sa.select(Interaction, Outcome.handle_time_s, Outcome.resolution)
        .outerjoin(Outcome, Outcome.interaction_id == Interaction.id)
        .where(Interaction.tenant == tenant, Interaction.customer_hash == customer_hash)
        .order_by(Interaction.created_at.desc())
        .limit(limit)
    ).all()  # fmt: skip
    if not rows:
        raise NotFound(f"customer {customer_hash} not found")
    contacts = [_step(row, actual, resolution) for row, actual, resolution in reversed(rows)]
    by_id = {c["id"]: c for c in contacts}
    for contact in contacts:
        earlier = by_id.get(contact["repeat_of"] or "")
        if earlier is not None:
            earlier["repeated_by"].append(contact["id"])
    handled = [c["handle_time_s"] for c in contacts if c["handle_time_s"] is not None]
    return {
        "customer_hash": customer_hash,
        "contacts": contacts,
        "count": len(contacts),
        "channels": sorted({c["channel"] for c in contacts}),
        "repeats": sum(1 for c in contacts if c["repeat_of"]),
        "handle_time_s": round(sum(handled), 1) if handled else None,
        "first_at": contacts[0]["created_at"],
        "last_at": contacts[-1]["created_at"],
    }


def _step(row: Interaction, actual: float | None, resolution: str | None) -> dict[str, Any]:
    analysis = row.analysis if isinstance(row.analysis, dict) else {}
    repeat = analysis.get("repeat_contact") if isinstance(analysis.get("repeat_contact"), dict) else {}
    summary = analysis.get("summary") if isinstance(analysis.get("summary"), dict) else {}
    sentiment = analysis.get("sentiment") if isinstance(analysis.get("sentiment"), dict) else {}
    return {
        "id": row.id,
        "created_at": as_utc(row.created_at).isoformat(),
        "channel": row.channel,
        "status": row.status,
        "intent": row.intent_label,
        "queue": row.queue,
        "agent": row.agent,
        "handle_time_s": actual,
        "resolution": resolution,
        "outcome": (summary.get("outcome") or {}).get("status"),
        "summary": summary.get("text"),
        "sentiment": sentiment.get("customer_mean"),
        "repeat_of": repeat.get("previous_id") if repeat.get("is_repeat") else None,
        "hours_since_previous": repeat.get("hours_since") if repeat.get("is_repeat") else None,
        "repeated_by": [],
    }
