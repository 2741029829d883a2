"""Rebuild models/roles/model.json: how much a turn of a call sounds like the agent.

Usage (from the repository root; `make models` runs it)::

    .venv/bin/python models/roles/train.py [--out models/roles/model.json] [--seed 7]

Customer side: Banking77 and CLINC150 (banking, credit cards) train-split requests from the vendored `data/`, plus
generated customer call turns (`language.CUSTOMER`); agent side: generated agent turns (`language.AGENT`) and
customer requests as an agent restates them (`language.mirror`: "So you lost your card, is that right?"). A
logistic regression on present/absent words and word pairs (`callscope.voice.roles.features`, the same function
as at run time); the weights are written as JSON, so nothing but Python reads them in the service. A 10% held-out
split of the generated and vendored turns is scored; the call-level figures are `bench/bench_roles.py`'s.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

ROLES_DIR = Path(__file__).resolve().parent
REPO_ROOT = ROLES_DIR.parent.parent
sys.path[:0] = [str(REPO_ROOT), str(ROLES_DIR)]

from language import AGENT, CUSTOMER, generate, mirrored  # noqa: E402
from sklearn.feature_extraction.text import CountVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from callscope.voice.roles import features  # noqa: E402

DATA = REPO_ROOT / "data"
CLINC_DOMAINS = ("banking", "credit_cards")
N_AGENT, N_AGENT_MIRRORED, N_CUSTOMER_GENERATED = 10_000, 8_000, 6_000
C = 0.3


def customer_requests() -> list[str]:
    with (DATA / "banking77" / "train.csv").open(newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    clinc = json.loads((DATA / "clinc150" / "data_full_train_val.json").read_text())
    domains = json.loads((DATA / "clinc150" / "domains.json").read_text())
    wanted = {intent for d in CLINC_DOMAINS for intent in domains[d]}
    return texts + [text for text, intent in clinc["train"] if intent in wanted]


def dataset(seed: int) -> tuple[list[str], list[int]]:
    requests = customer_requests()
    customer = requests + generate(CUSTOMER, N_CUSTOMER_GENERATED, seed=seed)
    agent = generate(AGENT, N_AGENT, seed=seed + 1) + mirrored(requests, N_AGENT_MIRRORED, seed=seed + 2)
    texts, labels = agent + customer, [1] * len(agent) + [0] * len(customer)
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order]


def fit(texts: list[str], labels: list[int]) -> tuple[CountVectorizer, LogisticRegression]:
    vectorizer = CountVectorizer(analyzer=features, binary=True, min_df=2)
    model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
    model.fit(vectorizer.fit_transform(texts), labels)
    return vectorizer, model


def export(vectorizer: CountVectorizer, model: LogisticRegression) -> dict[str, object]:
    weights = {term: round(float(w), 4) for term, w in zip(vectorizer.get_feature_names_out(), model.coef_[0],
                                                             strict=True) if abs(w) >= 1e-3}  # fmt: skip
    return {"bias": round(float(model.intercept_[0]), 4), "weights": dict(sorted(weights.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROLES_DIR / "model.json")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    texts, labels = dataset(args.seed)
    train_x, test_x, train_y, test_y = train_test_split(texts, labels, test_size=0.1, random_state=args.seed,
                                                        stratify=labels)  # fmt: skip
    vectorizer, model = fit(train_x, train_y)
    held_out = float(model.score(vectorizer.transform(test_x), test_y))
    vectorizer, model = fit(texts, labels)
    out = export(vectorizer, model)
    out["trained_on"] = {"agent_turns": sum(labels), "customer_turns": len(labels) - sum(labels),
                         "held_out_turn_accuracy": round(held_out, 4), "seed": args.seed, "C": C}  # fmt: skip
    args.out.write_text(json.dumps(out, indent=0, ensure_ascii=False) + "\n")
    print(json.dumps(out["trained_on"]), file=sys.stderr)


if __name__ == "__main__":
    main()
