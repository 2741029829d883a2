"""The `callscope` command. Data goes to stdout; progress and logs go to stderr."""

from __future__ import annotations

import os
import shutil

# CTranslate2 and scikit-learn share one OpenMP runtime whose idle threads spin and starve the next transcription
# (a 2 s live audio chunk took up to 11 s after a burst of text): make them sleep. Must precede those imports.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from callscope.errors import CallscopeError
from callscope.settings import REPO_ROOT, Settings, get_settings
from cli.handletime import handle_time_app
from cli.integrations import integrations_app
from cli.intents import intents_app, themes_command
from cli.processes import die_with_parent, exit_on_sigterm, lower_priority

app = typer.Typer(
    help="Callscope: call-center interaction analytics.", no_args_is_help=True, pretty_exceptions_enable=False
)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
reports_app = typer.Typer(help="Supervisor reports.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(reports_app, name="reports")
app.add_typer(handle_time_app, name="handle-time")
app.add_typer(intents_app, name="intents")
app.add_typer(integrations_app, name="integrations")
app.command("themes")(themes_command)


@app.callback()
def _private_files() -> None:
    """Everything a Callscope process writes (database, recordings, broker files, logs, secrets) is readable by its
    own user alone: customer data is financial data."""
    os.umask(0o077)


err = Console(stderr=True, soft_wrap=True)  # messages stay on one line for log scrapers
WORKER_QUEUES = "transcribe,analyze,webhooks"


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def _migrated_sessionmaker() -> Any:
    from callscope.storage.db import get_sessionmaker, migrate

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    return get_sessionmaker(settings.resolved_database_url)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to CALLSCOPE_DATABASE_URL."""
    _migrated_sessionmaker()
    err.print("schema is up to date")


@db_app.command("move-recordings")
def db_move_recordings() -> None:
    """Move recordings stored in the database (before 0.6) to the recording store; the service keeps running."""
    from callscope.storage.store import move_recordings_to_store, recordings_in_rows

    with _migrated_sessionmaker()() as session:
        total = recordings_in_rows(session)
        with _progress() as progress:
            task = progress.add_task("moving recordings", total=max(total, 1))
            try:
                moved = move_recordings_to_store(session, on_moved=lambda n: progress.advance(task, n))
            except CallscopeError as exc:
                _fail(str(exc), code=1)
    err.print(f"moved {moved} recordings to the recording store")


@reports_app.command("reindex")
def reports_reindex(tenant: Annotated[str | None, typer.Option(help="only this tenant")] = None) -> None:
    """Rebuild the report rows and search index from stored contacts (once, after an upgrade)."""
    from callscope.storage.search import reindex

    with _migrated_sessionmaker()() as session:
        count = reindex(session, tenant=tenant)
    err.print(f"indexed {count} contacts")


@reports_app.command("rollup")
def reports_rollup(
    tenant: Annotated[str | None, typer.Option(help="only this tenant")] = None,
    rebuild: Annotated[bool, typer.Option(help="every day, not only the stale ones (after a bulk load)")] = False,
) -> None:
    """Bring the report rollups up to date (the workers do it every minute; this is for a bulk load or a check)."""
    from callscope.reports import rollups

    with _migrated_sessionmaker()() as session:
        done = (rollups.rebuild if rebuild else rollups.refresh)(session, tenant)
    err.print(f"rolled up {done['days']} days and {done['months']} monthly histograms")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="the tenant the key acts for")],
    role: Annotated[str, typer.Option(help="ingest, agent, supervisor or admin")],
) -> None:
    """Print a new API key (stored hashed; shown only this once)."""
    from callscope.access.keys import create_api_key

    with _migrated_sessionmaker()() as session:
        try:
            key = create_api_key(session, tenant=tenant, role=role)
        except CallscopeError as exc:
            _fail(str(exc))
    typer.echo(key)


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="the key's first 10 characters (as `keys list` shows)")],
    tenant: Annotated[str, typer.Option(help="the tenant the key belongs to")],
) -> None:
    """Revoke a key: it stops working at once."""
    from callscope.access.keys import revoke_key

    with _migrated_sessionmaker()() as session:
        try:
            revoke_key(session, tenant=tenant, prefix=prefix)
        except CallscopeError as exc:
            _fail(str(exc))
    err.print(f"revoked {prefix}")


@keys_app.command("list")
def keys_list(tenant: Annotated[str, typer.Option(help="the tenant whose keys to list")]) -> None:
    """List a tenant's keys (prefixes and roles; keys themselves are never stored)."""
    from callscope.access.keys import list_keys

    with _migrated_sessionmaker()() as session:
        for key in list_keys(session, tenant=tenant):
            typer.echo(f"{key.prefix}\t{key.role}\t{'revoked' if key.revoked else 'active'}")


def _secrets_or_fail() -> None:
    """A service with a placeholder or missing secret stops here, with the reason, before it starts anything."""
    from callscope.settings import InsecureSetting

    try:
        get_settings().check_secrets()
    except InsecureSetting as exc:
        _fail(str(exc))


def _worker_argv(concurrency: int, queues: str, log_level: str = "info", beat: bool = False) -> list[str]:
    argv = ["worker", "-Q", queues, "-c", str(concurrency), "--loglevel", log_level.upper()]
    return [*argv, "-n", f"callscope-{os.getpid()}@%h", *(["--beat"] if beat else [])]


@app.command()
def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            help="worker processes, each with its own models (default: the worker_processes setting, else one per CPU)",
            show_default=False,
        ),
    ] = 0,
    queues: Annotated[str, typer.Option(help="comma-separated queues to consume")] = WORKER_QUEUES,
    beat: Annotated[bool, typer.Option(help="also run the scheduler (retraining); exactly one process may")] = False,
) -> None:
    """Start a Celery worker alone, on CALLSCOPE_BROKER_URL and CALLSCOPE_DATABASE_URL."""
    if not get_settings().broker_url:
        _fail("CALLSCOPE_BROKER_URL is empty: a lone worker needs a shared broker (e.g. redis://host:6379/0)")
    _secrets_or_fail()
    from worker.app import celery_app

    settings = get_settings()
    processes = concurrency or settings.worker_processes or os.cpu_count() or 1
    os.environ["CALLSCOPE_WORKER_PROCESSES"] = str(processes)  # each process sizes its Whisper threads by it
    lower_priority(settings.worker_nice)
    celery_app.worker_main(argv=_worker_argv(processes, queues, beat=beat))


