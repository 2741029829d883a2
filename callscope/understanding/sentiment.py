"""Customer sentiment per turn and over a contact, with VADER tuned for banking call-center speech.

VADER (Hutto & Gilbert, ICWSM 2014) is a lexicon and rule scorer built for short informal text: it handles
negation ("not happy"), intensifiers ("really"), "but" clauses, capitals and exclamation marks, needs no model and
scores a turn in well under a millisecond. Its `compound` score is in [-1, 1]; the documented thresholds label
>= 0.05 positive, <= -0.05 negative, anything between neutral.

Out of the box it misreads call-center speech in two ways, which `BANKING_LEXICON` and `BANKING_PHRASES` correct:

- request, politeness and banking words carry sentiment in VADER's lexicon ("please" +1.3, "help" +1.7, "like"
  +1.5 as in "I'd like to", "yes" +1.7, "interest" +2.0, "credit" +1.6, "save" +2.2, "security" +1.4, "increase"
  +1.3, "want" +0.3, "pay" -0.4 as in "Apple Pay"), so neutral requests ("I'd like to check my balance please")
  scored positive; these words are removed from the lexicon.
- service failures are missing or mild ("charged twice", "still not arrived", "declined", "bounced", "locked out",
  "scammed", "this is a joke" (+1.2 in VADER)), and UK "sorted" is unknown; these are added. Multi-word phrases
  are rewritten to one token before scoring so VADER's negation and intensifier rules still apply to them.

Scores are computed on redacted text; placeholders such as `[CARD]` are read as plain nouns.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from callscope.contacts import Turn

__all__ = ["BANKING_LEXICON", "BANKING_PHRASES", "label", "score_text", "sentiment_summary"]

POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05

# Lexicon words that are requests, politeness or banking nouns in a call center: no sentiment of their own.
NEUTRAL_WORDS = (
    "please", "help", "helping", "like", "want", "yes", "yeah", "ok", "okay", "increase", "interest", "credit", "save",
    "security", "pay",
)  # fmt: skip

# Valence (VADER's -4..+4 scale) for banking words and for the tokens that BANKING_PHRASES produce.
BANKING_LEXICON: dict[str, float] = {
    "joke": -1.5,  # "this is a joke"
    "declined": -1.5,
    "bounced": -1.5,
    "bouncing": -1.5,
    "crashing": -1.5,
    "crashed": -1.5,
    "frozen": -1.2,
    "overcharged": -2.0,
    "scammed": -2.5,
    "scammer": -2.5,
    "scammers": -2.5,
    "unauthorised": -1.5,
    "unauthorized": -1.5,
    "sorted": 1.5,  # UK: "that's sorted"
    "sorting": 1.0,  # "thanks for sorting it"
    "fixed": 1.0,
    "x_charged_twice": -2.0,
    "x_not_arrived": -1.8,
    "x_still_waiting": -1.5,
    "x_locked_out": -1.8,
    "x_on_hold": -1.5,
    "x_unrecognised": -1.5,
    "x_late_fee": -1.2,
    "x_oh_dear": -1.0,
    "x_fixed_rate": 0.0,
}

# Phrase -> token, applied in order (case-insensitive) before VADER sees the text.
BANKING_PHRASES: tuple[tuple[str, str], ...] = (
    (r"\b(?:charged|billed|debited)\s+(?:me\s+|us\s+)?(?:twice|two times|double|again)\b", "x_charged_twice"),
    (r"\bdouble[- ]charged\b", "x_charged_twice"),
    (
        r"\b(?:still\s+)?(?:has\s*n[o']t|have\s*n[o']t|had\s*n[o']t|not|never|yet\s+to)\s+(?:yet\s+)?"
        r"(?:arrived|come\s+through|been\s+received|received|turned\s+up|cleared|been\s+credited|shown\s+up|come\s+in)\b",
        "x_not_arrived",
    ),
    (r"\bstill\s+waiting\b", "x_still_waiting"),
    (r"\blocked\s+out\b", "x_locked_out"),
    (r"\b(?:been|kept|left|waiting|sat|stuck)\s+on\s+hold\b", "x_on_hold"),
    (r"\b(?:don't|do not|didn't|did not|dont)\s+recogni[sz]e\b", "x_unrecognised"),
    (r"\blate\s+(?:payment\s+)?fee\b", "x_late_fee"),
    (r"\boh\s+dear\b", "x_oh_dear"),
    (r"\bfixed\s+rate\b", "x_fixed_rate"),
)
_PHRASES = tuple((re.compile(p, re.IGNORECASE), f" {token} ") for p, token in BANKING_PHRASES)
_PLACEHOLDER = re.compile(r"\[([A-Z_]+)\]")


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    """One VADER instance per process with the banking lexicon applied (VADER reads its lexicon file on init)."""
    analyzer = SentimentIntensityAnalyzer()
    for word in NEUTRAL_WORDS:
        analyzer.lexicon.pop(word, None)
    analyzer.lexicon.update(BANKING_LEXICON)
    return analyzer


def _prepare(text: str) -> str:
    text = _PLACEHOLDER.sub(lambda m: m.group(1).lower().replace("_", " "), text)
    for regex, token in _PHRASES:
        text = regex.sub(token, text)
    return text


VADER_PIECE_CHARS = 1_000  # VADER's time grows with the square of a text's words: longer texts are read in pieces
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def score_text(text: str) -> float:
    """VADER compound score in [-1, 1] for one utterance, with the banking adjustments. A text longer than an
    utterance (a pasted transcript) is scored by sentence-bounded pieces, their mean weighted by length: the same
    score for an utterance, linear time for any text."""
    if not text.strip():
        return 0.0
    if len(text) <= VADER_PIECE_CHARS:
        return float(_analyzer().polarity_scores(_prepare(text))["compound"])
    pieces: list[str] = [""]
    for sentence in _SENTENCE_END.split(text):
        for start in range(0, len(sentence), VADER_PIECE_CHARS):  # a "sentence" with no full stop in 1,000 chars
            part = sentence[start : start + VADER_PIECE_CHARS]
            if len(pieces[-1]) + len(part) > VADER_PIECE_CHARS:
                pieces.append("")
            pieces[-1] = f"{pieces[-1]} {part}".strip()
    scored = [(len(p), _analyzer().polarity_scores(_prepare(p))["compound"]) for p in pieces if p.strip()]
    return float(sum(n * score for n, score in scored) / sum(n for n, _ in scored))


def label(compound: float) -> str:
    """VADER's documented thresholds: >= 0.05 positive, <= -0.05 negative, else neutral."""
    if compound >= POSITIVE_THRESHOLD:
        return "positive"
    if compound <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def _thirds(turns: Sequence[Turn], scores: Sequence[float]) -> dict[str, float | None]:
    """Mean customer score in the first, middle and last third of the contact (by time, else by turn order)."""
    first = min(t.start for t in turns)
    last = max(max(t.start, t.end) for t in turns)
    by_time = last > first
    buckets: list[list[float]] = [[], [], []]
    for i, (turn, score) in enumerate(zip(turns, scores, strict=True)):
        if turn.speaker != "customer":
            continue
        if by_time:
            position = ((turn.start + max(turn.start, turn.end)) / 2 - first) / (last - first)
        else:
            position = (i + 0.5) / len(turns)
        buckets[min(2, int(position * 3))].append(score)
    return dict(zip(("start", "middle", "end"), (_mean(b) for b in buckets), strict=True))


