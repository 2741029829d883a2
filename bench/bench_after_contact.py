"""Summary parts and QA answers against a hand-labelled set, and the time both add to an analysis.

`bench/data/after_contact.json`: 36 bank contacts (16 calls, 10 chats, 10 SMS threads) written by hand for this
bench, each labelled with the summary a person would write (the turn stating the issue, the agent's actions, the
outcome, whether a follow-up was promised) and the answers to the default QA form. Each contact is redacted and
analyzed as the worker does (`analyze_turns` with the shipped models); the figures compare the stored `summary` and
`qa` with the labels. `--split dev|test` scores the even- or odd-numbered contacts only (rules were tuned on dev).

Speed: the same contacts analyzed with and without the summary and QA steps, alternating, in this process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from callscope.contacts import Turn
from callscope.interactions import analysis as analysis_module
from callscope.interactions.analysis import Resources, analyze_turns, no_outcomes
from callscope.interactions.intake import redact_turns
from callscope.settings import get_settings
from callscope.understanding import qa
from callscope.understanding.summary import summarize

DATA = Path(__file__).resolve().parent / "data" / "after_contact.json"


def load(split: str) -> list[dict[str, Any]]:
    contacts = json.loads(DATA.read_text())["contacts"]
    if split == "all":
        return contacts
    return [c for i, c in enumerate(contacts) if (i % 2 == 0) == (split == "dev")]


def analyze(contact: dict[str, Any], resources: Resources) -> tuple[list[Turn], Any]:
    turns = [Turn.model_validate(t) for t in redact_turns([Turn.model_validate(t) for t in contact["turns"]])]
    return turns, analyze_turns(turns, channel=contact["channel"], resources=resources, outcomes=no_outcomes)


def score(contacts: list[dict[str, Any]], resources: Resources, *, show: bool) -> dict[str, Any]:
    right: Counter[str] = Counter()
    tp = fp = fn = 0
    qa_right: Counter[str] = Counter()
    qa_total: Counter[str] = Counter()
    confusions: list[str] = []
    for contact in contacts:
        expected = contact["expected"]
        _turns, result = analyze(contact, resources)
        summary, qa = result.summary, result.qa
        reason_turn = (summary["reason"] or {}).get("turn")
        right["reason"] += reason_turn in expected["reason_turns"]
        found = {a["action"] for a in summary["actions"]}
        wanted = set(expected["actions"])
        right["actions"] += found == wanted
        tp, fp, fn = tp + len(found & wanted), fp + len(found - wanted), fn + len(wanted - found)
        right["outcome"] += summary["outcome"]["status"] == expected["outcome"]
        right["follow_up"] += bool(summary["follow_ups"]) == expected["follow_up"]
        answers = {a["question"]: a["answer"] for a in qa["answers"]}
        for question, answer in expected["qa"].items():
            qa_total[question] += 1
            qa_right[question] += answers.get(question) == answer
            if show and answers.get(question) != answer:
                confusions.append(f"{contact['id']} {question}: got {answers.get(question)}, want {answer}")
        if show and (found != wanted or summary["outcome"]["status"] != expected["outcome"]):
            confusions.append(
                f"{contact['id']} actions {sorted(found)} want {sorted(wanted)}; outcome "
                f"{summary['outcome']['status']} want {expected['outcome']}"
            )
        if show and reason_turn not in expected["reason_turns"]:
            confusions.append(f"{contact['id']} reason turn {reason_turn} want {expected['reason_turns']}")
    n = len(contacts)
    return {
        "contacts": n,
        "reason": round(right["reason"] / n, 3),
        "actions_exact": round(right["actions"] / n, 3),
        "action_precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "action_recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "outcome": round(right["outcome"] / n, 3),
        "follow_up": round(right["follow_up"] / n, 3),
        "qa_by_question": {q: round(qa_right[q] / qa_total[q], 3) for q in sorted(qa_total)},
        "qa_all": round(sum(qa_right.values()) / sum(qa_total.values()), 3),
        "misses": confusions,
    }


def timing(contacts: list[dict[str, Any]], resources: Resources, rounds: int) -> dict[str, Any]:
    """Seconds per contact with and without the summary and QA (alternating rounds, median)."""
    turns = [(analyze(c, resources)[0], c["channel"]) for c in contacts]
    original = analysis_module.summarize
    with_steps, without = [], []
    for _ in range(rounds):
        for enabled in (True, False):
            if not enabled:  # no summary: no QA either (it reads the summary's actions)
                analysis_module.summarize = lambda *_a, **_k: None  # type: ignore[assignment]
            started = time.perf_counter()
            for t, channel in turns:
                analyze_turns(t, channel=channel, resources=resources, outcomes=no_outcomes)
            spent = (time.perf_counter() - started) / len(turns)
            analysis_module.summarize = original
            (with_steps if enabled else without).append(spent)
    full, base = statistics.median(with_steps), statistics.median(without)
    analyzed = [(t, channel, analyze_turns(t, channel=channel, resources=resources, outcomes=no_outcomes))
                for t, channel in turns]  # fmt: skip
    started = time.perf_counter()
    for _ in range(rounds):
        for t, channel, result in analyzed:
            summary = summarize(t, intents=result.intents, entities=result.entities, intent=result.intent.label)
            contact = qa.Contact(turns=t, channel=channel, intent=result.intent.label,
                                 sentiment_scores=result.sentiment["turn_scores"], features=result.features,
                                 actions=[a["action"] for a in summary["actions"]])  # fmt: skip
            qa.evaluate(qa.default_form(), contact)
    steps = (time.perf_counter() - started) / rounds / len(analyzed)
    return {"with_ms": round(full * 1000, 2), "without_ms": round(base * 1000, 2), "ratio": round(full / base, 3),
            "summary_and_qa_ms": round(steps * 1000, 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("all", "dev", "test"), default="all")
    parser.add_argument("--show", action="store_true", help="list every wrong part")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds (0: no timing)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    resources = replace(Resources.from_settings(get_settings()), qa_forms=())
    contacts = load(args.split)
    figures = score(contacts, resources, show=args.show)
    if args.rounds:
        figures["time"] = timing(contacts, resources, args.rounds)
    for line in figures.pop("misses"):
        print(line)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
