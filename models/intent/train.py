"""Rebuild the Callscope intent model from Banking77 (``make models``).

Usage::

    .venv/bin/python models/intent/train.py [--data ../shared/data/banking77/train.csv] \
        [--out models/intent/model]

Steps: read the CSV, normalize text with ``callscope.intent.normalize_text`` (the same function used
at inference), make a deterministic stratified 90/10 train/validation split, write spaCy DocBin
files to ``models/intent/corpus/``, train with ``models/intent/config.cfg``, install the best
checkpoint to ``--out`` and write validation figures to ``models/intent/metrics.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

INTENT_DIR = Path(__file__).resolve().parent
REPO_ROOT = INTENT_DIR.parent.parent
if str(REPO_ROOT) not in sys.path:  # so the script runs without installing the package
    sys.path.insert(0, str(REPO_ROOT))

import spacy  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from spacy.cli.train import train as spacy_train  # noqa: E402
from spacy.tokens import DocBin  # noqa: E402
from thinc.api import Config  # noqa: E402

from callscope.intent import IntentModel, normalize_text  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "banking77" / "train.csv"
DEFAULT_OUT = INTENT_DIR / "model"
CONFIG_PATH = INTENT_DIR / "config.cfg"
CORPUS_DIR = INTENT_DIR / "corpus"
SCRATCH_DIR = INTENT_DIR / "training"
METRICS_PATH = INTENT_DIR / "metrics.json"
SEED = 13
VALIDATION_FRACTION = 0.1
N_WORST = 10


@dataclass(frozen=True)
class Split:
    """Raw (un-normalized) texts and labels of the train and validation parts."""

    train_texts: list[str]
    train_labels: list[str]
    dev_texts: list[str]
    dev_labels: list[str]


def read_csv(path: Path) -> tuple[list[str], list[str]]:
    """Read ``text,category`` rows; csv handles quoted texts that span lines."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["category"] for row in rows]


def split_data(texts: list[str], labels: list[str], seed: int = SEED) -> Split:
    """Deterministic stratified split so every intent keeps its share in validation."""
    train_x, dev_x, train_y, dev_y = train_test_split(
        texts, labels, test_size=VALIDATION_FRACTION, stratify=labels, random_state=seed
    )
    return Split(list(train_x), list(train_y), list(dev_x), list(dev_y))


def write_docbin(texts: Sequence[str], labels: Sequence[str], all_labels: Sequence[str], path: Path) -> None:
    """Store normalized texts with one-hot ``cats`` (exclusive classes) as a spaCy DocBin."""
    nlp = spacy.blank("en")
    doc_bin = DocBin()
    for text, gold in zip(texts, labels, strict=True):
        doc = nlp.make_doc(normalize_text(text))
        doc.cats = {label: float(label == gold) for label in all_labels}
        doc_bin.add(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc_bin.to_disk(path)


def train_pipeline(config_path: Path, train_path: Path, dev_path: Path, scratch_dir: Path) -> Path:
    """Train with spaCy's own loop and return the best checkpoint folder."""
    if scratch_dir.exists():
        shutil.rmtree(scratch_dir)
    overrides = {"paths.train": str(train_path), "paths.dev": str(dev_path)}
    spacy_train(config_path, scratch_dir, overrides=overrides)
    return scratch_dir / "model-best"


def install_model(best_dir: Path, out_dir: Path) -> None:
    """Copy the best checkpoint to the committed location, replacing any previous model."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(best_dir, out_dir)
    # The saved config records this machine's corpus paths; blank them so the committed model is portable.
    config_path = out_dir / "config.cfg"
    config = Config().from_disk(config_path, interpolate=False)
    config["paths"]["train"] = None
    config["paths"]["dev"] = None
    config.to_disk(config_path)


def folder_size_bytes(path: Path) -> int:
    """Bytes of all files below ``path`` (what a commit / container image pays for)."""
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def measure_speed(model: IntentModel, texts: Sequence[str], repeats: int = 5) -> float:
    """Best-of-N texts/s of ``IntentModel.predict`` (best-of damps noise from a shared machine)."""
    model.predict(texts[:64])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(texts)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def evaluate(model: IntentModel, texts: list[str], labels: list[str]) -> dict:
    """Accuracy, macro-F1, the worst labels by F1 and prediction speed on the validation split."""
    predicted = [prediction.label for prediction in model.predict(texts)]
    names = sorted(set(labels))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=names, zero_division=0)
    per_label = [
        {
            "label": name,
            "f1": round(float(f), 4),
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "support": int(s),
        }
        for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
    ]
    worst = sorted(per_label, key=lambda row: (row["f1"], row["label"]))[:N_WORST]
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 4),
        "macro_f1": round(float(f1_score(labels, predicted, average="macro", zero_division=0)), 4),
        "worst_labels": worst,
        "texts_per_second": round(measure_speed(model, texts)),
    }


def build(data_path: Path, out_dir: Path, config_path: Path = CONFIG_PATH) -> dict:
    """Run the whole rebuild and return the metrics that were written to ``metrics.json``."""
    texts, labels = read_csv(data_path)
    all_labels = sorted(set(labels))
    split = split_data(texts, labels)
    train_path, dev_path = CORPUS_DIR / "train.spacy", CORPUS_DIR / "dev.spacy"
    write_docbin(split.train_texts, split.train_labels, all_labels, train_path)
    write_docbin(split.dev_texts, split.dev_labels, all_labels, dev_path)

    start = time.perf_counter()
    best_dir = train_pipeline(config_path, train_path, dev_path, SCRATCH_DIR)
    training_seconds = time.perf_counter() - start
    install_model(best_dir, out_dir)
    shutil.rmtree(SCRATCH_DIR)  # model-last etc. are not needed at run time

    model = IntentModel(spacy.load(out_dir))
    metrics = {
        "data": data_path.name,
        "n_labels": len(all_labels),
        "n_train": len(split.train_texts),
        "n_validation": len(split.dev_texts),
        "split": f"stratified {VALIDATION_FRACTION:.0%} holdout of train.csv, seed {SEED}",
        **evaluate(model, split.dev_texts, split.dev_labels),
        "training_seconds": round(training_seconds, 1),
        "model_size_mb": round(folder_size_bytes(out_dir) / 1e6, 2),
        "spacy_version": spacy.__version__,
    }
    METRICS_PATH.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options; defaults match the repository layout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Banking77 train.csv")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to install the model")
    parser.add_argument("--config", type=Path, default=CONFIG_PATH, help="spaCy training config")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: rebuild the model and print the headline figures."""
    args = parse_args(argv)
    if not args.data.is_file():
        raise SystemExit(f"training data not found: {args.data}")
    metrics = build(args.data.resolve(), args.out.resolve(), args.config.resolve())
    summary = {key: value for key, value in metrics.items() if key != "worst_labels"}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