def sentiment_summary(turns: Sequence[Turn]) -> dict[str, Any]:
    """Per-turn scores, per-speaker means and the customer's trajectory over the contact.

    Returns `{"turn_scores": [float, ...] (aligned with turns), "turn_labels": [str, ...],
    "speaker_means": {speaker: float} (speakers present), "customer_mean": float | None,
    "customer_trajectory": {"start", "middle", "end": float | None, "change": end - start | None},
    "label": label of customer_mean, or None without customer turns}`.
    """
    scores = [round(score_text(t.text), 4) for t in turns]
    by_speaker: dict[str, list[float]] = {}
    for turn, score in zip(turns, scores, strict=True):
        by_speaker.setdefault(turn.speaker, []).append(score)
    customer_mean = _mean(by_speaker.get("customer", []))
    trajectory: dict[str, float | None] = (
        _thirds(turns, scores) if "customer" in by_speaker else {"start": None, "middle": None, "end": None}
    )
    start, end = trajectory["start"], trajectory["end"]
    trajectory["change"] = round(end - start, 4) if start is not None and end is not None else None
    return {
        "turn_scores": scores,
        "turn_labels": [label(s) for s in scores],
        "speaker_means": {speaker: _mean(values) for speaker, values in by_speaker.items()},
        "customer_mean": customer_mean,
        "customer_trajectory": trajectory,
        "label": label(customer_mean) if customer_mean is not None else None,
    }
