"""`callscope serve` and `callscope demo` leave nothing behind: however they stop (SIGTERM, SIGINT, killed outright),
the embedded broker and worker stop too and the broker's socket is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import ROOT
from tests.services import free_port

EMBEDDED = {"CALLSCOPE_DATABASE_URL": "", "CALLSCOPE_BROKER_URL": ""}


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _started_for(data: Path) -> list[psutil.Process]:
    """Every live process started for this data folder (it is in their environment), whoever their parent is now."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("CALLSCOPE_DATA_DIR") == str(data) and not _gone(proc):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _broker_processes(root: psutil.Process) -> list[psutil.Process]:
    return [p for p in root.children(recursive=True) if "redis-server" in p.name()]


def _start(args: list[str], data: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **EMBEDDED, "CALLSCOPE_DATA_DIR": str(data)}
    log = (data.parent / "serve.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, stdout=log, stderr=log)


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["sigterm", "sigint", "sigkill"])
def test_a_stopped_serve_leaves_no_broker_worker_or_socket(tmp_path: Path, how: signal.Signals) -> None:
    port = free_port()
    data = tmp_path / "data"
    serve = _start(["serve", "--port", str(port), "--concurrency", "1"], data)
    try:
        _wait_until(lambda: _healthy(port) or serve.poll() is not None, 90, "serve did not become healthy")
        assert serve.poll() is None, (tmp_path / "serve.log").read_text()
        root = psutil.Process(serve.pid)
        _wait_until(lambda: len(_broker_processes(root)) == 1, 30, "no embedded redis-server under serve")
        _wait_until(lambda: sum("celery" in " ".join(p.cmdline()) for p in root.children()) == 2, 30,
                    "the embedded worker and scheduler run")  # fmt: skip
        children = root.children(recursive=True)
        socket = data / "broker" / "redis.sock"
        assert socket.exists()
        serve.send_signal(how)
        serve.wait(timeout=60)
        _wait_until(lambda: all(_gone(p) for p in children) and not _started_for(data), 60,
                    f"left running: {[p.cmdline() for p in _started_for(data)]}")  # fmt: skip
        assert not socket.exists()
    finally:
        if serve.poll() is None:
            serve.kill()


@pytest.mark.slow
def test_a_demo_stopped_with_sigterm_stops_its_service_and_broker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo = _start(["demo", "--port", str(free_port()), "--keep-running"], data)
    try:
        root = psutil.Process(demo.pid)
        _wait_until(lambda: _broker_processes(root) or demo.poll() is not None, 90, "the demo started no broker")
        children = root.children(recursive=True)
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) != 0
        _wait_until(lambda: all(_gone(p) for p in children) and not _started_for(data), 60,
                    f"left running: {[p.cmdline() for p in _started_for(data)]}")  # fmt: skip
        assert not (data / "broker" / "redis.sock").exists()
    finally:
        if demo.poll() is None:
            demo.kill()


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
