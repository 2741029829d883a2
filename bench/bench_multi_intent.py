"""Turns that carry two requests: intents found by classifying the whole turn vs the turn and its sentences.

A customer often says two things in one turn ("I lost my card. There is a payment I don't recognize.").
This bench joins pairs of held-out Banking77 texts with different labels into one punctuated turn and asks
`callscope.intent.detect_intents` for the contact's intents two ways: the turn classified whole (how
Callscope worked before sentence units), and the turn plus each of its sentences (now). It also checks
that single requests lose nothing: the primary intent of each held-out text on its own, both ways.

Texts come from the seed-13 validation split of train.csv (never trained on by the held-out model, never a
test split). Use the held-out model (``models/intent/train.py --holdout-out DIR``):

    .venv/bin/python bench/bench_multi_intent.py --model-dir /tmp/intent-heldout [--pairs 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "models" / "intent"))

from train import DEFAULT_DATA, read_csv, split_data  # noqa: E402

from callscope.understanding.intent import (  # noqa: E402
    MIN_INTENT_CONFIDENCE,
    OTHER_LABEL,
    IntentModel,
    detect_intents,
    load_intent_model,
)


def sentence(text: str) -> str:
    """A typed request as a transcript writes it: capitalized, ending in a full stop or question mark."""
    text = " ".join(text.split()).rstrip()
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!" else text + "."


def whole_turn_labels(model: IntentModel, turns: Sequence[str]) -> list[list[str]]:
    """Before sentence units: one answer per turn, kept when confident and not ``other``."""
    return [
        [p.label] if p.label != OTHER_LABEL and p.confidence >= MIN_INTENT_CONFIDENCE else []
        for p in model.predict(list(turns))
    ]


def unit_labels(model: IntentModel, turns: Sequence[str]) -> list[list[str]]:
    """Now: `detect_intents` on each turn alone (primary first)."""
    return [[d.label for d in detect_intents(model, [turn])] for turn in turns]


def pair_figures(found: Sequence[list[str]], gold: Sequence[tuple[str, str]]) -> dict[str, float]:
    n = len(gold)
    return {
        "both_found": round(sum(set(g) <= set(f) for f, g in zip(found, gold, strict=True)) / n, 4),
        "at_least_one_found": round(sum(bool(set(g) & set(f)) for f, g in zip(found, gold, strict=True)) / n, 4),
        "primary_is_one_of_them": round(sum(bool(f) and f[0] in g for f, g in zip(found, gold, strict=True)) / n, 4),
        "wrong_labels_per_turn": round(sum(len(set(f) - set(g)) for f, g in zip(found, gold, strict=True)) / n, 4),
    }


def single_figures(found: Sequence[list[str]], gold: Sequence[str]) -> dict[str, float]:
    n = len(gold)
    return {
        "primary_correct": round(sum(bool(f) and f[0] == g for f, g in zip(found, gold, strict=True)) / n, 4),
        "nothing_found": round(sum(not f for f in found) / n, 4),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="the held-out model (train.py --holdout-out)")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    texts, labels = read_csv(args.data)
    split = split_data(texts, labels)
    held_out = list(zip(split.dev_texts, split.dev_labels, strict=True))
    rng = random.Random(13)
    pairs = []
    while len(pairs) < args.pairs:
        (a, la), (b, lb) = rng.sample(held_out, 2)
        if la != lb:
            pairs.append((f"{sentence(a)} {sentence(b)}", (la, lb)))
    model = load_intent_model(args.model_dir)
    turns, gold = [t for t, _ in pairs], [g for _, g in pairs]
    singles = [sentence(t) for t, _ in held_out]
    single_gold = [label for _, label in held_out]
    results = {
        "model_dir": str(args.model_dir),
        "two_request_turns": {
            "n": len(turns),
            "whole_turn": pair_figures(whole_turn_labels(model, turns), gold),
            "turn_and_sentences": pair_figures(unit_labels(model, turns), gold),
        },
        "single_requests": {
            "n": len(singles),
            "whole_turn": single_figures(whole_turn_labels(model, singles), single_gold),
            "turn_and_sentences": single_figures(unit_labels(model, singles), single_gold),
        },
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
