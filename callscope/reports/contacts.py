"""The contacts behind a report: the filtered list with search snippets, the CSV export rows, and one contact's
drill-down (turns with sentiment, placeholders, figures, outcome)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from callscope.contacts import PII_KINDS
from callscope.errors import InvalidInput, NotFound
from callscope.reports.filters import F, Filters, O, actual_col, queue_col, where_clauses
from callscope.storage.db import AudioBlob, Interaction
from callscope.understanding.figures import turn_sentiments

CONTACT_COLUMNS = [
    "id", "created_at", "channel", "intent", "queue", "agent", "predicted_p50_s", "predicted_p90_s", "actual_s",
    "resolution", "duration_s", "sentiment", "silence_ratio", "overtalk_ratio", "repeat", "qa_score",
    "summary_outcome", "summary",
]  # fmt: skip
_SUMMARY = Interaction.__table__.c.analysis["summary"]


def _contact_select(session: Session, tenant: str, f: Filters) -> sa.Select[Any]:
    return (
        sa.select(
            F.c.interaction_id,
            F.c.created_at,
            F.c.channel,
            F.c.intent,
            queue_col,
            F.c.agent,
            F.c.predicted_p50_s,
            F.c.predicted_p90_s,
            actual_col,
            F.c.resolution,
            F.c.duration_s,
            F.c.sentiment,
            F.c.silence_ratio,
            F.c.overtalk_ratio,
            F.c.repeat,
            F.c.qa_score,
            _SUMMARY["outcome"]["status"].as_string(),
            _SUMMARY["text"].as_string(),
        )
        .select_from(F.join(Interaction, Interaction.id == F.c.interaction_id))
        .where(*where_clauses(session, tenant, f))
    )


def _contact_row(values: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(CONTACT_COLUMNS, values, strict=True))
    row["created_at"] = row["created_at"].isoformat() if isinstance(row["created_at"], datetime) else row["created_at"]
    return row


def _snippet(turns: list[Any] | None, query: str | None, width: int = 160) -> dict[str, Any] | None:
    """The first turn holding a searched word, trimmed around it (the turns are already redacted)."""
    words = [w.lower() for w in re.findall(r"\w+", query or "") if w.lower() != "or"]
    for index, turn in enumerate(turns or []):
        text = str(turn.get("text") or "") if isinstance(turn, dict) else ""
        low = text.lower()
        hits = [low.find(w[:5]) for w in words if low.find(w[:5]) >= 0]
        if hits or not words:
            at = max(0, min(hits or [0]) - width // 3)
            cut = text[at : at + width]
            return {"turn": index, "speaker": turn.get("speaker"), "text": ("…" if at else "") + cut}
    return None


def contacts(session: Session, tenant: str, f: Filters, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """The contacts the filters (and search) select, newest first, with a snippet of the matching turn."""
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInput("limit must be 1-500 and offset >= 0")
    total = session.scalar(sa.select(sa.func.count()).select_from(F).where(*where_clauses(session, tenant, f)))
    rows = [
        _contact_row(r)
        for r in session.execute(
            _contact_select(session, tenant, f).order_by(F.c.created_at.desc()).limit(limit).offset(offset)
        )
    ]
    ids = [r["id"] for r in rows]
    turns = dict(
        session.execute(sa.select(Interaction.id, Interaction.turns).where(Interaction.id.in_(ids))).tuples().all()
    )
    for row in rows:
        row["snippet"] = _snippet(turns.get(row["id"]), f.q)
    return {"total": total, "offset": offset, "items": rows}


def iter_contacts(session: Session, tenant: str, f: Filters, *, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Every selected contact for CSV export, streamed in batches (constant memory on large exports)."""
    stmt = _contact_select(session, tenant, f).order_by(F.c.created_at.desc(), F.c.interaction_id)
    for values in session.execute(stmt.execution_options(yield_per=batch)):
        yield _contact_row(values)


PLACEHOLDER = re.compile(rf"\[({'|'.join(PII_KINDS)})(?: \*{{4}}(\d{{4}}))?\]")


def contact_detail(session: Session, tenant: str, interaction_id: str) -> dict[str, Any]:
    """Everything the drill-down page shows of one contact (another tenant's contact: NotFound)."""
    row = session.get(Interaction, interaction_id)
    if row is None or row.tenant != tenant:
        raise NotFound(f"interaction {interaction_id} not found")
    outcome = session.execute(sa.select(O).where(O.c.interaction_id == row.id)).mappings().first()  # fresh
    figures = (
        session.execute(
            sa.select(
                *[F.c[c] for c in ("silence_ratio", "longest_silence_s", "overtalk_ratio", "sentiment", "repeat")]
            ).where(F.c.interaction_id == row.id)
        )
        .mappings()
        .first()
    )
    has_audio = session.scalar(sa.select(sa.func.count()).where(AudioBlob.interaction_id == row.id)) > 0
    analysis = row.analysis if isinstance(row.analysis, dict) else {}
    sentiment_info = analysis.get("sentiment") if isinstance(analysis.get("sentiment"), dict) else {}
    per_turn = turn_sentiments(analysis)
    turns = []
    placeholders = []
    for index, turn in enumerate(row.turns or []):
        if not isinstance(turn, dict):
            continue
        text = str(turn.get("text") or "")
        spans = turn.get("redactions")
        if isinstance(spans, list) and spans:  # the redactor's own record of what it replaced
            placeholders += [
                {"turn": index, "type": str(r.get("type")), "last4": r.get("last4")}
                for r in spans
                if isinstance(r, dict)
            ]
        else:
            placeholders += [
                {"turn": index, "type": m.group(1), "last4": m.group(2)} for m in PLACEHOLDER.finditer(text)
            ]
        turns.append(
            {
                "index": index,
                "speaker": turn.get("speaker") or "unknown",
                "start": turn.get("start"),
                "end": turn.get("end"),
                "text": text,
                "sentiment": per_turn[index] if index < len(per_turn) else None,
            }
        )
    return {
        "id": row.id,
        "status": row.status,
        "channel": row.channel,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "queue": row.queue,
        "agent": row.agent,
        "external_id": row.external_id,
        "customer_hash": row.customer_hash,
        "duration_s": row.duration_s,
        "intent": {"label": row.intent_label, "confidence": row.intent_confidence} if row.intent_label else None,
        "routing": row.routing,
        "handle_time": row.handle_time,
        "outcome": {k: outcome[k] for k in ("handle_time_s", "queue", "resolution")} if outcome else None,
        "entities": [e for e in analysis.get("entities") or [] if isinstance(e, dict)],
        "sentiment": sentiment_info or None,
        "features": analysis.get("features") if isinstance(analysis.get("features"), dict) else None,
        "figures": dict(figures) if figures else None,
        "categories": list(row.categories or []),
        "placeholders": placeholders,
        "turns": turns,
        "has_audio": has_audio,
        "audio_redactions": [s for s in analysis.get("audio_redactions") or [] if isinstance(s, dict)],
        "summary": analysis.get("summary") if isinstance(analysis.get("summary"), dict) else None,
        "qa": analysis.get("qa") if isinstance(analysis.get("qa"), dict) else None,
    }
