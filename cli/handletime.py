"""`callscope handle-time`: fit, apply and back-test the offline handling-time model. Data on stdout, logs on stderr.

Exit codes: 0 done; 1 `predict` wrote every row but some could not be predicted (their p50_s/p90_s are empty);
2 bad usage or input (unreadable file, missing column, no usable rows, not a model folder).
An optional field out of range (a negative IVR time, say) is only unknown for its contact: it is named on stderr
with its line, and the contact is fitted or predicted without it.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from callscope.errors import CallscopeError

handle_time_app = typer.Typer(
    help="Handling-time model (p50/p90 seconds, LightGBM): fit on outcome history, predict contacts, back-test.",
    no_args_is_help=True,
)
err = Console(stderr=True)
MAX_LISTED_ERRORS = 50
ANONYMOUS_BANK_HELP = "history format: csv (the history CSV schema) or anonymous-bank (the 1999 Technion call log)"


class HistoryFormat(StrEnum):
    csv = "csv"
    anonymous_bank = "anonymous-bank"


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _report_errors(errors: list[Any], *, what: str) -> None:
    """Bad rows on stderr with their line numbers; long lists are cut after MAX_LISTED_ERRORS."""
    for error in errors[:MAX_LISTED_ERRORS]:
        err.print(f"line {error.line}: {what}: {error.reason}", highlight=False, markup=False, soft_wrap=True)
    if len(errors) > MAX_LISTED_ERRORS:
        err.print(f"... and {len(errors) - MAX_LISTED_ERRORS} more {what} rows", highlight=False, soft_wrap=True)


def _read_history(path: Path, fmt: HistoryFormat) -> list[Any]:
    """Rows with a handle time from either format; unusable rows reported on stderr (outcome skips as counts)."""
    from callscope.tenants.training import read_anonymous_bank, read_history_csv

    ignored: list[Any] = []
    if fmt is HistoryFormat.csv:
        rows, errors = read_history_csv(path, require_handle_time=True, ignored=ignored)
        _report_errors(errors, what="skipped")
    else:
        skipped: list[Any] = []
        rows = list(read_anonymous_bank(path, skipped=skipped, ignored=ignored))
        not_served = [e for e in skipped if e.reason.startswith("outcome ")]
        counts = Counter(e.reason.split(":")[0] for e in not_served)
        if counts:
            summary = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
            err.print(f"skipped calls not served by an agent: {summary}", highlight=False, soft_wrap=True)
        _report_errors([e for e in skipped if not e.reason.startswith("outcome ")], what="skipped")
    _report_errors(ignored, what="field")
    return rows


def _read_params(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        params = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        _fail(f"cannot read params {path}: {exc}")
    if not isinstance(params, dict):
        _fail(f"{path}: params must be a JSON object")
    return params


def _parse_day(value: str | None, *, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} must be a date YYYY-MM-DD, not {value!r}")
    return None


FormatOption = Annotated[HistoryFormat, typer.Option("--format", help=ANONYMOUS_BANK_HELP)]
ParamsOption = Annotated[
    Path | None, typer.Option("--params", help="JSON of hyperparameters (default: the built-in chosen ones)")
]


@handle_time_app.command("fit")
def fit_command(
    history: Annotated[Path, typer.Argument(help="outcome history file")],
    model: Annotated[Path, typer.Option("--model", help="folder to write the model to")],
    fmt: FormatOption = HistoryFormat.csv,
    params: ParamsOption = None,
    before: Annotated[
        str | None, typer.Option("--before", help="use only contacts that started before this day (YYYY-MM-DD)")
    ] = None,
) -> None:
    """Fit p50/p90 on the history, report the latest 10% (by time) held out, then refit on all rows and save."""
    from callscope.tenants.training import fit_with_holdout

    cutoff = _parse_day(before, option="--before")
    hyper = _read_params(params)
    try:
        with err.status(f"reading {history}"):
            rows = _read_history(history, fmt)
        if cutoff is not None:
            rows = [r for r in rows if r.started_at.date() < cutoff]
        if not rows:
            _fail(f"{history}: no usable rows with a handle time")
        with err.status(f"fitting on {len(rows)} contacts (score on the latest 10%, then refit on all)"):
            fitted = fit_with_holdout(rows, params=hyper)
            fitted.save(model)
    except CallscopeError as exc:
        _fail(str(exc))
    basis = "boosters" if not fitted.cold else f"cold-start priors (< {fitted.params['min_train_rows']} rows)"
    err.print(f"saved {model} ({fitted.n_train_rows} rows, {basis})", highlight=False, soft_wrap=True)
    err.print(json.dumps(fitted.metrics, indent=1), highlight=False, markup=False, soft_wrap=True)


@handle_time_app.command("predict")
def predict_command(
    contacts: Annotated[Path, typer.Argument(help="history CSV of contacts to predict (handle_time_s not needed)")],
    model: Annotated[Path, typer.Option("--model", help="folder written by `fit`")],
) -> None:
    """CSV on stdout, one row per input row in input order: contact_id,p50_s,p90_s.

    A row without what a prediction needs (contact_id, started_at, channel) is reported on stderr with its line
    number and written with empty p50_s and p90_s (and its contact_id when readable), so output rows stay aligned
    with input rows; the exit code is then 1. An optional field out of range is named on stderr and the row is
    predicted without it.
    Each customer's recent contacts are counted within this file only (the model stores no customer data)."""
    from callscope.tenants.training import RowError, iter_history_csv
    from callscope.tenants.training import load_handle_time_model as load

    try:
        fitted = load(model)
        ignored: list[RowError] = []
        items = [item for _, item in iter_history_csv(contacts, require_handle_time=False, ignored=ignored)]
        rows = [item for item in items if not isinstance(item, RowError)]
        predictions = iter(fitted.predict(rows))
    except CallscopeError as exc:
        _fail(str(exc))
    errors = [item for item in items if isinstance(item, RowError)]
    _report_errors(ignored, what="field")
    _report_errors(errors, what="not predicted")
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["contact_id", "p50_s", "p90_s"])
    for item in items:
        if isinstance(item, RowError):
            writer.writerow([item.contact_id or "", "", ""])
        else:
            p50, p90 = next(predictions)
            writer.writerow([item.contact_id, f"{p50:.1f}", f"{p90:.1f}"])
    sys.stdout.flush()
    if errors:
        raise typer.Exit(1)


