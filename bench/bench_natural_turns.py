"""Natural customer turns against typed requests (issue 17, part 1): how much the shipped intent model loses.

The 1,001 texts of the intent model's validation split (stratified 10% of Banking77's train.csv, seed 13) are
rewritten by rules into what a customer says on the phone or in a chat: a greeting and fillers before the request
("yeah hi, um, so"), "wanna", identity details or a number read out in the same turn ("it's [PERSON], date of birth 4
May 1980"), small talk after it ("thanks, bye"), lower case without punctuation. Every text
is classified typed and rewritten, by the same model, in the same run (closed set: no `other` fallback), also with
the small-talk cut of `custom_intents.strip_small_talk` before classifying.

The shipped model was refit on all of train.csv, so it has seen these texts typed: read the typed figure as an upper
bound and the drop as the cost of natural speech. With `--model-dir` a held-out model (`models/intent/train.py
--holdout-out DIR`) gives figures on unseen texts.

    .venv/bin/python bench/bench_natural_turns.py [--model-dir DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "models" / "intent"))

from train import DEFAULT_DATA, NATURAL_EVAL_SEED, read_csv, split_data, spoken_forms  # noqa: E402

from callscope.settings import get_settings  # noqa: E402
from callscope.understanding.custom_intents import strip_small_talk  # noqa: E402
from callscope.understanding.intent import load_intent_model  # noqa: E402


def accuracy(model, texts: list[str], labels: list[str]) -> float:
    predicted = model.predict(texts, fallback=False)
    return sum(p.label == y for p, y in zip(predicted, labels, strict=True)) / len(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    split = split_data(*read_csv(DEFAULT_DATA))
    model = load_intent_model(args.model_dir or get_settings().intent_model_dir)
    turns = spoken_forms(split.dev_texts, NATURAL_EVAL_SEED)
    result = {
        "texts": len(turns),
        "model": str(args.model_dir or "shipped (has seen these texts typed)"),
        "typed": accuracy(model, split.dev_texts, split.dev_labels),
        "natural": accuracy(model, turns, split.dev_labels),
        "natural_small_talk_cut": accuracy(model, [strip_small_talk(t) for t in turns], split.dev_labels),
        "examples": turns[:5],
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
