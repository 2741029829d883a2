"""Roles without a channel map: the role model against the previous regex cues on hand-written calls.

`bench/data/role_dialogues.json` holds 24 short calls written for this bench, apart from the model's templates (13
where the customer speaks first, several where the customer introduces himself, thanks and says goodbye and the
agent is terse, four as lower-case ASR-like text). Each call is decided twice, with the agent on the left and on
the right. The previous rule (regex cue counts, ties to the first speaker) is restated here as the baseline.

    .venv/bin/python bench/bench_roles.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callscope.voice.roles import decide  # noqa: E402

PREVIOUS_AGENT_CUES = (
    r"thank(s| you) for (calling|contacting|holding|waiting)", r"how (can|may) i (help|assist)",
    r"my name is \w+", r"you'?re (speaking|through) (to|with)", r"speaking,? how", r"is there anything else",
    r"can i (take|have|confirm) your", r"for security", r"verify your (identity|details)", r"date of birth",
    r"i (can|will|'ll) (block|cancel|order|send|check|transfer|refund|raise)", r"let me (check|have a look|see)",
    r"bear with me", r"i'?m sorry to hear", r"welcome to", r"have a (good|nice|great) (day|evening)",
)  # fmt: skip
PREVIOUS_CUSTOMER_CUES = (
    r"\bmy (card|account|balance|payment|transfer|pin|money|statement|loan|mortgage)\b", r"\bi (lost|can'?t|cannot|"
    r"didn'?t|haven'?t|want|need|would like|was charged|paid|sent|noticed)\b", r"\bsomeone (stole|used|took)\b",
    r"\bwhy (was|is|has)\b", r"\bi'?m (calling|ringing) (about|because)\b", r"\bhasn'?t arrived\b",
)  # fmt: skip


def previous_rule(left: list[str], right: list[str], *, left_first: bool) -> str:
    def score(texts: list[str]) -> float:
        joined = " ".join(texts)
        agent = sum(bool(re.search(p, joined, re.I)) for p in PREVIOUS_AGENT_CUES)
        return agent - 0.5 * sum(bool(re.search(p, joined, re.I)) for p in PREVIOUS_CUSTOMER_CUES)

    gap = score(left) - score(right)
    return ("left" if left_first else "right") if gap == 0 else ("left" if gap > 0 else "right")


def main() -> None:
    calls = json.loads((ROOT / "bench" / "data" / "role_dialogues.json").read_text())
    rows = []
    for call in calls:
        agent = [text for who, text in call["turns"] if who == "agent"]
        customer = [text for who, text in call["turns"] if who == "customer"]
        agent_first = call["turns"][0][0] == "agent"
        for agent_side in ("left", "right"):
            left, right = (agent, customer) if agent_side == "left" else (customer, agent)
            left_first = agent_first == (agent_side == "left")
            made = decide(left, right, left_first=left_first)
            rows.append({"call": call["id"], "customer_first": not agent_first,
                         "model": made.agent_channel == agent_side, "confidence": made.confidence,
                         "previous": previous_rule(left, right, left_first=left_first) == agent_side})  # fmt: skip

    def share(key: str, subset: list[dict]) -> float:
        return round(sum(r[key] for r in subset) / len(subset), 3)

    customer_first = [r for r in rows if r["customer_first"]]
    wrong = sorted({r["call"] for r in rows if not r["model"]})
    print(json.dumps({
        "decisions": len(rows),
        "role_model_right": share("model", rows), "previous_rule_right": share("previous", rows),
        "customer_first_decisions": len(customer_first),
        "customer_first_role_model_right": share("model", customer_first),
        "customer_first_previous_rule_right": share("previous", customer_first),
        "mean_confidence_when_right": round(sum(r["confidence"] for r in rows if r["model"]) /
                                            max(1, sum(r["model"] for r in rows)), 3),
        "calls_the_model_gets_wrong": wrong,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
