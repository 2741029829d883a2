"""Which channel of a call is the agent, decided from what each side says when the channel map is missing.

Agents greet with the bank's name, introduce themselves, offer help and verify identity; customers state a
problem about their own card or account. Who speaks first only breaks ties (customers sometimes speak first:
callbacks, calls picked up mid-greeting).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

AGENT_CUES = (
    r"thank(s| you) for (calling|contacting|holding|waiting)", r"how (can|may) i (help|assist)",
    r"my name is \w+", r"you'?re (speaking|through) (to|with)", r"speaking,? how", r"is there anything else",
    r"can i (take|have|confirm) your", r"for security", r"verify your (identity|details)", r"date of birth",
    r"i (can|will|'ll) (block|cancel|order|send|check|transfer|refund|raise)", r"let me (check|have a look|see)",
    r"bear with me", r"i'?m sorry to hear", r"welcome to", r"have a (good|nice|great) (day|evening)",
)  # fmt: skip
CUSTOMER_CUES = (
    r"\bmy (card|account|balance|payment|transfer|pin|money|statement|loan|mortgage)\b", r"\bi (lost|can'?t|cannot|"
    r"didn'?t|haven'?t|want|need|would like|was charged|paid|sent|noticed)\b", r"\bsomeone (stole|used|took)\b",
    r"\bwhy (was|is|has)\b", r"\bi'?m (calling|ringing) (about|because)\b", r"\bhasn'?t arrived\b",
)  # fmt: skip
_AGENT = [re.compile(p, re.IGNORECASE) for p in AGENT_CUES]
_CUSTOMER = [re.compile(p, re.IGNORECASE) for p in CUSTOMER_CUES]


@dataclass(frozen=True)
class RoleDecision:
    agent_channel: str  # "left" or "right"
    confidence: float  # 0.5 = a coin toss, 1.0 = only one side sounds like an agent
    method: str


def agent_score(texts: Sequence[str]) -> float:
    """Agent cues minus customer cues in one side's words."""
    joined = " ".join(texts)
    return sum(bool(p.search(joined)) for p in _AGENT) - 0.5 * sum(bool(p.search(joined)) for p in _CUSTOMER)


def decide(left: Sequence[str], right: Sequence[str], *, left_first: bool) -> RoleDecision:
    """Pick the agent's channel from both sides' words; fall back to whoever spoke first."""
    left_score, right_score = agent_score(left), agent_score(right)
    gap = left_score - right_score
    if gap == 0:
        return RoleDecision("left" if left_first else "right", 0.5, "who spoke first (no content evidence)")
    confidence = round(min(0.99, 0.5 + 0.15 * abs(gap)), 2)
    return RoleDecision("left" if gap > 0 else "right", confidence, "what each side says")
