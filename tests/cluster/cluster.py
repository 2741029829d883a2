"""compose.yaml's services on hosts of their own: the production shape, on one machine, from real parts.

Each compose service runs on its own host (`tests.cluster.hosts`), with the command and environment compose.yaml gives
it (read from the file, so the two cannot drift) and the host's own folder where compose mounts a volume. Worker
hosts each carry one `worker` and one `transcribe` pool, as one machine of either pool would; the first also runs
`beat`. For the services compose takes from an image (PostgreSQL, SeaweedFS) the host starts the same program the
image would, with the image's settings from compose (user, password, database; bucket and keys).

What a host adds to compose's settings, and why: its data folder (`CALLSCOPE_DATA_DIR`), one process per pool (a
host here is one CPU's share of this machine), and the `overrides` a caller names (tests shorten the sweeper's
intervals so that recovery fits a test's time; bench/RESULTS.md says which were used).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis
import yaml
from redis.sentinel import Sentinel

from callscope.storage.broker import parse_sentinel
from tests.cluster.hosts import Host, Network
from tests.services import s3_answers

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
VENV_BIN = Path(sys.executable).parent
INFRASTRUCTURE = ("postgres", "redis", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3", "objects")
API_HOSTS = ("api-1", "api-2")
WORKER_POOLS = ("worker", "transcribe")
VARIABLE = re.compile(r"\$\{(\w+)(?:(:\?|:-)([^}]*))?\}")


def compose_services() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def expand(text: str, variables: dict[str, str]) -> str:
    """Compose's variable forms: ${NAME}, ${NAME:-default}, ${NAME:?error}; $$ is a dollar."""

    def one(match: re.Match[str]) -> str:
        name, form, argument = match.groups()
        if value := variables.get(name, ""):
            return value
        if form == ":?":
            raise KeyError(f"{name}: {argument}")
        return argument if form == ":-" else ""

    return VARIABLE.sub(one, text).replace("$$", "$")


