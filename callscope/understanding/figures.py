"""A contact's report figures (sentiment, silence, overtalk, predicted time, QA pattern), read from its stored row.

Pure: reports index them (`storage.search`) and category rules read them (`understanding.categories`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any


def as_utc(value: datetime) -> datetime:
    """A stored time as an aware UTC time: SQLite gives back naive UTC, PostgreSQL aware times."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _score(value: Any) -> float | None:
    """A sentiment figure as a number: a float, or a dict holding one under a usual key."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):
        for key in ("score", "compound", "mean", "value", "polarity"):
            if isinstance(value.get(key), int | float) and not isinstance(value.get(key), bool):
                return float(value[key])
    return None


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present else None


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _number(mapping: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def turn_sentiments(analysis: dict[str, Any]) -> list[float | None]:
    """Per-turn scores, aligned with the turns (`turn_scores`, or `per_turn` numbers or dicts)."""
    sentiment = _mapping(analysis.get("sentiment"))
    values = sentiment.get("turn_scores") or sentiment.get("per_turn") or []
    return [_score(v) for v in values] if isinstance(values, list) else []


def sentiment_figures(analysis: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    """(overall, start, end) of the customer's sentiment, from whichever of the known fields are present."""
    sentiment = _mapping(analysis.get("sentiment"))
    if not sentiment:
        return None, None, None
    per_turn = turn_sentiments(analysis)
    speakers = _mapping(sentiment.get("speaker_means")) or _mapping(sentiment.get("per_speaker"))
    overall = _first(
        _score(sentiment.get("customer_mean")), _score(sentiment), _score(speakers.get("customer")), _mean(per_turn)
    )
    trajectory = _mapping(sentiment.get("customer_trajectory")) or _mapping(sentiment.get("trajectory"))
    present = [v for v in per_turn if v is not None]
    start = _first(_score(trajectory.get("start")), present[0] if present else None)
    end = _first(_score(trajectory.get("end")), present[-1] if present else None)
    return overall, start, end


def turn_timing(turns: list[dict[str, Any]]) -> dict[str, float] | None:
    """Silence (no one speaking) and overtalk (both speaking) in seconds, from turn start/end times."""
    spans = sorted(
        (float(t.get("start") or 0.0), float(t.get("end") or 0.0), t.get("speaker"))
        for t in turns
        if isinstance(t, dict) and (t.get("end") or 0) > (t.get("start") or 0)
    )
    if not spans:
        return None
    silence = longest = overtalk = 0.0
    reach, reach_speaker = spans[0][1], spans[0][2]
    for start, end, speaker in spans[1:]:
        if start > reach:
            gap = start - reach
            silence, longest = silence + gap, max(longest, gap)
        elif speaker != reach_speaker:
            overtalk += min(end, reach) - start
        if end > reach:
            reach, reach_speaker = end, speaker
    total = max(s[1] for s in spans) - spans[0][0]
    return {"silence_s": silence, "longest_silence_s": longest, "overtalk_s": overtalk, "span_s": total}


def contact_figures(row: Any) -> dict[str, Any]:
    """The report row of one contact; missing analysis parts give NULL figures, never an error."""
    analysis = row.analysis if isinstance(row.analysis, dict) else {}
    routing = row.routing if isinstance(row.routing, dict) else {}
    handle_time = row.handle_time if isinstance(row.handle_time, dict) else {}
    features = _mapping(analysis.get("features"))
    turns = row.turns if isinstance(row.turns, list) else []
    overall, start, end = sentiment_figures(analysis)
    duration = row.duration_s or _number(features, "duration_s")
    silence = _number(features, "silence_s", "total_silence_s")
    longest = _number(features, "longest_silence_s", "max_silence_s")
    overtalk = _number(features, "overtalk_s", "overlap_s")
    timing = turn_timing(turns) if row.channel == "voice" else None
    if timing:
        silence = timing["silence_s"] if silence is None else silence
        longest = timing["longest_silence_s"] if longest is None else longest
        overtalk = timing["overtalk_s"] if overtalk is None else overtalk
        duration = duration or timing["span_s"] or None
    repeat = analysis.get("repeat_contact")
    created = as_utc(row.created_at or datetime.now(UTC))
    return {
        "interaction_id": row.id,
        "tenant": row.tenant,
        "created_at": created,
        "day": created.date(),
        "channel": row.channel,
        "intent": row.intent_label,
        "queue": row.queue,
        "agent": row.agent,
        "routed_queue": routing.get("queue"),
        "predicted_p50_s": _number(handle_time, "p50_s"),
        "predicted_p90_s": _number(handle_time, "p90_s"),
        "duration_s": duration,
        "sentiment": overall,
        "sentiment_start": start,
        "sentiment_end": end,
        "silence_s": silence,
        "silence_ratio": round(silence / duration, 4) if silence is not None and duration else None,
        "longest_silence_s": longest,
        "overtalk_s": overtalk,
        "overtalk_ratio": round(overtalk / duration, 4) if overtalk is not None and duration else None,
        "repeat": bool(repeat.get("is_repeat")) if isinstance(repeat, dict) else bool(repeat is True),
        **qa_figures(_mapping(analysis.get("qa"))),
        "repeat_of": repeat.get("previous_id") if isinstance(repeat, dict) and repeat.get("is_repeat") else None,
        "known_customer": row.customer_hash is not None,
    }


QA_LETTERS = {"yes": "y", "no": "n", "n/a": "a"}


def qa_figures(qa: dict[str, Any]) -> dict[str, Any]:
    """The QA score and the answers as one pattern, a letter per question in the form's order (`QA_LETTERS`)."""
    answers = qa.get("answers") if isinstance(qa.get("answers"), list) else []
    pattern = "".join(QA_LETTERS.get(str(a.get("answer")), "a") for a in answers if isinstance(a, dict))
    return {
        "qa_score": _number(qa, "score"),
        "qa_form": f"{qa.get('form')}:{qa.get('version')}" if qa.get("form") else None,
        "qa_pattern": pattern[:100] or None,
    }
