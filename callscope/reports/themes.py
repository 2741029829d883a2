"""Themes among a tenant's contacts that no intent named: what customers call about that nobody has a label for.

A run takes the period's analyzed contacts answered `other` or with low confidence (under `UNSURE_BELOW`), reads
each one's request (the customer's first turn of a few words, redacted as stored), groups the requests with
`callscope.understanding.themes.find_themes` and keeps each theme's name, size, example turns, the contacts behind
it and its trend (contacts a day). Runs are stored (`theme_runs`); the latest is what supervisors see.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callscope.errors import NotFound
from callscope.storage.db import Interaction, ThemeRun, utcnow
from callscope.understanding.figures import as_utc
from callscope.understanding.themes import find_themes

UNSURE_BELOW = 0.5
MOST_CONTACTS = 5000  # the newest; a period's unnamed contacts beyond that add little to the themes found
MIN_WORDS = 3  # "yes", "thanks" carry no request


def request_text(turns: list[dict[str, Any]] | None) -> str | None:
    """The customer's request: their first turn of a few words (single-track recordings: the first such turn)."""
    said = [t for t in turns or [] if t.get("speaker") in ("customer", "unknown")]
    for turn in said:
        if len(str(turn.get("text", "")).split()) >= MIN_WORDS:
            return str(turn["text"]).strip()
    return None


def _day(moment: datetime) -> date:
    return as_utc(moment).date()


def discover(session: Session, *, tenant: str, days: int = 30, min_size: int = 5) -> ThemeRun:
    """Find and store the themes of the tenant's unnamed contacts of the last `days` days."""
    since = utcnow() - timedelta(days=days)
    rows = session.execute(
        select(Interaction.id, Interaction.created_at, Interaction.turns)
        .where(Interaction.tenant == tenant, Interaction.status == "done", Interaction.created_at >= since)
        .where(or_(Interaction.intent_label == "other", Interaction.intent_confidence < UNSURE_BELOW))
        .order_by(Interaction.created_at.desc())
        .limit(MOST_CONTACTS)
    ).all()
    contacts = [(cid, created, text) for cid, created, turns in rows if (text := request_text(turns))]
    found, unassigned = find_themes([text for _, _, text in contacts], min_size=min_size)
    first_day = _day(since)
    themes = []
    for theme in found:
        per_day = Counter(_day(contacts[m][1]) for m in theme.members)
        trend = [{"day": (first_day + timedelta(d)).isoformat(), "contacts": per_day.get(first_day + timedelta(d), 0)}
                 for d in range(days + 1)]  # fmt: skip
        themes.append({"name": theme.name, "size": theme.size, "examples": theme.examples, "trend": trend,
                       "contacts": [contacts[m][0] for m in theme.members]})  # fmt: skip
    run = ThemeRun(tenant=tenant, days=days, contacts=len(contacts), themes=themes, unassigned=len(unassigned))
    session.add(run)
    session.commit()
    return run


def latest(session: Session, *, tenant: str) -> dict[str, Any]:
    """The tenant's latest run, as the API answers it (no run yet: no themes, `computed_at` null)."""
    run = session.scalar(select(ThemeRun).where(ThemeRun.tenant == tenant).order_by(ThemeRun.id.desc()).limit(1))
    if run is None:
        return {"computed_at": None, "days": None, "contacts": 0, "unassigned": 0, "themes": []}
    return {"computed_at": run.created_at.isoformat(), "days": run.days, "contacts": run.contacts,
            "unassigned": run.unassigned, "themes": run.themes}  # fmt: skip


def theme_requests(session: Session, *, tenant: str, index: int, most: int = 50) -> list[str]:
    """The requests behind theme `index` of the tenant's latest run: the examples a new intent starts from."""
    run = session.scalar(select(ThemeRun).where(ThemeRun.tenant == tenant).order_by(ThemeRun.id.desc()).limit(1))
    if run is None or not 0 <= index < len(run.themes):
        raise NotFound(f"no theme {index} in the latest run")
    ids = run.themes[index]["contacts"][:most]
    rows = session.execute(select(Interaction.turns).where(Interaction.tenant == tenant, Interaction.id.in_(ids)))
    return list(dict.fromkeys(text for (turns,) in rows if (text := request_text(turns))))


def tenants_with_contacts(session: Session, *, days: int) -> list[str]:
    since = utcnow() - timedelta(days=days)
    return list(session.scalars(select(Interaction.tenant).where(Interaction.created_at >= since).distinct()))