def wait_for(what: str, ready, *, timeout: float, log: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not become ready in {timeout:.0f} s\n{log[-3000:]}")


def port_open(address: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=0.5):
        return True
    return False


class Cluster:
    """Start with `start()`, use `url`, `key`, `hosts`; `close()` leaves nothing behind."""

    def __init__(self, *, worker_hosts: int = 3, overrides: dict[str, str] | None = None,
                 folder: Path | None = None) -> None:  # fmt: skip
        self.folder = folder or Path(tempfile.mkdtemp(prefix="callscope-cluster-"))
        self.folder.chmod(0o755)  # PostgreSQL runs as its own user and needs to reach its folder
        self.worker_hosts = worker_hosts
        self.overrides = overrides or {}
        self.services = compose_services()
        self.secrets = {name: secrets.token_hex(32) for name in (
            "CALLSCOPE_CUSTOMER_HASH_KEY", "CALLSCOPE_RECORDINGS_KEY", "CALLSCOPE_METRICS_TOKEN",
            "CALLSCOPE_S3_SECRET_ACCESS_KEY")}  # fmt: skip
        self.network: Network | None = None
        self.key = ""

    # --- addresses ---------------------------------------------------------------------------------------------------

    @property
    def hosts(self) -> dict[str, Host]:
        assert self.network is not None
        return self.network.hosts

    @property
    def url(self) -> str:
        return f"http://{self.hosts['lb'].address}:8000"

    @property
    def database_url(self) -> str:
        url = self.env_of("api-1")["CALLSCOPE_DATABASE_URL"]
        return url.replace("@postgres:", f"@{self.hosts['postgres'].address}:")

    @property
    def objects(self) -> dict[str, str]:
        env = self.env_of("api-1")
        return {"endpoint": f"http://{self.hosts['objects'].address}:8333", "bucket": env["CALLSCOPE_S3_BUCKET"],
                "key_id": env["CALLSCOPE_S3_ACCESS_KEY_ID"], "secret": env["CALLSCOPE_S3_SECRET_ACCESS_KEY"]}

    def _sentinel(self) -> tuple[Sentinel, str]:
        """The Sentinels and master compose's broker URL names, at their hosts' addresses."""
        found = parse_sentinel(self.env_of("api-1")["CALLSCOPE_BROKER_URL"])
        assert found is not None, "compose.yaml's broker is not behind Sentinel"
        sentinels = [(self.hosts[name].address, port) for name, port in found.sentinels]
        return Sentinel(sentinels, socket_timeout=2), found.master_name

    def broker_primary(self) -> str:
        """The host Sentinel names as the broker's primary now."""
        sentinel, master = self._sentinel()
        address, _ = sentinel.discover_master(master)
        return next(name for name, host in self.hosts.items() if host.address == address)

    def broker(self) -> redis.Redis:
        sentinel, master = self._sentinel()
        return sentinel.master_for(master, socket_timeout=5)

    def env_of(self, service: str) -> dict[str, str]:
        raw = self.services[service].get("environment") or {}
        return {name: expand(str(value), self.secrets) for name, value in raw.items()}

    # --- starting ----------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.network = Network(self.folder)
        for name in (*INFRASTRUCTURE, *API_HOSTS, "lb", *(f"worker-{n}" for n in range(1, self.worker_hosts + 1))):
            self.network.add(name)
        self._start_postgres()
        self.start_service("redis", "redis")
        self.start_service("redis-replica", "redis-replica")
        for n in (1, 2, 3):
            self.start_service(f"sentinel-{n}", f"sentinel-{n}")
        self._start_objects()
        for name in API_HOSTS:  # together: both migrate at start, one waits for the other's lock
            self.start_service(name, name)
        for name in API_HOSTS:
            self.wait_api(name)
        self.start_service("lb", "lb")
        wait_for("the load balancer", lambda: httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200,
                 timeout=30, log=self.hosts["lb"].log("lb"))  # fmt: skip
        for n in range(1, self.worker_hosts + 1):
            self.start_worker_host(f"worker-{n}", beat=n == 1)
        self.key = self.make_key("cluster", "admin")

    def close(self) -> None:
        """Stop every host; remove its files too (about 500 MB a run) unless CALLSCOPE_CLUSTER_KEEP=1 asks to keep
        them to read the logs."""
        if self.network is not None:
            self.network.close()
        if os.environ.get("CALLSCOPE_CLUSTER_KEEP") != "1":
            shutil.rmtree(self.folder, ignore_errors=True)

    def leftovers(self) -> list[str]:
        return self.network.leftovers() if self.network is not None else []

    def _argv(self, service: str, host: Host) -> tuple[list[str], Path]:
        """The service's command with compose's mounts mapped to the host's folder (or the repository's file); the
        folder a container would start in (its first volume)."""
        spec = self.services[service]
        mounts: dict[str, str] = {}
        for volume in spec.get("volumes") or []:
            source, target = volume.split(":")[:2]
            mounts[target] = str(ROOT / source) if source.startswith("./") else str(host.folder / source)
        for path in mounts.values():
            if not path.startswith(str(ROOT)):
                Path(path).mkdir(parents=True, exist_ok=True)
        argv = []
        for arg in spec["command"]:
            for target in sorted(mounts, key=len, reverse=True):
                arg = arg.replace(target, mounts[target])
            argv.append(arg)
        workdir = next((Path(p) for p in mounts.values() if not p.startswith(str(ROOT))), host.folder)
        return argv, workdir

    def process_env(self, service: str, host: Host) -> dict[str, str]:
        return {"PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(host.folder),
                "LANG": "C.UTF-8", "HF_HUB_OFFLINE": "1", **self.env_of(service),
                "CALLSCOPE_DATA_DIR": str(host.folder / "var"), "CALLSCOPE_WORKER_PROCESSES": "1",
                **self.overrides}  # fmt: skip

    def start_service(self, service: str, host_name: str) -> None:
        host = self.hosts[host_name]
        argv, workdir = self._argv(service, host)
        host.spawn(service, argv, env=self.process_env(service, host), cwd=workdir)
        port = {"lb": 8000}.get(service, 26379 if service.startswith("sentinel") else 6379)
        if service.startswith(("redis", "sentinel", "lb")):
            wait_for(service, lambda: port_open(host.address, port), timeout=30, log=host.log(service))

    def wait_api(self, name: str) -> None:
        host = self.hosts[name]
        wait_for(name, lambda: httpx.get(f"http://{host.address}:8000/healthz", timeout=2).status_code == 200,
                 timeout=240, log=host.log(name))  # fmt: skip

    def start_worker_host(self, name: str, *, beat: bool = False) -> None:
        host = self.hosts[name]
        pools = (*WORKER_POOLS, "beat") if beat else WORKER_POOLS
        for service in pools:
            argv, _ = self._argv(service, host)
            host.spawn(service, argv, env=self.process_env(service, host))
        for service in WORKER_POOLS:
            wait_for(f"{name} {service}", lambda s=service: " ready." in host.log(s), timeout=240,
                     log=host.log(service))  # fmt: skip

    def _start_postgres(self) -> None:
        """What the postgres image does with compose's POSTGRES_* settings: a cluster owned by that user, password
        authentication from other hosts, the database made; then compose's command."""
        host, env = self.hosts["postgres"], self.env_of("postgres")
        data, sockets = host.folder / "pgdata", host.folder / "sockets"
        for path in (host.folder, sockets):
            path.mkdir(parents=True, exist_ok=True)
            shutil.chown(path, "postgres", "postgres")
        password = host.folder / "pwfile"
        password.write_text(env["POSTGRES_PASSWORD"])
        shutil.chown(password, "postgres", "postgres")
        host.run(["initdb", "-D", str(data), "-U", env["POSTGRES_USER"], f"--pwfile={password}",
                  "--auth-local=trust", "--auth-host=scram-sha-256"], user="postgres")  # fmt: skip
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 0.0.0.0/0 scram-sha-256\n")
        argv = [*self.services["postgres"].get("command", ["postgres"]), "-D", str(data),
                "-c", "listen_addresses=*", "-c", f"unix_socket_directories={sockets}"]  # fmt: skip
        self.postgres_argv = argv
        host.spawn("postgres", argv, env={"PATH": os.environ["PATH"]}, user="postgres")
        wait_for("postgres", lambda: port_open(host.address, 5432), timeout=60, log=host.log("postgres"))
        host.run(["createdb", "-h", str(sockets), "-U", env["POSTGRES_USER"], env["POSTGRES_DB"]], user="postgres")

    def restart_postgres(self) -> None:
        """A fast shutdown (SIGINT) and a start again, as a server's restart does: clients' connections drop."""
        host = self.hosts["postgres"]
        host.stop("postgres", signal.SIGINT, timeout=60)
        host.spawn("postgres", self.postgres_argv, env={"PATH": os.environ["PATH"]}, user="postgres")
        wait_for("postgres", lambda: port_open(host.address, 5432), timeout=60, log=host.log("postgres"))

    def _start_objects(self) -> None:
        """The SeaweedFS image's entry point is `weed`: compose's command after it, with compose's environment."""
        host = self.hosts["objects"]
        argv, _ = self._argv("objects", host)
        host.spawn("objects", [str(VENV_BIN / "weed"), *argv], env=self.process_env("objects", host))
        wait_for("objects", lambda: s3_answers(f"http://{host.address}:8333"), timeout=120, log=host.log("objects"))

    def make_key(self, tenant: str, role: str) -> str:
        host = self.hosts["api-1"]
        done = host.run(["callscope", "keys", "create", "--tenant", tenant, "--role", role],
                        env=self.process_env("api-1", host))  # fmt: skip
        found = re.search(r"\b(cs_[A-Za-z0-9_\-]+)", done.stdout)
        if not found:
            raise RuntimeError(f"no key in: {done.stdout[-500:]} {done.stderr[-500:]}")
        return found.group(1)
