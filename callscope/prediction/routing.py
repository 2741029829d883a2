"""Routing hints from a YAML routing table: intent -> queue and priority, plus escalation rules with reasons."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel


class RoutingHint(BaseModel):
    queue: str
    priority: int
    escalate: bool = False
    reasons: list[str]
    learned: dict[str, Any] | None = None  # preferred queue/agents from outcomes, with evidence (tenants.learning)


@lru_cache
def load_routing_table(path: str | Path) -> dict[str, Any]:
    """Parse and index the table once per process."""
    table = yaml.safe_load(Path(path).read_text())
    by_intent: dict[str, tuple[str, int]] = {}
    for queue, spec in (table.get("queues") or {}).items():
        for intent in spec.get("intents", []):
            by_intent[intent] = (queue, int(spec.get("priority", table["default"]["priority"])))
    return {**table, "by_intent": by_intent}


def route(table: dict[str, Any], *, intent: str | None, confidence: float) -> RoutingHint:
    """Choose queue and priority for an intent, then apply every matching escalation rule in order."""
    default = table["default"]
    if intent and intent in table["by_intent"]:
        queue, priority = table["by_intent"][intent]
        reasons = [f"intent {intent} is served by the {queue} queue"]
    else:
        queue, priority = default["queue"], int(default["priority"])
        reasons = [f"no queue is configured for intent {intent!r}: default queue"]
    escalate = False
    for rule in table.get("escalations") or []:
        when = rule.get("when", {})
        matches = (intent in when["intents"]) if "intents" in when else False
        if "max_confidence" in when:
            matches = matches or confidence < float(when["max_confidence"])
        if not matches:
            continue
        then = rule.get("then", {})
        queue = then.get("queue", queue)
        priority = min(priority, int(then.get("priority", priority)))
        escalate = escalate or bool(then.get("escalate", False))
        reasons.append(rule.get("reason", rule.get("name", "escalation rule")))
    return RoutingHint(queue=queue, priority=priority, escalate=escalate, reasons=reasons)


def with_tenant_intents(table: dict[str, Any], intents: list[tuple[str, str, int, bool]]) -> dict[str, Any]:
    """The routing table with a tenant's own intents added: (name, queue, priority, escalate) each."""
    by_intent = {**table["by_intent"], **{name: (queue, priority) for name, queue, priority, _ in intents}}
    escalating = [name for name, _, _, escalate in intents if escalate]
    rules = list(table.get("escalations") or [])
    if escalating:
        rules.append({"name": "tenant intents", "when": {"intents": escalating}, "then": {"escalate": True},
                      "reason": "the tenant's routing escalates this intent"})  # fmt: skip
    return {**table, "by_intent": by_intent, "escalations": rules}
