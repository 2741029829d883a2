"""Categories: a supervisor's rules that tag contacts as they are analyzed, and reports filter by.

A rule holds conditions; `match: "all"` (default) needs every condition present to hold, `"any"` needs one:

    {"phrases": ["cancel my account", "close the account"], "speaker": "customer",
     "intents": ["terminate_account"], "channels": ["voice"],
     "sentiment_below": -0.3, "silence_ratio_above": 0.25, "longest_silence_over_s": 20,
     "overtalk_over_s": 10, "handle_time_over_s": 600, "repeat": true, "match": "any"}

`evaluate(rule, contact)` is pure (no database): live sessions can call it on a partial contact, a dict with
`turns`, `channel`, `intent` (a label or {"label"}), `analysis`, `handle_time` and `duration_s`, or on a stored row.
Handling time is the actual one when the contact has an outcome (`handle_time_s`), else the predicted p50.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callscope.understanding.figures import contact_figures


class Rule(BaseModel):
    """The conditions of one category."""

    model_config = ConfigDict(extra="forbid")

    phrases: list[str] = Field(default_factory=list, max_length=200, description="any phrase, case-insensitive")
    speaker: Literal["any", "agent", "customer"] = "any"
    intents: list[str] = Field(default_factory=list, max_length=200)
    channels: list[Literal["voice", "sms", "chat"]] = Field(default_factory=list)
    sentiment_below: float | None = Field(default=None, ge=-1, le=1)
    silence_ratio_above: float | None = Field(default=None, ge=0, le=1)
    longest_silence_over_s: float | None = Field(default=None, ge=0)
    overtalk_over_s: float | None = Field(default=None, ge=0)
    handle_time_over_s: float | None = Field(default=None, ge=0)
    repeat: bool | None = None
    match: Literal["all", "any"] = "all"

    @model_validator(mode="after")
    def _has_a_condition(self) -> Rule:
        """A rule without conditions would tag everything (or nothing): refuse it."""
        if not any(v not in (None, []) for k, v in self if k not in ("speaker", "match")):
            raise ValueError("a rule needs at least one condition")
        self.phrases = [p.strip() for p in self.phrases if p.strip()]
        return self


class CategoryIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w .:/&+-]+$")
    rule: Rule


@dataclass(frozen=True)
class ContactFacts:
    """What rules read from a contact, whatever shape it came in."""

    channel: str | None
    intent: str | None
    texts: Mapping[str, str]
    sentiment: float | None
    silence_ratio: float | None
    longest_silence_s: float | None
    overtalk_s: float | None
    handle_time_s: float | None
    repeat: bool


def contact_facts(contact: Any, *, actual: float | None = None) -> ContactFacts:
    if isinstance(contact, ContactFacts):
        return contact
    if isinstance(contact, Mapping):
        intent = contact.get("intent")
        view = SimpleNamespace(
            id=contact.get("id") or "",
            tenant=contact.get("tenant") or "",
            created_at=None,
            channel=contact.get("channel") or "",
            intent_label=intent.get("label") if isinstance(intent, Mapping) else contact.get("intent_label", intent),
            queue=contact.get("queue"),
            agent=contact.get("agent"),
            routing=contact.get("routing"),
            handle_time=contact.get("handle_time"),
            analysis=contact.get("analysis"),
            turns=contact.get("turns") or [],
            duration_s=contact.get("duration_s"),
            customer_hash=contact.get("customer_hash"),
        )
        actual = contact.get("handle_time_s", actual)
    else:
        view = contact
    figures = contact_figures(view)  # type: ignore[arg-type]
    texts: dict[str, list[str]] = {"any": [], "agent": [], "customer": []}
    for turn in view.turns or []:
        if isinstance(turn, Mapping) and turn.get("text"):
            texts["any"].append(str(turn["text"]))
            speaker = turn.get("speaker")
            texts.setdefault(speaker, []).append(str(turn["text"]))
            if speaker == "unknown":  # a one-track recording: anyone may have said it
                texts["agent"].append(str(turn["text"]))
                texts["customer"].append(str(turn["text"]))
    return ContactFacts(
        channel=figures["channel"],
        intent=figures["intent"],
        texts={k: "\n".join(v).lower() for k, v in texts.items()},
        sentiment=figures["sentiment"],
        silence_ratio=figures["silence_ratio"],
        longest_silence_s=figures["longest_silence_s"],
        overtalk_s=figures["overtalk_s"],
        handle_time_s=float(actual) if actual is not None else figures["predicted_p50_s"],
        repeat=figures["repeat"],
    )


def _phrase_in(phrase: str, text: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)", text) is not None


def _over(value: float | None, limit: float) -> bool:
    return value is not None and value > limit


def evaluate(rule: Rule | Mapping[str, Any], contact: Any) -> bool:
    """Whether a contact (a stored row, a dict or ContactFacts) meets the rule; conditions it lacks data for fail."""
    rule = rule if isinstance(rule, Rule) else Rule.model_validate(rule)
    facts = contact_facts(contact)
    checks: list[bool] = []
    if rule.phrases:
        text = facts.texts.get(rule.speaker, "")
        checks.append(any(_phrase_in(p, text) for p in rule.phrases))
    if rule.intents:
        checks.append(facts.intent in rule.intents)
    if rule.channels:
        checks.append(facts.channel in rule.channels)
    if rule.sentiment_below is not None:
        checks.append(facts.sentiment is not None and facts.sentiment < rule.sentiment_below)
    if rule.silence_ratio_above is not None:
        checks.append(_over(facts.silence_ratio, rule.silence_ratio_above))
    if rule.longest_silence_over_s is not None:
        checks.append(_over(facts.longest_silence_s, rule.longest_silence_over_s))
    if rule.overtalk_over_s is not None:
        checks.append(_over(facts.overtalk_s, rule.overtalk_over_s))
    if rule.handle_time_over_s is not None:
        checks.append(_over(facts.handle_time_s, rule.handle_time_over_s))
    if rule.repeat is not None:
        checks.append(facts.repeat == rule.repeat)
    return all(checks) if rule.match == "all" else any(checks)


def matching(rules: Mapping[str, Rule | Mapping[str, Any]], contact: Any) -> list[str]:
    """The names of the rules a contact meets, sorted (pure: for live sessions raising alerts)."""
    facts = contact_facts(contact)
    return sorted(name for name, rule in rules.items() if evaluate(rule, facts))
