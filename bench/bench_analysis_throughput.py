"""Text contacts analyzed per second by one worker process, this tree against another (`--before TREE`, e.g. a
`git worktree` of an earlier commit), alternating in one command, each run a fresh process and database.

Each run stores the same contacts in a fresh PostgreSQL database: the shapes of the chats and SMS threads of
`bench/data/after_contact.json` (who speaks when), every turn's words a distinct Banking77 training query
(`data/banking77/train.csv`), so no text repeats and nothing is answered from a memo of an earlier contact. It then
analyzes them the way the worker's `callscope.analyze_many` does (batches of 50, a session per contact, the batch
prepared in one pass where the tree has that), after a warm-up batch of other contacts (every model loaded:
the sentence encoder loads only when a contact first needs it). The figure is contacts per
second of that loop; the ratio between trees is what matters.

    .venv/bin/python bench/bench_analysis_throughput.py --before /tmp/before [--contacts 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATA = ROOT / "bench" / "data" / "after_contact.json"
QUERIES = ROOT / "data" / "banking77" / "train.csv"
BATCH = 50


def run_one(contacts: int) -> dict[str, float]:
    """In a child process whose `sys.path` starts at the tree measured."""
    import sqlalchemy as sa

    from callscope.contacts import ChatMessage, ContactMeta, Turn  # noqa: F401
    from callscope.settings import get_settings
    from callscope.storage.db import get_sessionmaker, migrate

    url = os.environ["CALLSCOPE_DATABASE_URL"]
    migrate(url)
    # which tree this is, by its folders: importing a module only this checkout has would find it here (editable)
    if Path(sys.path[0], "callscope", "interactions").is_dir():  # the one path
        from callscope.interactions import intake, jobs
        from callscope.interactions.analyze import Batch

        create, batch_of = intake.create_interaction, (lambda: {"batch": Batch.from_settings(get_settings())})
    else:  # before it (commit 33c270d and earlier)
        from callscope.pipeline.analysis import Resources  # type: ignore[import-not-found]

        from callscope.pipeline import jobs  # type: ignore[no-redef]
        from callscope.storage.store import create_interaction  # type: ignore[attr-defined]

        create, batch_of = create_interaction, (lambda: {"resources": Resources.from_settings(get_settings())})
    import csv

    shapes = [c for c in json.loads(DATA.read_text())["contacts"] if c["channel"] != "voice"]
    with QUERIES.open(newline="") as file:
        words = iter([row["text"] for row in csv.DictReader(file)])
    made = get_sessionmaker(url)
    ids = []
    with made() as session:
        for n in range(contacts + BATCH):
            contact = shapes[n % len(shapes)]
            turns = [Turn(speaker=t["speaker"], text=next(words)) for t in contact["turns"]]
            row, _ = create(session, tenant="bench", channel=contact["channel"], meta=ContactMeta(), turns=turns)
            ids.append(row.id)

    def analyze(batch_ids: list[str]) -> None:
        kwargs = batch_of()
        if "batch" in kwargs:  # as `callscope.analyze_many` does
            with made() as session:
                kwargs["batch"].prepare(session, batch_ids)
        for interaction_id in batch_ids:
            with made() as session:
                assert jobs.analyze_step(session, interaction_id, **kwargs).status == "done"

    analyze(ids[:BATCH])  # warm-up: every model loads (the sentence encoder only when a contact needs it)
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(BATCH, len(ids), BATCH):
        analyze(ids[first : first + BATCH])
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    sa.create_engine(url).dispose()
    return {"contacts": contacts, "wall_s": round(wall, 2), "cpu_s": round(used, 2), "per_s": round(contacts / wall, 2)}


def run_tree(tree: Path, contacts: int, n: int) -> dict[str, float]:
    import sqlalchemy as sa

    name = f"callscope_throughput_{os.getpid()}_{n}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    env = {**os.environ, "CALLSCOPE_DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + f"/{name}",
           "CALLSCOPE_CUSTOMER_HASH_KEY": "bench-only-customer-hash-key-0123456789abcdef",
           "CALLSCOPE_DATA_DIR": f"/tmp/{name}", "PYTHONPATH": str(tree)}  # fmt: skip
    code = f"import sys, json, runpy; sys.path.insert(0, {str(tree)!r}); " \
           f"m = runpy.run_path({__file__!r}); print(json.dumps(m['run_one']({contacts})))"  # fmt: skip
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tree, capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    except subprocess.CalledProcessError as exc:
        raise SystemExit(exc.stderr[-3000:]) from exc
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="the tree to compare with (a git worktree)")
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for n in range(args.repeats):
        for label, tree in (("before", args.before.resolve()), ("after", ROOT)):
            result = run_tree(tree, args.contacts, n)
            runs[label].append(result)
            print(label, result, flush=True)
    median = {k: statistics.median(r["per_s"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["cpu_s"] / r["contacts"] for r in v) for k, v in runs.items()}
    print(json.dumps({"contacts_per_s": median, "cpu_s_per_contact": cpu,
                      "ratio": round(median["after"] / median["before"], 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
