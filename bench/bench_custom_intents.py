"""Few-shot custom intents (issue 17): five examples per intent, against a logistic regression on the encoder.

The model's settings (request cut from small talk, unit-length embedding, C=30, no further views) were chosen on
CLINC150 train utterances outside the examples; the figures here are on the validation split, which no choice saw.

Intent sets from CLINC150 (vendored in data/clinc150, CC BY 3.0; never the test split): `bank30`, the 15 banking and
15 credit-card intents (a bank's own drivers: balance, order checks, pay bill, credit limit ...), and `any40`, 40
intents drawn at random from all ten domains. For each draw, five training utterances per intent are picked at random
from CLINC150's train split; the model is scored on every validation utterance of those intents, typed as written
and rewritten as a spoken customer turn (greetings, fillers, "like", thanks and sign-offs, lower case without
punctuation; many of these forms are not among the ones `strip_small_talk` knows).

    .venv/bin/python bench/bench_custom_intents.py [--draws 3] [--banking77] [--json FILE]

Baseline: `LogisticRegression()` (scikit-learn defaults) on the all-MiniLM-L6-v2 embedding of the raw text, the
shipped sentence encoder. `--banking77` also fits one bank30 draw with `base="banking77"` (Banking77's 10,003
training texts beside the tenant's) and reports its fit time and accuracy on the tenant's intents.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callscope.understanding import custom_intents  # noqa: E402
from callscope.understanding.intent_components import encode_sentences, torch_threads  # noqa: E402

CLINC = ROOT / "data" / "clinc150"
OPENINGS = ["", "hi, ", "hello, um, ", "yeah hi, so ", "right so ", "ok so listen, ", "sorry to bother you but ",
            "good morning, i've got a question, ", "hiya, ", "um yeah, basically "]  # fmt: skip
CLOSINGS = ["", " thanks", " please", ", cheers", " if you can", " thank you so much", "?", " ta", ", that's all"]


def spoken(text: str, rng: random.Random) -> str:
    """A typed request as a customer might say it on the phone."""
    words = text.rstrip("?.!").split()
    if len(words) > 4 and rng.random() < 0.4:
        words.insert(rng.randrange(2, len(words) - 1), rng.choice(["like", "um", "uh", "you know"]))
    return (rng.choice(OPENINGS) + " ".join(words) + rng.choice(CLOSINGS)).lower().replace(",", "")


def accuracy(predicted: list[str], truth: list[str]) -> float:
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--banking77", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch_threads(2)
    data = json.loads((CLINC / "data_full_train_val.json").read_text())
    domains = json.loads((CLINC / "domains.json").read_text())
    train: dict[str, list[str]] = {}
    val: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        train.setdefault(intent, []).append(text)
    for text, intent in data["val"]:
        val.setdefault(intent, []).append(text)
    rows = []
    for draw in range(args.draws):
        rng = random.Random(draw)
        sets = {"bank30": domains["banking"] + domains["credit_cards"], "any40": rng.sample(sorted(train), 40)}
        for name, chosen in sets.items():
            examples = [(t, i) for i in chosen for t in rng.sample(train[i], 5)]
            typed = [(t, i) for i in chosen for t in val[i]]
            turns = [(spoken(t, rng), i) for t, i in typed]
            started = time.perf_counter()
            model, report = custom_intents.fit(examples)
            fit_s = time.perf_counter() - started
            texts = [t for t, _ in examples]
            baseline = LogisticRegression().fit(encode_sentences(texts), [i for _, i in examples])
            row = {"set": name, "draw": draw, "intents": len(chosen), "fit_s": round(fit_s, 2),
                   "cv_accuracy": report.cv_accuracy}  # fmt: skip
            for kind, tests in (("typed", typed), ("spoken", turns)):
                truth = [i for _, i in tests]
                row[f"{kind}_baseline"] = accuracy(list(baseline.predict(encode_sentences([t for t, _ in tests]))),
                                                   truth)  # fmt: skip
                row[f"{kind}_custom"] = accuracy([p.label for p in model.predict([t for t, _ in tests])], truth)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print("| intent set | draws | baseline typed | custom typed | baseline spoken | custom spoken | CV | fit s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in ("bank30", "any40"):
        mine = [r for r in rows if r["set"] == name]
        mean = {k: np.mean([r[k] for r in mine]) for k in mine[0] if isinstance(mine[0][k], float)}
        print(f"| {name} | {len(mine)} | {mean['typed_baseline']:.3f} | **{mean['typed_custom']:.3f}** | "
              f"{mean['spoken_baseline']:.3f} | **{mean['spoken_custom']:.3f}** | {mean['cv_accuracy']:.3f} | "
              f"{mean['fit_s']:.1f} |")  # fmt: skip
    if args.banking77:
        rng = random.Random(0)
        chosen = domains["banking"] + domains["credit_cards"]
        examples = [(t, i) for i in chosen for t in rng.sample(train[i], 5)]
        started = time.perf_counter()
        model, report = custom_intents.fit(examples, base="banking77")
        fit_s = time.perf_counter() - started
        typed = [(t, i) for i in chosen for t in val[i]]
        predicted = [p.label for p in model.predict([t for t, _ in typed])]
        answer = {"fit_s": round(fit_s, 1), "labels": len(report.labels), "cv_accuracy": report.cv_accuracy,
                  "typed_accuracy_on_tenant_intents": accuracy(predicted, [i for _, i in typed]),
                  "answered_a_banking77_intent": float(np.mean([p not in chosen for p in predicted]))}  # fmt: skip
        rows.append({"set": "bank30+banking77", **answer})
        print("banking77 base:", json.dumps(answer))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
