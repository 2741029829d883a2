"""Chromium as the browser tests launch it: Debian's build, headless, deaf to the host's network changes.

Chromium aborts loads in flight with ERR_NETWORK_CHANGED when an interface comes or goes anywhere on the host (the
cluster tests build and delete veth links; a CI runner starts containers). `tests/no_netlink.c`, preloaded, keeps its
address tracker from listening (a known workaround: the tracker then assumes it is always online).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_NETLINK = Path(__file__).with_name("no_netlink.c")


def no_netlink_library() -> Path:
    """The shim built with the C compiler (once per version of its source)."""
    source = NO_NETLINK.read_bytes()
    built = Path(tempfile.gettempdir()) / f"callscope-no-netlink-{hashlib.sha256(source).hexdigest()[:12]}.so"
    if not built.exists():
        if shutil.which("cc") is None:
            pytest.fail("the browser tests need a C compiler for tests/no_netlink.c (`apt-get install -y gcc`)")
        partial = built.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(partial), str(NO_NETLINK), "-ldl"], check=True)
        partial.replace(built)
    return built


def launch_chromium(playwright: Any, *, deaf_to_network_changes: bool = True) -> Any:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium (`apt-get install -y chromium`)")
    env = {**os.environ, "LD_PRELOAD": str(no_netlink_library())} if deaf_to_network_changes else None
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, env=env)
