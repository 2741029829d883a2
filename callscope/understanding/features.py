"""Conversation-shape features of a contact: who talked how much, silences, overtalk, latencies, reply gaps.

All times are seconds. Voice turns carry start/end times from the transcription; SMS and chat turns carry
`start` = seconds since the first message (their `end` is not used).

Voice (`channel="voice"`), with the contact running from 0 to `duration_s` (or to the last turn's end):

- `talk_time_s[speaker]`: time that speaker talks (the union of their turns, so overlapping turns count once).
- `silence_s`: time nobody talks (leading, between turns and trailing up to `duration_s`: holds and dead air);
  `longest_silence_s` is the longest such gap.
- `overtalk_s`: time when two or more speakers talk at once.
- `interruptions`: turns that start while another speaker's turn is still going and overlap it by more than
  `INTERRUPTION_MIN_OVERLAP_S` (0.3 s); `interruptions_by_speaker` counts them by the speaker who cut in.
- `speaking_rate_wpm[speaker]`: words per minute of that speaker's talk time (None without talk time).
- `turns[speaker]`, `words[speaker]`: counts.
- `customer_response_latency_s` / `agent_response_latency_s`: `{"mean", "median", "count"}` of the positive gaps
  between one party's turn end and the other party's next turn start (None when there is no such gap).

Text (`channel="sms"` or `"chat"`):

- `messages[speaker]`, `words[speaker]`: counts.
- `response_gap_s`: `{"mean", "max", "count"}` of the seconds from a customer message that has no agent reply yet
  (the first of a run of customer messages) to the next agent message; bot messages are not agent replies.
- `first_response_s`: the first such gap; `span_s`: seconds from the first to the last message.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from callscope.contacts import Turn

__all__ = ["INTERRUPTION_MIN_OVERLAP_S", "conversation_features"]

INTERRUPTION_MIN_OVERLAP_S = 0.3

Interval = tuple[float, float]


def _r(value: float) -> float:
    return round(value, 3)


def _union(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping or touching intervals; empty ones are dropped."""
    merged: list[list[float]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _length(intervals: Iterable[Interval]) -> float:
    return sum(e - s for s, e in intervals)


def _overtalk(per_speaker: dict[str, list[Interval]]) -> float:
    """Time during which at least two speakers' (already merged) intervals are active."""
    events = sorted((t, delta) for ivs in per_speaker.values() for s, e in ivs for t, delta in ((s, 1), (e, -1)))
    total, active, last = 0.0, 0, 0.0
    for t, delta in events:  # ends (-1) sort before starts (+1) at the same time, so touching turns do not overlap
        if active >= 2:
            total += t - last
        active += delta
        last = t
    return total


def _words(text: str) -> int:
    return len(text.split())


def _stats(values: Sequence[float], *, spread: str) -> dict[str, Any]:
    """`{"mean", spread, "count"}` with `spread` = "median" or "max"; None values when there are none."""
    if not values:
        return {"mean": None, spread: None, "count": 0}
    other = statistics.median(values) if spread == "median" else max(values)
    return {"mean": _r(statistics.fmean(values)), spread: _r(other), "count": len(values)}


def _clip(turn: Turn, total: float) -> Interval:
    start = min(max(0.0, turn.start), total)
    return start, min(max(start, turn.end), total)


def _interruptions(turns: Sequence[Turn], spans: Sequence[Interval]) -> dict[str, int]:
    """Count turns that cut into another speaker's ongoing turn by more than the minimum overlap."""
    counts: dict[str, int] = {}
    for i, (turn, (start, end)) in enumerate(zip(turns, spans, strict=True)):
        for j, (other, (o_start, o_end)) in enumerate(zip(turns, spans, strict=True)):
            if i == j or other.speaker == turn.speaker or not o_start < start < o_end:
                continue
            if min(end, o_end) - start > INTERRUPTION_MIN_OVERLAP_S:
                counts[turn.speaker] = counts.get(turn.speaker, 0) + 1
                break
    return counts


def _latencies(ordered: Sequence[tuple[Turn, Interval]], *, after: str, responder: str) -> list[float]:
    """Positive gaps from a turn of `after` to the immediately following turn of `responder`."""
    gaps = []
    for (prev, (_, prev_end)), (cur, (cur_start, _)) in zip(ordered, ordered[1:], strict=False):
        if prev.speaker == after and cur.speaker == responder and cur_start - prev_end > 0:
            gaps.append(cur_start - prev_end)
    return gaps


def _voice(turns: Sequence[Turn], duration_s: float | None) -> dict[str, Any]:
    last_end = max((max(t.start, t.end) for t in turns), default=0.0)
    total = max(0.0, duration_s if duration_s is not None else last_end)
    spans = [_clip(t, total) for t in turns]
    speakers = sorted({t.speaker for t in turns})
    per_speaker = {s: _union(sp for t, sp in zip(turns, spans, strict=True) if t.speaker == s) for s in speakers}
    talk = {s: _length(ivs) for s, ivs in per_speaker.items()}
    everyone = _union(spans)
    edges = [0.0, *(x for iv in everyone for x in iv), total]
    gaps = [edges[k + 1] - edges[k] for k in range(0, len(edges), 2)]
    words = {s: sum(_words(t.text) for t in turns if t.speaker == s) for s in speakers}
    interruptions = _interruptions(turns, spans)
    ordered = sorted(zip(turns, spans, strict=True), key=lambda pair: pair[1][0])
    return {
        "channel": "voice",
        "duration_s": _r(total),
        "talk_time_s": {s: _r(v) for s, v in talk.items()},
        "silence_s": _r(max(0.0, total - _length(everyone))),
        "longest_silence_s": _r(max((g for g in gaps if g > 0), default=0.0)),
        "overtalk_s": _r(_overtalk(per_speaker)),
        "interruptions": sum(interruptions.values()),
        "interruptions_by_speaker": {s: interruptions.get(s, 0) for s in speakers},
        "speaking_rate_wpm": {s: _r(words[s] / talk[s] * 60) if talk[s] > 0 else None for s in speakers},
        "turns": {s: sum(t.speaker == s for t in turns) for s in speakers},
        "words": words,
        "customer_response_latency_s": _stats(
            _latencies(ordered, after="agent", responder="customer"), spread="median"
        ),
        "agent_response_latency_s": _stats(_latencies(ordered, after="customer", responder="agent"), spread="median"),
    }


def _text(turns: Sequence[Turn], channel: str) -> dict[str, Any]:
    speakers = sorted({t.speaker for t in turns})
    ordered = sorted(turns, key=lambda t: t.start)  # stable: messages at the same second keep their order
    gaps: list[float] = []
    waiting_since: float | None = None
    for turn in ordered:
        if turn.speaker == "customer" and waiting_since is None:
            waiting_since = turn.start
        elif turn.speaker == "agent" and waiting_since is not None:
            gaps.append(max(0.0, turn.start - waiting_since))
            waiting_since = None
    starts = [t.start for t in turns]
    return {
        "channel": channel,
        "messages": {s: sum(t.speaker == s for t in turns) for s in speakers},
        "words": {s: sum(_words(t.text) for t in turns if t.speaker == s) for s in speakers},
        "response_gap_s": _stats(gaps, spread="max"),
        "first_response_s": _r(gaps[0]) if gaps else None,
        "span_s": _r(max(starts) - min(starts)) if starts else 0.0,
    }


def conversation_features(turns: Sequence[Turn], *, channel: str, duration_s: float | None = None) -> dict[str, Any]:
    """Talk/silence/overtalk/latency features for voice, message counts and reply gaps for SMS and chat."""
    if channel == "voice":
        return _voice(turns, duration_s)
    if channel in ("sms", "chat"):
        return _text(turns, channel)
    raise ValueError(f"unknown channel {channel!r}: expected 'voice', 'sms' or 'chat'")
