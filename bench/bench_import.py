"""Bulk import: rate and peak memory of `callscope import` for a small and a large JSONL file, same run.

Memory must not grow with the file (a million contacts must need no more than ten thousand):
the figure that matters is the ratio of peak RSS between the two sizes.

    .venv/bin/python bench/bench_import.py [--small 10000] [--large 100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "my card has not arrived yet", "I was charged twice for the same coffee", "how do I change my PIN",
    "I lost my card on the train", "my transfer to my landlord has not arrived", "why was my card declined",
    "can I get a refund for this purchase", "what is the exchange rate for dollars", "my top up failed again",
]  # fmt: skip


def write_jsonl(path: Path, n: int) -> None:
    rng = random.Random(7)
    with path.open("w") as out:
        for i in range(n):
            body = {"channel": rng.choice(["sms", "chat"]), "external_id": f"hist-{i}",
                    "messages": [{"role": "customer", "text": rng.choice(TEXTS)}]}  # fmt: skip
            if body["channel"] == "sms":
                body["messages"] = [{"direction": "inbound", "text": body["messages"][0]["text"]}]
            body["outcome"] = {"handle_time_s": round(rng.lognormvariate(5, 0.8), 1)}
            out.write(json.dumps(body) + "\n")


def run(path: Path, env: dict[str, str]) -> dict[str, float]:
    """One import in a child process; its wall time and its own peak RSS."""
    code = (
        "import resource, sys, runpy; sys.argv = ['callscope', 'import', sys.argv[1], '--tenant', 'bench'];"
        "from cli.main import app\ntry:\n    app()\nexcept SystemExit: pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    imported = json.loads(done.stdout)["imported"]
    return {"contacts": imported, "wall_s": round(wall, 1), "per_s": round(imported / wall, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CALLSCOPE_DATA_DIR": tmp, "CALLSCOPE_DATABASE_URL": args.database_url}
        results = {}
        for name, n in (("small", args.small), ("large", args.large)):
            path = Path(tmp) / f"{name}.jsonl"
            write_jsonl(path, n)
            results[name] = run(path, env)
        results["peak_rss_ratio_large_over_small"] = round(
            results["large"]["peak_rss_mb"] / results["small"]["peak_rss_mb"], 3
        )
        results["database"] = args.database_url.split("@")[-1] if args.database_url else "sqlite (embedded default)"
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
