"""Which channel of a call is the agent, decided from what each side says when the channel map is missing.

A small linear model (models/roles: logistic regression on words and word pairs, trained on customer requests and
generated agent and customer call language) scores every turn: how much it sounds like the agent. The call-level
decision adds the evidence of every turn of both sides, so one phrase that both sides say ("my name is ...",
"have a nice day") cannot swing it, and a customer who speaks first, introduces himself, thanks and says goodbye
is still the customer. Who speaks first is a weak prior only. The decision keeps its confidence and its reasons:
the turns that told most.

Pure Python over a JSON of weights: no scikit-learn or spaCy at run time, so transcription loads nothing more.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from callscope.settings import REPO_ROOT

MODEL_PATH = REPO_ROOT / "models" / "roles" / "model.json"
TURN_LOGIT_CAP = 3.0  # no single turn counts for more than this much evidence
DAMPING = 0.5  # turns of one side are not independent evidence: their sum is discounted
FIRST_SPEAKER_PRIOR = 0.3  # log-odds that the first speaker is the agent (agents usually answer and greet)
REASONS_PER_SIDE = 2
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def features(text: str) -> list[str]:
    """The model's inputs, the same in training and at run time: lower-cased words (a number is `0`) and word pairs."""
    words = ["0" if w[0].isdigit() else w for w in _WORD.findall(text.lower())]
    return [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]


@dataclass(frozen=True)
class RoleModel:
    weights: dict[str, float]
    bias: float

    def logit(self, text: str) -> float:
        """Log-odds that this turn is the agent's (present/absent features, as the model was trained)."""
        return self.bias + sum(self.weights.get(f, 0.0) for f in set(features(text)))


@lru_cache(maxsize=2)
def load_model(path: Path = MODEL_PATH) -> RoleModel:
    data = json.loads(Path(path).read_text())
    return RoleModel(weights=data["weights"], bias=float(data["bias"]))


@dataclass(frozen=True)
class RoleDecision:
    agent_channel: str  # "left" or "right"
    confidence: float  # 0.5 = a coin toss, 0.99 = every turn agrees
    method: str
    reasons: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {"agent_channel": self.agent_channel, "confidence": self.confidence, "method": self.method,
                "reasons": list(self.reasons)}  # fmt: skip


def _quote(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return f'"{text[:width]}{"…" if len(text) > width else ""}"'


def _reasons(side: str, scored: list[tuple[float, str]], *, agent: bool) -> list[str]:
    ranked = sorted(scored, key=lambda pair: -pair[0] if agent else pair[0])[:REASONS_PER_SIDE]
    who = "an agent" if agent else "a customer"
    return [f"{side}: {_quote(text)} sounds like {who} (p={1 / (1 + math.exp(-logit)):.2f})"
            for logit, text in ranked if (logit > 0) == agent]  # fmt: skip


def decide(
    left: Sequence[str], right: Sequence[str], *, left_first: bool, model: RoleModel | None = None
) -> RoleDecision:
    """Pick the agent's channel from both sides' turns; with no words at all, whoever spoke first."""
    model = model or load_model()
    scored = [[(max(-TURN_LOGIT_CAP, min(TURN_LOGIT_CAP, model.logit(t))), t) for t in side if t.strip()]
              for side in (left, right)]  # fmt: skip
    if not scored[0] and not scored[1]:
        return RoleDecision("left" if left_first else "right", 0.5, "who spoke first (no words to go by)")
    evidence = DAMPING * (sum(x for x, _ in scored[0]) - sum(x for x, _ in scored[1]))
    evidence += FIRST_SPEAKER_PRIOR if left_first else -FIRST_SPEAKER_PRIOR
    p_left = 1 / (1 + math.exp(-evidence))
    agent = "left" if p_left >= 0.5 else "right"
    agent_turns, customer_turns = (scored[0], scored[1]) if agent == "left" else (scored[1], scored[0])
    customer = "right" if agent == "left" else "left"
    reasons = (*_reasons(agent, agent_turns, agent=True), *_reasons(customer, customer_turns, agent=False))
    confidence = round(min(0.99, max(p_left, 1 - p_left)), 2)
    return RoleDecision(agent, confidence, "role model over what each side says", reasons)
