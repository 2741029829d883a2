"""Child processes of the command line that must not outlive it, and CPU priority for analysis."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


def die_with_parent(nice: int = 0) -> None:
    """For `preexec_fn`: the kernel sends the child SIGTERM when its parent dies, however it dies (even SIGKILL).

    Without it a SIGTERM to `callscope serve` (a process manager, `timeout`, a closed terminal) left the embedded
    broker and worker running, adopted by init."""
    if nice:
        os.nice(nice)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)


def exit_on_sigterm() -> None:
    """SIGTERM becomes SystemExit, so `finally` blocks run and children are stopped in order.

    (uvicorn re-raises a captured SIGTERM after its graceful shutdown; with Python's default action that killed the
    process before its cleanup ran.)"""

    def _exit(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def lower_priority(nice: int) -> None:
    """Analysis yields the CPU to the API: niceness, and for a worker in a session of its own the session's too.

    With Linux autogroups (on by default) the scheduler first shares the CPU between sessions, and niceness only
    ranks processes inside one; a worker started in its own session (a service manager, a test harness) would
    otherwise take half the CPU from an API on the same machine, whatever its niceness.
    """
    os.nice(nice)
    if os.getsid(0) == os.getpid():
        with contextlib.suppress(OSError):
            Path("/proc/self/autogroup").write_text(str(nice))
