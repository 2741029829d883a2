"""The cluster of compose.yaml on hosts of its own (network namespaces), under load and under faults.

1. Throughput with 1, 2 and 3 worker hosts: the same mixed load (text contacts and stereo calls posted through the
   load balancer) until every contact is done; the share of tasks each host ran. The hosts share this machine's
   cores, so more hosts is not a speedup here: what is shown is that work spreads and the total holds.
2. Each fault of `tests.cluster.faults` under a larger mixed load: accepted, lost, doubled, retried, seconds from
   the heal until the backlog drained.

Run as root: `make cluster-bench` (about 25 minutes on 2 cores); writes bench/out/cluster.json and prints tables
for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster.cluster import Cluster  # noqa: E402
from tests.cluster.faults import CALL, FAST_RECOVERY, FAULTS, TENANT, run_fault  # noqa: E402
from tests.cluster.load import Load, reckon  # noqa: E402


def task_counts(cluster: Cluster, hosts: list[str]) -> dict[str, int]:
    """Tasks each worker host finished so far (both pools), from its workers' logs."""
    return {name: sum(cluster.hosts[name].log(pool).count("succeeded in") for pool in ("worker", "transcribe"))
            for name in hosts}  # fmt: skip


def throughput(cluster: Cluster, hosts: list[str], *, texts: int, calls: int) -> dict[str, object]:
    before = task_counts(cluster, hosts)
    load = Load(cluster.url, cluster.key, texts=texts, calls=calls, call_audio=CALL, spread_s=0, clients=16)
    started = time.monotonic()
    load.start().wait()
    counted = reckon(load, database_url=cluster.database_url, objects=cluster.objects, tenant=TENANT,
                     drain_from=started, timeout_s=1200)  # fmt: skip
    after = task_counts(cluster, hosts)
    ran = {name: after[name] - before[name] for name in hosts}
    total = sum(ran.values()) or 1
    return {"worker_hosts": len(hosts), "texts": texts, "calls": calls, "seconds": counted.drain_s,
            "contacts_per_s": round(counted.done / counted.drain_s, 1), "lost": counted.lost,
            "share": {name: round(n / total, 2) for name, n in ran.items()}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000, help="text contacts per fault")
    parser.add_argument("--calls", type=int, default=10, help="stereo calls per fault")
    parser.add_argument("--spread", type=float, default=60, help="seconds over which each fault's load is posted")
    parser.add_argument("--throughput-texts", type=int, default=1000)
    parser.add_argument("--throughput-calls", type=int, default=6)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "cluster.json")
    args = parser.parse_args()
    results: dict[str, object] = {"settings_added_to_compose": FAST_RECOVERY}
    cluster = Cluster(worker_hosts=3, overrides=FAST_RECOVERY)
    try:
        started = time.monotonic()
        cluster.start()
        results["start_s"] = round(time.monotonic() - started, 1)
        print(f"cluster up in {results['start_s']} s: {cluster.url}", flush=True)
        runs = []
        if not args.skip_throughput:
            for name in ("worker-2", "worker-3"):  # one host first, then the others join
                for pool in ("worker", "transcribe"):
                    cluster.hosts[name].stop(pool)
            workers = ["worker-1"]
            for joining in (None, "worker-2", "worker-3"):
                if joining:
                    cluster.start_worker_host(joining)
                    workers.append(joining)
                run = throughput(cluster, workers, texts=args.throughput_texts, calls=args.throughput_calls)
                print(json.dumps(run), flush=True)
                runs.append(run)
        results["throughput"] = runs
        faults = []
        for fault in FAULTS:
            result = run_fault(cluster, fault, texts=args.texts, calls=args.calls, spread_s=args.spread,
                               clients=16, drain_timeout_s=900)  # fmt: skip
            print(json.dumps(result.as_dict()), flush=True)
            faults.append(result.as_dict())
        results["faults"] = faults
    finally:
        cluster.close()
        results["leftovers"] = cluster.leftovers()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    print(f"\nleft on the machine: {results['leftovers'] or 'nothing'}")
    print("\n| fault | accepted | lost | doubled | retried answers | steps re-run | drained after heal (s) |")
    print("|---|---|---|---|---|---|---|")
    for f in results.get("faults", []):  # type: ignore[union-attr]
        print(f"| {f['fault']} | {f['accepted']} | {f['lost']} | {f['doubled']} | {f['retried']} | {f['reruns']} | "
              f"{f['drain_s']} |")  # fmt: skip
    print("\n| worker hosts | contacts | seconds | contacts/s | share of tasks per host |")
    print("|---|---|---|---|---|")
    for r in results.get("throughput", []):  # type: ignore[union-attr]
        print(f"| {r['worker_hosts']} | {r['texts']} texts + {r['calls']} calls | {r['seconds']} | "
              f"{r['contacts_per_s']} | {r['share']} |")  # fmt: skip


if __name__ == "__main__":
    main()
