"""The intent model's trade-off curve: in-scope accuracy against out-of-scope rejection, per `other` threshold.

For each model folder given (held-out models: `models/intent/train.py --holdout-out DIR`, so the Banking77
validation split was never trained on; several folders are measured in one run, e.g. before and after), each
threshold from 0.10 to 0.90 is applied to the same probabilities, and the table gives:
- typed: Banking77 validation accuracy with the fallback on (an `other` answer counts as wrong), and the share
  answered `other`;
- natural: the same texts rewritten as customer turns (`models/intent/natural.py`, the evaluation seed);
- CLINC150 validation out-of-scope queries (`oos_val`) answered `other`, typed and as customer turns; its
  non-banking domains' queries; and its bank queries that no Banking77 intent answers.
The row marked `*` is the model's own threshold. A tenant picks its point with PUT /v1/settings/intent-thresholds.

    .venv/bin/python bench/bench_oos_curve.py DIR [DIR ...] [--json bench/out/oos_curve.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "models" / "intent"))

from train import (  # noqa: E402
    DEFAULT_CLINC,
    DEFAULT_DATA,
    NATURAL_EVAL_SEED,
    read_csv,
    read_out_of_scope,
    split_data,
    spoken_forms,
)

from callscope.understanding.intent import Fallback, load_intent_model  # noqa: E402

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.10, 0.91, 0.05))


def answers(probs: np.ndarray, labels: Sequence[str], threshold: float, ambiguity: float) -> list[str | None]:
    """Top label per row, None where the fallback at ``threshold`` answers `other`."""
    order = np.argsort(-probs, axis=1)
    rows = np.arange(len(probs))
    top, second = probs[rows, order[:, 0]], probs[rows, order[:, 1]]
    rejected = Fallback(threshold=threshold, ambiguity=ambiguity).rejects(top, second)
    return [None if r else labels[i] for r, i in zip(rejected, order[:, 0], strict=True)]


def curve(model_dir: Path, sets: dict[str, list[str]], gold: list[str]) -> dict:
    """The model's figures at each threshold (its own ambiguity gap kept)."""
    model = load_intent_model(model_dir)
    probs = {name: model.probabilities(texts) for name, texts in sets.items()}
    labels = model.labels
    rows = []
    for threshold in sorted({*THRESHOLDS, model.fallback.threshold}):

        def said(name: str, threshold: float = threshold) -> list[str | None]:
            return answers(probs[name], labels, threshold, model.fallback.ambiguity)

        def accuracy(name: str) -> float:
            return round(float(np.mean([a == g for a, g in zip(said(name), gold, strict=True)])), 4)

        def rejected(name: str) -> float:
            return round(float(np.mean([a is None for a in said(name)])), 4)

        rows.append({
            "threshold": threshold,
            "own": bool(threshold == model.fallback.threshold),
            "typed_accuracy": accuracy("typed"),
            "typed_other": rejected("typed"),
            "natural_accuracy": accuracy("natural"),
            "clinc_oos_val_rejected": rejected("oos"),
            "clinc_oos_val_natural_rejected": rejected("oos_natural"),
            "clinc_other_domains_val_rejected": rejected("domains"),
            "clinc_bank_no_counterpart_val_rejected": rejected("bank_no_counterpart"),
        })  # fmt: skip
    closed = [labels[i] for i in probs["typed"].argmax(axis=1)]
    return {
        "model_dir": str(model_dir),
        "closed_set_typed_accuracy": round(float(np.mean([c == g for c, g in zip(closed, gold, strict=True)])), 4),
        "own_threshold": model.fallback.threshold,
        "ambiguity": model.fallback.ambiguity,
        "rows": rows,
    }


def table(result: dict) -> str:
    """The curve as a Markdown table."""
    lines = [
        f"{result['model_dir']} (closed-set typed accuracy {result['closed_set_typed_accuracy']})",
        "| threshold | typed acc. | typed `other` | natural acc. | CLINC oos val | oos as turns | other domains |"
        " bank, no counterpart |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in result["rows"]:
        mark = " *" if row["own"] else ""
        lines.append(
            f"| {row['threshold']:.2f}{mark} | {row['typed_accuracy']:.3f} | {row['typed_other']:.3f} |"
            f" {row['natural_accuracy']:.3f} | {row['clinc_oos_val_rejected']:.3f} |"
            f" {row['clinc_oos_val_natural_rejected']:.3f} | {row['clinc_other_domains_val_rejected']:.3f} |"
            f" {row['clinc_bank_no_counterpart_val_rejected']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dirs", type=Path, nargs="+")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    texts, labels = read_csv(DEFAULT_DATA)
    split = split_data(texts, labels)
    oos = read_out_of_scope(DEFAULT_CLINC)
    sets = {
        "typed": split.dev_texts,
        "natural": spoken_forms(split.dev_texts, NATURAL_EVAL_SEED),
        "oos": oos.eval_oos,
        "oos_natural": spoken_forms(oos.eval_oos, NATURAL_EVAL_SEED),
        "domains": oos.eval_domains,
        "bank_no_counterpart": oos.eval_bank_no_counterpart,
    }
    results = [curve(folder.resolve(), sets, split.dev_labels) for folder in args.model_dirs]
    for result in results:
        print(table(result), end="\n\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
