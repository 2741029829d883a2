"""Intent model figures: `callscope classify` throughput, validation accuracy and out-of-scope fallback.

Throughput is measured the way users run it: `callscope classify` in a subprocess reading N lines on
stdin, twice: banking queries only (validation texts, cycled: what a bank's contacts mostly are) and a
mix that is 71% off-topic (validation texts and CLINC150 out-of-scope texts, cycled: unsure texts also
go through the sentence encoder, so this is the slow case). Load time is measured with a
run of the first 200 validation texts (some of them unsure, so the sentence encoder loads there too, whatever the
model) and subtracted, so "texts/s once loaded" is (N - 200) / (wall(N) - wall(200)); runs
alternate and the best of ``--repeats`` is kept (the machine is shared). Accuracy and fallback
figures use the seed-13 validation split of train.csv and CLINC150 train/val (never a test split);
the shipped model was refit on all of train.csv, so point ``--accuracy-model-dir`` at the held-out
model (``models/intent/train.py --holdout-out DIR``) for meaningful accuracy.

    .venv/bin/python bench/bench_intent.py [--lines 20000] [--repeats 3] [--model-dir models/intent/model] \\
        [--accuracy-model-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "models" / "intent"))

from train import (  # noqa: E402
    DEFAULT_CLINC,
    DEFAULT_DATA,
    read_csv,
    read_out_of_scope,
    split_data,
)

from callscope.understanding.intent import OTHER_LABEL, load_intent_model  # noqa: E402


def classify_wall(lines: Sequence[str], model_dir: Path) -> tuple[float, list[dict]]:
    """Wall seconds of one `callscope classify` run on ``lines`` and its parsed output."""
    env = {**os.environ, "CALLSCOPE_INTENT_MODEL_DIR": str(model_dir), "HF_HUB_OFFLINE": "1"}
    payload = "".join(line.replace("\n", " ") + "\n" for line in lines)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cli", "classify"],
        input=payload,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    wall = time.perf_counter() - started
    return wall, [json.loads(line) for line in done.stdout.splitlines()]


def throughput(lines: Sequence[str], model_dir: Path, repeats: int, load_lines: Sequence[str]) -> dict:
    """Best-of-N load time and texts/s once loaded for `callscope classify`.

    The load run classifies ``load_lines``, banking texts some of which the blend is unsure of, so it loads the
    sentence encoder too (lazily loaded on the first unsure text; a one-line run of an off-topic text loads it for
    one model and not for another that is sure the text is `other`).
    """
    loads, fulls = [], []
    for _ in range(repeats):
        loads.append(classify_wall(load_lines, model_dir)[0])
        wall, output = classify_wall(lines, model_dir)
        if len(output) != len(lines):
            raise RuntimeError(f"classify answered {len(output)} lines for {len(lines)}")
        fulls.append(wall)
    load, full = min(loads), min(fulls)
    return {
        "lines": len(lines),
        "load_s": round(load, 2),
        "total_s": round(full, 2),
        "texts_per_second_loaded": round((len(lines) - len(load_lines)) / max(full - load, 1e-9)),
        "texts_per_second_overall": round(len(lines) / full),
        "other_share": round(sum(row["intent"] == OTHER_LABEL for row in output) / len(output), 4),
    }


def accuracy(model_dir: Path, texts: Sequence[str], labels: Sequence[str], oos: Sequence[str]) -> dict:
    """Closed-set and with-fallback validation accuracy, and the out-of-scope share answered ``other``."""
    model = load_intent_model(model_dir)
    closed = model.predict(texts, fallback=False)
    answered = model.predict(texts)
    rejected = model.predict(oos)

    def share(hits: Sequence[bool]) -> float:
        return round(sum(hits) / len(hits), 4)

    return {
        "validation_accuracy": share([p.label == g for p, g in zip(closed, labels, strict=True)]),
        "validation_accuracy_with_fallback": share([p.label == g for p, g in zip(answered, labels, strict=True)]),
        "validation_other_rate": share([p.label == OTHER_LABEL for p in answered]),
        "clinc_oos_and_other_domains_val_rejected": share([p.label == OTHER_LABEL for p in rejected]),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run both measurements and print them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models" / "intent" / "model")
    parser.add_argument("--accuracy-model-dir", type=Path, help="model for the accuracy figures (default: --model-dir)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--clinc", type=Path, default=DEFAULT_CLINC)
    args = parser.parse_args(argv)
    texts, labels = read_csv(args.data)
    split = split_data(texts, labels)
    oos = read_out_of_scope(args.clinc)
    oos_eval = oos.eval_oos + oos.eval_domains
    pool = split.dev_texts + oos_eval
    lines = [pool[i % len(pool)] for i in range(args.lines)]
    banking = [split.dev_texts[i % len(split.dev_texts)] for i in range(args.lines)]
    load_lines = split.dev_texts[:200]
    results = {
        "model_dir": str(args.model_dir),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "classify_banking_queries": throughput(banking, args.model_dir.resolve(), args.repeats, load_lines),
        "classify_71pct_off_topic": throughput(lines, args.model_dir.resolve(), args.repeats, load_lines),
        "accuracy_model_dir": str(args.accuracy_model_dir or args.model_dir),
        **accuracy((args.accuracy_model_dir or args.model_dir).resolve(), split.dev_texts, split.dev_labels, oos_eval),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