@app.command()
def beat() -> None:
    """Run the scheduler alone (retraining, themes, report rollups); exactly one per deployment."""
    if not get_settings().broker_url:
        _fail("CALLSCOPE_BROKER_URL is empty: the scheduler needs the shared broker")
    from worker.app import celery_app

    celery_app.start(argv=["beat", "--loglevel", "INFO"])


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    with_worker: Annotated[bool, typer.Option("--worker/--no-worker", help="start a worker (embedded broker)")] = True,
    concurrency: Annotated[int, typer.Option(help="processes of the embedded worker")] = 2,
    log_level: Annotated[str, typer.Option(help="uvicorn and worker log level")] = "info",
) -> None:
    """Start the API; with the embedded broker (CALLSCOPE_BROKER_URL empty) also its broker and a worker."""
    import uvicorn

    _secrets_or_fail()

    exit_on_sigterm()  # a SIGTERM anywhere below still stops the worker and the broker (they also die with us)
    settings = get_settings()
    _migrated_sessionmaker()
    broker = None
    children: list[subprocess.Popen[bytes]] = []
    metrics_dir = None
    try:
        if settings.embedded_broker:
            from cli.broker import start_embedded_redis

            try:
                broker = start_embedded_redis(settings.data_dir)
            except CallscopeError as exc:
                _fail(str(exc))
            os.environ["CALLSCOPE_BROKER_URL"] = broker.url
            get_settings.cache_clear()
            if with_worker:
                children += _start_worker_and_beat(concurrency, log_level, nice=settings.worker_nice)
                err.print(f"embedded broker at {broker.url}; worker and scheduler pids {[c.pid for c in children]}")
        processes = api_processes(settings)
        metrics_dir = _share_metrics(settings.data_dir) if processes > 1 else None
        uvicorn.run("api.app:app", host=host, port=port, log_level=log_level, workers=processes)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if broker is not None:
            broker.stop()