@handle_time_app.command("backtest")
def backtest_command(
    history: Annotated[Path, typer.Argument(help="outcome history file")],
    fmt: FormatOption = HistoryFormat.csv,
    test_from: Annotated[
        str | None, typer.Option("--test-from", help="first test day, YYYY-MM-DD (default: the last 7 days)")
    ] = None,
    window_days: Annotated[int, typer.Option("--window-days", min=1, help="days of the recent-window variant")] = 14,
    params: ParamsOption = None,
) -> None:
    """JSON on stdout: the test period scored by a fit on all earlier days, and daily replays (no refit, refit on
    all earlier days, refit on the last --window-days) against global and per-type median baselines."""
    from callscope.tenants.training import backtest_summary

    start = _parse_day(test_from, option="--test-from")
    hyper = _read_params(params)
    try:
        with err.status(f"reading {history}"):
            rows = _read_history(history, fmt)
        if not rows:
            _fail(f"{history}: no usable rows with a handle time")
        if start is None:
            start = max(r.started_at.date() for r in rows) - timedelta(days=6)
        with err.status("back-testing") as status:
            summary = backtest_summary(
                rows, test_from=start, params=hyper, window_days=window_days, on_step=status.update
            )
    except CallscopeError as exc:
        _fail(str(exc))
    summary["history"] = {"file": history.name, "format": fmt.value, "rows": len(rows)}
    sys.stdout.write(json.dumps(summary, indent=1) + "\n")
