"""Theme discovery (issue 17) against k-means given the true number of groups.

Labelled sets held out from every choice the method made (its settings were chosen on CLINC150 train utterances):
CLINC150 validation utterances (vendored in data/clinc150, CC BY 3.0), in two shapes per draw: `balanced`, 20
intents drawn at random with 20 utterances each, and `uneven`, 30 intents with 5 to 20 utterances each (a real
period's unnamed contacts are uneven). Clustering accuracy: found groups assigned 1:1 to true intents (Hungarian), a
text left unassigned or in an unassigned group counts as wrong; NMI with unassigned texts as one group of their own.
Baseline: k-means (10 inits) on the same embeddings, given the true number of intents.

    .venv/bin/python bench/bench_themes.py [--draws 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callscope.understanding.custom_intents import embed_requests  # noqa: E402
from callscope.understanding.intent_components import torch_threads  # noqa: E402
from callscope.understanding.themes import find_themes  # noqa: E402

CLINC = ROOT / "data" / "clinc150"


def clustering_accuracy(found: list[int], truth: list[str]) -> float:
    """1:1 assignment of found groups (-1: unassigned, always wrong) to true labels, as in intent induction."""
    labels, groups = sorted(set(truth)), sorted({g for g in found if g >= 0})
    counts = np.zeros((len(groups), len(labels)))
    for g, t in zip(found, truth, strict=True):
        if g >= 0:
            counts[groups.index(g), labels.index(t)] += 1
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch_threads(2)
    val: dict[str, list[str]] = {}
    for text, intent in json.loads((CLINC / "data_full_train_val.json").read_text())["val"]:
        val.setdefault(intent, []).append(text)
    rows = []
    for draw in range(args.draws):
        rng = random.Random(1000 + draw)
        for shape, intents, sizes in (("balanced", 20, (20, 20)), ("uneven", 30, (5, 20))):
            chosen = rng.sample(sorted(val), intents)
            texts = [(t, i) for i in chosen for t in rng.sample(val[i], rng.randint(*sizes))]
            rng.shuffle(texts)
            truth = [i for _, i in texts]
            started = time.perf_counter()
            themes, unassigned = find_themes([t for t, _ in texts], min_size=5)
            seconds = time.perf_counter() - started
            found = [-1] * len(texts)
            for g, theme in enumerate(themes):
                for m in theme.members:
                    found[m] = g
            kmeans = KMeans(intents, n_init=10, random_state=0).fit_predict(embed_requests([t for t, _ in texts]))
            row = {"shape": shape, "draw": draw, "texts": len(texts), "intents": intents, "themes": len(themes),
                   "unassigned": len(unassigned), "seconds": round(seconds, 2),
                   "accuracy": clustering_accuracy(found, truth), "nmi": normalized_mutual_info_score(truth, found),
                   "kmeans_accuracy": clustering_accuracy(list(kmeans), truth),
                   "kmeans_nmi": normalized_mutual_info_score(truth, kmeans),
                   "names": [t.name for t in themes[:5]]}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print("| set | draws | texts | intents | themes found | unassigned | accuracy | NMI | k-means (true k) accuracy | "
          "k-means NMI | seconds |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for shape in ("balanced", "uneven"):
        mine = [r for r in rows if r["shape"] == shape]
        m = {k: np.mean([r[k] for r in mine]) for k in mine[0] if isinstance(mine[0][k], (int, float))}
        print(f"| {shape} | {len(mine)} | {m['texts']:.0f} | {m['intents']:.0f} | {m['themes']:.1f} | "
              f"{m['unassigned']:.1f} | **{m['accuracy']:.3f}** | **{m['nmi']:.3f}** | {m['kmeans_accuracy']:.3f} | "
              f"{m['kmeans_nmi']:.3f} | {m['seconds']:.1f} |")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
