"""`make demo`: the service on the embedded default, fed the bundled sample contacts through its API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from callscope.settings import REPO_ROOT, get_settings
from cli.processes import die_with_parent, exit_on_sigterm

SAMPLES = REPO_ROOT / "samples"
SAMPLE_FILES = ("call_dual_channel.wav", "sms_thread.json", "web_chat.json", "chat_transcript.txt")


def _post(client: httpx.Client, path: Path) -> str:
    if path.suffix == ".wav":
        with path.open("rb") as fh:
            response = client.post(
                "/v1/interactions",
                files={"file": (path.name, fh, "audio/wav")},
                data={"metadata": json.dumps({"agent_channel": "left", "external_id": path.stem})},
            )
    elif path.suffix == ".txt":
        response = client.post(
            "/v1/interactions", json={"channel": "chat", "transcript": path.read_text(), "external_id": path.stem}
        )
    else:
        response = client.post("/v1/interactions", json=json.loads(path.read_text()))
    response.raise_for_status()
    return str(response.json()["id"])


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with code {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the service did not become healthy in time")


def _results_table(results: list[dict[str, Any]]) -> Table:
    table = Table(title="Callscope: bundled sample contacts")
    for name in ("channel", "sample", "status", "intent", "conf.", "routing hint", "handle time p50 / p90"):
        table.add_column(name, no_wrap=name in ("intent", "routing hint"))
    for r in results:
        routing = r.get("routing") or {}
        hint = f"{routing.get('queue')} (priority {routing.get('priority')})" if routing else "-"
        if routing.get("escalate"):
            hint += " ESCALATE"
        ht = r.get("handle_time") or {}
        intent = r.get("intent") or {}
        table.add_row(
            r["channel"],
            r.get("external_id") or r["id"][:8],
            r["status"],
            intent.get("label") or "-",
            f"{intent.get('confidence', 0):.2f}",
            hint,
            f"{ht.get('p50_s', 0):.0f} s / {ht.get('p90_s', 0):.0f} s" if ht else r.get("error", "-"),
        )
    return table


def run_demo(*, port: int, keep_running: bool, console: Console) -> None:
    from callscope.access.keys import create_api_key
    from cli.main import _migrated_sessionmaker

    exit_on_sigterm()  # a SIGTERM (a process manager, `timeout`) still stops the service below
    settings = get_settings()
    with _migrated_sessionmaker()() as session:
        keys = {role: create_api_key(session, tenant="demo", role=role) for role in ("admin", "supervisor", "agent")}
    key = keys["admin"]
    base = f"http://127.0.0.1:{port}"
    console.print(f"starting Callscope on {base} (data folder {settings.data_dir.resolve()})")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = (settings.data_dir / "demo-service.log").resolve()
    log_file = log_path.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        start_new_session=True,
        preexec_fn=die_with_parent,  # and if this process is killed outright, the kernel stops the service
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(base, proc)
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        ids = [_post(client, SAMPLES / name) for name in SAMPLE_FILES]
        results = _wait_done(client, ids, console)
        out = Console(width=None if sys.stdout.isatty() else 160)
        out.print(_results_table(results))
        out.print(
            f"\nWhere to look (tenant demo; paste a key into the page's login):\n"
            f"  Supervisor dashboard:  {base}/reports    key (supervisor): {keys['supervisor']}\n"
            f"  Agent live assist:     {base}/agent      key (agent):      {keys['agent']}\n"
            f"  API docs (OpenAPI):    {base}/docs       key (admin):      {key}\n"
            f"  One interaction:       {base}/v1/interactions/{ids[0]}\n"
            f"  Metrics:               {base}/metrics\n  Service log:           {log_path}\n"
            f"Try: curl -H 'Authorization: Bearer {key}' {base}/v1/interactions",
            soft_wrap=True,
        )
        if keep_running:
            console.print("\nserving; press Ctrl-C to stop")
            proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log_file.close()


def _wait_done(client: httpx.Client, ids: list[str], console: Console, timeout_s: float = 600) -> list[dict[str, Any]]:
    """Poll the API until every contact is done or failed, with a progress bar."""
    deadline = time.monotonic() + timeout_s
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("processing sample contacts", total=len(ids))
        while True:
            results = [client.get(f"/v1/interactions/{i}").json() for i in ids]
            finished = sum(r["status"] in ("done", "failed") for r in results)
            progress.update(task, completed=finished)
            if finished == len(ids):
                return results
            if time.monotonic() > deadline:
                raise RuntimeError("the samples were not processed in time")
            time.sleep(0.5)