def _start_worker_and_beat(concurrency: int, log_level: str, *, nice: int) -> list[subprocess.Popen[bytes]]:
    """The embedded worker and scheduler, niced, each stopped by the kernel if this process dies.

    The scheduler is a process of its own, not the worker's `--beat`: that one is the worker's own child, and a
    worker stopped while it was starting left it running."""
    celery = [sys.executable, "-m", "celery", "-A", "worker.app:celery_app"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "CALLSCOPE_WORKER_PROCESSES": str(concurrency)}
    argvs = [[*celery, *_worker_argv(concurrency, WORKER_QUEUES, log_level)],
             [*celery, "beat", "--loglevel", log_level.upper()]]  # fmt: skip
    return [subprocess.Popen(a, cwd=REPO_ROOT, env=env, preexec_fn=lambda: die_with_parent(nice)) for a in argvs]


def _share_metrics(data_dir: Path) -> Path | None:
    """Several API processes write their request metrics to one folder, so every scrape sees them all."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    folder = data_dir / f"prometheus-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)  # read by prometheus-client in the spawned processes
    return folder


def api_processes(settings: Settings) -> int:
    """One per CPU on PostgreSQL (the API is CPU-bound: parsing, NER redaction); SQLite takes one writer."""
    if settings.api_processes:
        return settings.api_processes
    return 1 if settings.resolved_database_url.startswith("sqlite") else os.cpu_count() or 1


@app.command()
def analyze(
    files: Annotated[list[Path], typer.Argument(help="recordings, SMS/chat JSON (API body format) or chat .txt")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per file on stdout")] = False,
) -> None:
    """Run the whole pipeline on local files, without a server."""
    from rich.table import Table

    from callscope.interactions.analyze import Batch
    from callscope.interactions.files import analyze_file

    settings = get_settings()
    batch = Batch.from_settings(settings)
    failures, results = 0, []
    with _progress() as progress:
        overall = progress.add_task("analyzing", total=len(files))
        for path in files:
            current = progress.add_task(f"  {path.name}", total=1.0)
            try:
                shown = lambda done, task=current: progress.update(task, completed=done)  # noqa: E731
                result = analyze_file(path, settings=settings, batch=batch, on_progress=shown)
            except CallscopeError as exc:
                failures += 1
                err.print(f"[red]error:[/red] {path}: {exc}")
                continue
            finally:
                progress.update(current, completed=1.0, visible=False)
                progress.advance(overall)
            results.append(result)
            if as_json:
                typer.echo(json.dumps(result))
    if not as_json:
        table = Table("file", "channel", "intent", "confidence", "queue", "priority", "p50 s", "p90 s")
        for r in results:
            table.add_row(
                Path(r["file"]).name,
                r["channel"],
                r["intent"],
                f"{r['confidence']:.2f}",
                r["routing"]["queue"],
                str(r["routing"]["priority"]),
                f"{r['handle_time']['p50_s']:.0f}",
                f"{r['handle_time']['p90_s']:.0f}",
            )
        Console().print(table)
    if failures:
        raise typer.Exit(1)


@app.command()
def transcribe(
    file: Annotated[Path, typer.Argument(help="a recording in any common format")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of text")] = False,
    agent_channel: Annotated[str | None, typer.Option(help="left, right or auto (default: setting)")] = None,
) -> None:
    """Transcribe a recording: dual-channel calls come back as agent/customer turns with times."""
    from callscope.interactions.options import transcribe_file

    if not file.is_file():
        _fail(f"no such file: {file}")
    settings = get_settings()
    channel = agent_channel or settings.agent_channel
    if channel not in ("left", "right", "auto"):
        _fail("--agent-channel must be left, right or auto")
    with _progress() as progress:
        task = progress.add_task(f"transcribing {file.name}", total=1.0)
        try:
            result = transcribe_file(
                file,  # streamed from disk window by window: memory does not grow with the call's length
                settings=settings,
                agent_channel=channel,
                on_progress=lambda done: progress.update(task, completed=done),
            )
        except CallscopeError as exc:
            _fail(f"{file}: {exc}")
    if as_json:
        typer.echo(json.dumps(result.as_json()))
    else:
        for turn in result.turns:
            typer.echo(f"[{turn.start:7.2f}-{turn.end:7.2f}] {turn.speaker:>8}: {turn.text}")


@app.command()
def classify(
    batch_size: Annotated[int, typer.Option(help="texts per nlp.pipe batch")] = 1000,
    model_dir: Annotated[
        Path | None, typer.Option("--model", help="a custom intent model folder (`callscope intents fit`)")
    ] = None,
) -> None:
    """Read one text per line on stdin; write one JSON object per line: intent and confidence, in order."""
    from callscope.interactions.files import intent_classifier

    try:
        model = intent_classifier(get_settings(), model_dir)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    out = sys.stdout
    batch: list[str] = []

    def flush() -> None:
        for p in model.predict(batch, batch_size=batch_size):
            out.write(json.dumps({"intent": p.label, "confidence": round(p.confidence, 4)}) + "\n")
        batch.clear()

    for line in sys.stdin:
        batch.append(line.rstrip("\n"))
        if len(batch) >= batch_size:
            flush()
    flush()
    out.flush()


@app.command("import")
def import_contacts(
    file: Annotated[Path, typer.Argument(help="JSONL of API bodies (+ created_at, outcome), history CSV, or a log")],
    tenant: Annotated[str, typer.Option(help="the tenant the contacts belong to")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv or anonymous-bank (default: by extension)")] = "",
    analyze: Annotated[bool, typer.Option("--analyze/--no-analyze", help="analyze contacts that have words")] = True,
) -> None:
    """Stream past contacts and their outcomes into storage, with a progress bar and bounded memory."""
    from callscope.interactions.analyze import Batch
    from callscope.interactions.importing import FORMATS, import_file

    fmt = fmt or {".jsonl": "jsonl", ".csv": "csv"}.get(file.suffix.lower(), "")
    if fmt not in FORMATS:
        _fail(f"unknown format for {file.name}: pass --format {'|'.join(FORMATS)}")
    if not file.is_file():
        _fail(f"no such file: {file}")
    batch = Batch.from_settings(get_settings()) if analyze else None
    with _migrated_sessionmaker()() as session, _progress() as progress:
        task = progress.add_task(f"importing {file.name}", total=None)

        def show(n: int) -> None:
            progress.update(task, completed=n, description=f"imported {n}")

        try:
            report = import_file(session, file, fmt=fmt, tenant=tenant, batch=batch, on_progress=show)
        except CallscopeError as exc:
            _fail(str(exc))
    for note in report.ignored[:50]:
        err.print(f"[yellow]line {note.line}:[/yellow] field {note.reason}", highlight=False)
    for line, reason in report.errors[:50]:
        err.print(f"[yellow]line {line}:[/yellow] {reason}")
    err.print(f"imported {report.imported} contacts; {len(report.errors)} rows skipped")
    typer.echo(json.dumps({"imported": report.imported, "skipped": len(report.errors)}))
    if report.imported == 0 and report.errors:
        raise typer.Exit(1)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="port for the demo API")] = 8000,
    keep_running: Annotated[
        bool | None,
        typer.Option("--keep-running/--exit", help="keep serving after the results (default: on a terminal)"),
    ] = None,
) -> None:
    """Start the service on the embedded default, analyze the bundled samples, print results and where to look."""
    from cli.demo import run_demo

    run_demo(port=port, keep_running=sys.stdout.isatty() if keep_running is None else keep_running, console=err)


if __name__ == "__main__":  # pragma: no cover
    app()
