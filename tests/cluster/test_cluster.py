"""The production shape on hosts of its own (network namespaces, as root), and the faults it must survive.

`make cluster-test`; `make test` runs it too. Each fault runs under a mixed load posted through the load balancer:
every accepted contact ends done exactly once, every post gets an answer (or a retryable 503 that its retry turns
into one), and nothing of the cluster is left on the machine afterwards. bench/bench_cluster.py runs the same faults
with larger loads for bench/RESULTS.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.cluster import Cluster
from tests.cluster.faults import FAST_RECOVERY, FAULTS, run_fault
from tests.cluster.hosts import Network

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "cluster"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    built = Cluster(worker_hosts=3, overrides=FAST_RECOVERY)
    try:
        built.start()
        yield built
    finally:
        built.close()
        assert built.leftovers() == [], "the cluster left something behind"
        assert not built.folder.exists() or os.environ.get("CALLSCOPE_CLUSTER_KEEP") == "1", "its files too"


def test_compose_services_run_on_their_own_hosts_and_reach_each_other_by_name(cluster: Cluster) -> None:
    assert cluster.broker_primary() == "redis"
    replica = cluster.broker().info("replication")
    assert replica["role"] == "master" and replica["connected_slaves"] == 1
    api = cluster.hosts["api-1"]
    # the API host reaches the database by compose's name, through its own /etc/hosts, never 127.0.0.1
    resolved = api.run(["getent", "hosts", "postgres"]).stdout.split()[0]
    assert resolved == cluster.hosts["postgres"].address
    assert "127.0.0.1" not in cluster.env_of("api-1")["CALLSCOPE_DATABASE_URL"]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_under_load_loses_and_doubles_nothing(cluster: Cluster, fault: str) -> None:
    result = run_fault(cluster, fault, texts=120, calls=3, spread_s=15)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{fault.replace(' ', '-').replace(chr(39), '')}.json").write_text(json.dumps(result.as_dict()))
    counted = result.reckoning
    assert counted.refused == 0, result.as_dict()  # every post got its 202 in the end
    assert counted.accepted == 123 and counted.lost == 0 and counted.doubled == 0, result.as_dict()
    assert counted.done == counted.accepted, result.as_dict()
    assert counted.recordings == 3 * (1 + 0), result.as_dict()  # one stored recording per call
    assert set(result.answers) <= {0, 200, 202, 502, 503, 504}, result.answers
    # steps re-run (a worker fault's call transcribed again elsewhere) are reported, not asserted: a 4-second call can
    # finish in the second between finding the busy host and the fault


def test_a_failed_run_leaves_no_namespace_link_or_process(tmp_path: Path) -> None:
    network = Network(tmp_path, run=os.getpid() + 1)  # a run of its own beside the cluster of this module
    try:
        host = network.add("lonely")
        host.spawn("sleeper", ["sleep", "300"], env={"PATH": "/usr/bin:/bin"})
        raise RuntimeError("the test failed here")
    except RuntimeError:
        pass
    finally:
        network.close()
    assert network.leftovers() == []
