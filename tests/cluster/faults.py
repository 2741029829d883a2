"""The faults the cluster must survive, each applied while a mixed load runs, and what each one costs.

`run_fault` posts a load through the load balancer, applies one fault once transcriptions are in flight, heals it,
and counts (`tests.cluster.load.reckon`): accepted, lost, doubled, and the seconds from the heal until every
accepted contact is final. The cluster test (`make cluster-test`, in CI) and `bench/bench_cluster.py` (larger loads,
figures for bench/RESULTS.md) run the same faults.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.cluster.cluster import Cluster, wait_for
from tests.cluster.load import Load, Reckoning, reckon

ROOT = Path(__file__).resolve().parents[2]
CALL = ROOT / "samples" / "call_dual_channel.wav"
TENANT = "cluster"
# Settings the test adds to compose's, so that a recovery fits a test: the sweeper looks every 5 s (compose: 30 s);
# a worker silent for 20 s is presumed gone (compose: 90 s), so the 30 s cut-off makes its call be redone elsewhere
# while it still holds it; a contact queued 30 s is queued again (compose: 120 s), which finds a task a dead worker
# had reserved but not started. Everything else is compose's.
FAST_RECOVERY = {"CALLSCOPE_SWEEP_INTERVAL_S": "5", "CALLSCOPE_STALE_PROCESSING_S": "20",
                 "CALLSCOPE_STALE_QUEUED_S": "30"}  # fmt: skip


@dataclass
class FaultResult:
    fault: str
    how: str
    reckoning: Reckoning
    answers: dict[int, int]
    errors: dict[str, int]
    fault_s: float

    def as_dict(self) -> dict[str, object]:
        return {"fault": self.fault, "how": self.how, "fault_s": round(self.fault_s, 1),
                "answers": self.answers, "errors": self.errors, **self.reckoning.as_dict()}  # fmt: skip


def transcribing_host(cluster: Cluster, timeout: float = 120) -> str:
    """A worker host transcribing a call now: its transcribe pool received more calls than it finished (its log)
    and is using the CPU (half a second of CPU time in the last second)."""
    found: list[str] = []

    def busy() -> bool:
        candidates = []
        for name, host in cluster.hosts.items():
            if name.startswith("worker-"):
                log = host.log("transcribe")
                received = log.count("] received")
                if received > log.count("succeeded in") + log.count("] retry") + log.count("] raised"):
                    candidates.append((name, host.cpu_seconds("transcribe")))
        time.sleep(1.0)
        working = [name for name, before in candidates if cluster.hosts[name].cpu_seconds("transcribe") - before >= 0.5]
        found[:] = working[:1]
        return bool(working)

    wait_for("a transcription in flight", busy, timeout=timeout)
    return found[0]


def kill_worker_host(cluster: Cluster) -> tuple[str, Callable[[], None]]:
    name = transcribing_host(cluster)
    killed = cluster.hosts[name].kill_all()
    how = f"SIGKILL to all {killed} processes of {name} while it transcribed"
    return how, lambda: cluster.start_worker_host(name, beat=name == "worker-1")  # the host is back afterwards


def partition_worker_host(cluster: Cluster, seconds: float = 30) -> tuple[str, Callable[[], None]]:
    name = transcribing_host(cluster)
    cluster.hosts[name].cut()
    time.sleep(seconds)
    cluster.hosts[name].heal()
    return f"{name} cut off the network for {seconds:.0f} s while it transcribed, then healed", lambda: None


def degrade_database_link(cluster: Cluster, seconds: float = 20) -> tuple[str, Callable[[], None]]:
    host = cluster.hosts["postgres"]
    how = host.degrade(delay_ms=100, loss_pct=5)
    time.sleep(seconds)
    host.restore_link()
    return f"the database host's link for {seconds:.0f} s: {how}", lambda: None


def kill_broker_primary(cluster: Cluster) -> tuple[str, Callable[[], None]]:
    name = cluster.broker_primary()
    cluster.hosts[name].kill_all()
    started = time.monotonic()
    wait_for("Sentinel's promotion", lambda: cluster.broker_primary() != name, timeout=60)
    how = f"SIGKILL to the broker's primary host ({name}); Sentinel promoted the replica in " \
          f"{time.monotonic() - started:.1f} s"  # fmt: skip
    return how, lambda: cluster.start_service(name, name)  # back, as a replica of the new primary


def restart_postgres(cluster: Cluster) -> tuple[str, Callable[[], None]]:
    started = time.monotonic()
    cluster.restart_postgres()
    return f"PostgreSQL restarted (down {time.monotonic() - started:.1f} s)", lambda: None


def kill_api_host(cluster: Cluster) -> tuple[str, Callable[[], None]]:
    cluster.hosts["api-1"].kill_all()

    def back() -> None:
        cluster.start_service("api-1", "api-1")
        cluster.wait_api("api-1")

    return "SIGKILL to all processes of api-1 (HAProxy sends around it)", back


FAULTS: dict[str, Callable[[Cluster], tuple[str, Callable[[], None]]]] = {
    "worker host killed": kill_worker_host,
    "worker host cut off 30 s": partition_worker_host,
    "database link degraded": degrade_database_link,
    "broker primary's host killed": kill_broker_primary,
    "PostgreSQL restarted": restart_postgres,
    "API host killed": kill_api_host,
}


def run_fault(cluster: Cluster, fault: str, *, texts: int, calls: int, spread_s: float, clients: int = 8,
              drain_timeout_s: float = 300) -> FaultResult:  # fmt: skip
    load = Load(cluster.url, cluster.key, texts=texts, calls=calls, call_audio=CALL, spread_s=spread_s,
                clients=clients).start()  # fmt: skip
    wait_for("a third of the load posted", lambda: sum(p.accepted for p in load.posts) >= len(load.posts) / 3,
             timeout=120)  # fmt: skip
    started = time.monotonic()
    how, afterwards = FAULTS[fault](cluster)
    healed = time.monotonic()
    load.wait()
    reckoning = reckon(load, database_url=cluster.database_url, objects=cluster.objects, tenant=TENANT,
                       drain_from=healed, timeout_s=drain_timeout_s)  # fmt: skip
    afterwards()
    return FaultResult(fault, how, reckoning, dict(load.answers()), dict(load.errors()), healed - started)
