"""Test hosts on one machine: Linux network namespaces on a bridge, each with its own address and /etc/hosts.

Every host is a namespace `cs-<run>-<name>` with one veth link to the bridge `csbr<run>`; names resolve through
`/etc/netns/<namespace>/hosts` (which `ip netns exec` mounts over /etc/hosts for what runs there), so services find
each other by the names compose.yaml gives them. `Network.close()` kills every process in every namespace, deletes
the namespaces, links and files, and runs on exit, on SIGTERM/SIGINT and on failure; `reap_stale()` removes what a
run killed outright (SIGKILL) left behind. Needs root and iproute2.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "cs-"
RUN_MARK = "CALLSCOPE_CLUSTER_RUN"
NETNS_ETC = Path("/etc/netns")


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def namespaces() -> list[str]:
    return [line.split()[0] for line in sh("ip", "netns", "list").stdout.splitlines() if line.strip()]


def pids_in(namespace: str) -> list[int]:
    found = sh("ip", "netns", "pids", namespace, check=False).stdout.split()
    return [int(pid) for pid in found if pid.isdigit()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_namespace(namespace: str) -> None:
    for _ in range(50):
        pids = pids_in(namespace)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    sh("ip", "netns", "delete", namespace, check=False)
    shutil.rmtree(NETNS_ETC / namespace, ignore_errors=True)


def reap_stale() -> list[str]:
    """Namespaces and bridges of runs whose process is gone (a run killed with SIGKILL cleans nothing up)."""
    reaped = []
    for namespace in namespaces():
        if namespace.startswith(PREFIX):
            run = namespace.split("-")[1]
            if run.isdigit() and not _alive(int(run)):
                _remove_namespace(namespace)
                reaped.append(namespace)
    for line in sh("ip", "-o", "link", "show", "type", "bridge").stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith("csbr") and name[4:].isdigit() and not _alive(int(name[4:])):
            sh("ip", "link", "delete", name, check=False)
            reaped.append(name)
    return reaped


def as_user(user: str | None) -> list[str]:
    """The prefix that runs a program as `user`: setpriv execs it in place (runuser would stay as its parent and turn
    a signal into SIGKILL)."""
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"] if user else []


@dataclass
class Host:
    """One machine of the cluster: a namespace, its address and the processes started in it."""

    name: str
    namespace: str
    address: str
    link: str  # the bridge's end of its veth pair: down = the host is cut off the network
    folder: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def spawn(self, label: str, argv: list[str], *, env: dict[str, str], cwd: Path | None = None,
              user: str | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
        """Start `argv` on this host (its own process group), logging to `<folder>/<label>.log`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**env, RUN_MARK: self.namespace.split("-")[1]}  # inherited by every child: leftovers() finds them
        log = (self.folder / f"{label}.log").open("ab")
        proc = subprocess.Popen(["ip", "netns", "exec", self.namespace, *as_user(user), *argv], env=env,
                                cwd=cwd or self.folder, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        log.close()
        self.processes[label] = proc
        return proc

    def run(self, argv: list[str], *, env: dict[str, str] | None = None, user: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run a command on this host and wait for it."""
        return subprocess.run(["ip", "netns", "exec", self.namespace, *as_user(user), *argv], env=env, cwd=self.folder,
                              capture_output=True, text=True, timeout=timeout, check=True)  # fmt: skip

    def log(self, label: str) -> str:
        path = self.folder / f"{label}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cpu_seconds(self, label: str) -> float:
        """CPU time used so far (user and system) by the processes of what was started as `label` (its group)."""
        group, total = self.processes[label].pid, 0
        for pid in pids_in(self.namespace):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == group:  # its process group
                    total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def kill_all(self) -> int:
        """SIGKILL every process of the host at once (a host that lost its power); how many there were."""
        pids = pids_in(self.namespace)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        return len(pids)

    def stop(self, label: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        proc = self.processes[label]
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def cut(self) -> None:
        """Off the network: the link goes down, packets in flight are lost, connections hang until it is back."""
        sh("ip", "link", "set", self.link, "down")

    def heal(self) -> None:
        sh("ip", "link", "set", self.link, "up")

    def degrade(self, *, delay_ms: int, loss_pct: float) -> str:
        """Latency and loss on the host's link both ways: `tc netem` where the kernel has it; otherwise packet loss
        from nftables (random drops) and a slow link from `tc tbf` (queueing delay). Returns what was applied."""
        netem = sh("ip", "netns", "exec", self.namespace, "tc", "qdisc", "add", "dev", "eth0", "root", "netem",
                   "delay", f"{delay_ms}ms", f"{delay_ms // 4}ms", "loss", f"{loss_pct}%", check=False)  # fmt: skip
        if netem.returncode == 0:
            return f"netem delay {delay_ms}±{delay_ms // 4} ms, loss {loss_pct}% (egress of the host)"
        probability = max(1, round(loss_pct))
        nft = ("ip", "netns", "exec", self.namespace, "nft")
        sh(*nft, "add", "table", "inet", "fault")
        for chain, hook in (("in", "input"), ("out", "output")):
            sh(*nft, "add", "chain", "inet", "fault", chain, f"{{ type filter hook {hook} priority 0; }}")
            sh(*nft, "add", "rule", "inet", "fault", chain, "numgen", "random", "mod", "100", "<", str(probability),
               "drop")  # fmt: skip
        sh("ip", "netns", "exec", self.namespace, "tc", "qdisc", "add", "dev", "eth0", "root", "tbf",
           "rate", "2mbit", "burst", "16kb", "latency", f"{delay_ms * 4}ms")  # fmt: skip
        return (f"no netem in this kernel: nftables drops {probability}% of packets each way, tbf caps the link at "
                f"2 Mbit/s with up to {delay_ms * 4} ms of queueing")

    def restore_link(self) -> None:
        sh("ip", "netns", "exec", self.namespace, "tc", "qdisc", "del", "dev", "eth0", "root", check=False)
        sh("ip", "netns", "exec", self.namespace, "nft", "delete", "table", "inet", "fault", check=False)


class Network:
    """A bridge and its hosts; the machine's own namespace is the bridge's `.1` (the tests' client)."""

    def __init__(self, folder: Path, *, run: int | None = None) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("the cluster's hosts are network namespaces: run the cluster tests as root")
        if shutil.which("ip") is None:
            raise RuntimeError("iproute2 is missing (`make system-packages` installs it)")
        reap_stale()
        self.run = run or os.getpid()
        self.folder = folder
        self.bridge = f"csbr{self.run}"
        taken = sh("ip", "-4", "-o", "addr").stdout + sh("ip", "-4", "route").stdout
        self.subnet = next(subnet for n in range(self.run, self.run + 500)
                           if (subnet := f"10.{200 + n % 50}.{(n // 50) % 250}") + "." not in taken)  # fmt: skip
        self.gateway = f"{self.subnet}.1"
        self.hosts: dict[str, Host] = {}
        self._closed = False
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        atexit.register(self.close)
        self._previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        for sig in self._previous:
            signal.signal(sig, self._on_signal)

    def _on_signal(self, sig: int, frame: object) -> None:
        self.close()
        previous = self._previous.get(sig)
        if callable(previous):
            previous(sig, frame)
        raise SystemExit(128 + sig)

    def add(self, name: str) -> Host:
        index = len(self.hosts) + 10
        namespace, link = f"{PREFIX}{self.run}-{name}", f"cs{self.run}h{index}"
        sh("ip", "netns", "add", namespace)
        sh("ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        sh("ip", "link", "set", link, "master", self.bridge)
        sh("ip", "link", "set", link, "up")
        address = f"{self.subnet}.{index}"
        for argv in (("addr", "add", f"{address}/24", "dev", "eth0"), ("link", "set", "eth0", "up"),
                     ("link", "set", "lo", "up")):  # fmt: skip
            sh("ip", "-n", namespace, *argv)
        host = Host(name, namespace, address, link, self.folder / name)
        self.hosts[name] = host
        self._write_hosts_files()
        return host

    def _write_hosts_files(self) -> None:
        lines = ["127.0.0.1 localhost", *(f"{h.address} {h.name}" for h in self.hosts.values())]
        for host in self.hosts.values():
            (NETNS_ETC / host.namespace).mkdir(parents=True, exist_ok=True)
            (NETNS_ETC / host.namespace / "hosts").write_text("\n".join(lines) + "\n")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for namespace in {host.namespace for host in self.hosts.values()}:
            _remove_namespace(namespace)
        for host in self.hosts.values():
            for proc in host.processes.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        sh("ip", "link", "delete", self.bridge, check=False)
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def leftovers(self) -> list[str]:
        """What of this run is still on the machine: namespaces, their mounts, processes, links, /etc/netns files."""
        marker = f"{PREFIX}{self.run}-"
        found = [n for n in namespaces() if n.startswith(marker)]
        found += [line for line in Path("/proc/mounts").read_text().splitlines() if marker in line]
        found += [f"link {self.bridge}"] if sh("ip", "link", "show", self.bridge, check=False).returncode == 0 else []
        found += [str(p) for p in NETNS_ETC.glob(f"{marker}*")] if NETNS_ETC.exists() else []
        mark = f"{RUN_MARK}={self.run}".encode()
        for proc_dir in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError):
                if mark in proc_dir.joinpath("environ").read_bytes().split(b"\0"):
                    found.append(f"process {proc_dir.name}")
        return found
