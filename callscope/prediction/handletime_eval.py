"""How good the handling-time model is: p50 MAE and p90 coverage against median baselines on held-out rows, the
latest 10% held out by time, a fixed test period, and daily back-tests that replay refit schedules day by day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np

from callscope.errors import InvalidInput
from callscope.prediction.handletime_model import (
    MODEL_VERSION,
    Features,
    HandleTimeModel,
    build_features,
    fit,
    fit_features,
    resolve_params,
)
from callscope.prediction.history import HistoryRow


def _scores(target: np.ndarray, p50: np.ndarray, p90: np.ndarray, base: dict[str, np.ndarray]) -> dict[str, Any]:
    """MAE of p50, p90 coverage, and the baselines' MAE on the same rows, with relative improvements."""
    if not len(target):
        return {"n": 0}
    mae = float(np.mean(np.abs(target - p50)))
    mae_global = float(np.mean(np.abs(target - base["global_median"])))
    mae_group = float(np.mean(np.abs(target - base["group_median"])))
    return {
        "n": int(len(target)),
        "p50_mae_s": round(mae, 2),
        "p90_coverage": round(float(np.mean(target <= p90)), 4),
        "p90_median_s": round(float(np.median(p90)), 1),
        "baseline_global_median_mae_s": round(mae_global, 2),
        "baseline_group_median_mae_s": round(mae_group, 2),
        "baseline_group_p90_coverage": round(float(np.mean(target <= base["group_p90"])), 4),
        "improvement_vs_global_pct": round(100 * (1 - mae / mae_global), 2) if mae_global else None,
        "improvement_vs_group_pct": round(100 * (1 - mae / mae_group), 2) if mae_group else None,
    }


def evaluate(
    model: HandleTimeModel, rows: Sequence[HistoryRow], *, history: Sequence[HistoryRow] = ()
) -> dict[str, Any]:
    """Model vs baselines (global and per-group medians of the training rows) on rows with a known handle time."""
    known = [r for r in rows if r.handle_time_s is not None]
    features = build_features(known, recent_days=int(model.params["recent_days"]), history=history)
    return evaluate_features(model, features)


def evaluate_features(model: HandleTimeModel, features: Features) -> dict[str, Any]:
    """`evaluate` on prepared features."""
    p50, p90 = model.predict_features(features)
    return _scores(features.target, p50, p90, model.baseline_predictions(features))


def split_by_time(rows: Sequence[HistoryRow], *, holdout_fraction: float) -> tuple[list[HistoryRow], list[HistoryRow]]:
    """Earliest (1 - f) of rows for fitting and the latest f for checking, by start time."""
    ordered = sorted(rows, key=lambda r: r.started_at)
    cut = len(ordered) - max(1, round(len(ordered) * holdout_fraction)) if len(ordered) > 1 else len(ordered)
    return ordered[:cut], ordered[cut:]


def fit_with_holdout(
    rows: Sequence[HistoryRow], *, params: dict[str, Any] | None = None, holdout_fraction: float = 0.1
) -> HandleTimeModel:
    """Score a fit on the first (1 - f) against the latest f of rows, then refit on all rows and keep the score."""
    early, late = split_by_time(rows, holdout_fraction=holdout_fraction)
    metrics: dict[str, Any] = {}
    if late:
        metrics = {"holdout": f"latest {100 * holdout_fraction:.0f}% of rows by time"}
        metrics |= evaluate(fit(early, params=params), late, history=early)
    model = fit(rows, params=params)
    model.metrics = metrics
    return model


def holdout_report(
    rows: Sequence[HistoryRow], *, test_from: date, params: dict[str, Any] | None = None
) -> tuple[HandleTimeModel, dict[str, Any]]:
    """Fit on rows before `test_from`, score rows from it on: the test-week figures."""
    train = [r for r in rows if r.started_at.date() < test_from]
    test = [r for r in rows if r.started_at.date() >= test_from]
    if not train or not test:
        raise InvalidInput(f"need rows before and from {test_from}: got {len(train)} and {len(test)}")
    model = fit(train, params=params)
    report = {
        "train_days": f"{min(r.started_at.date() for r in train)}..{max(r.started_at.date() for r in train)}",
        "test_days": f"{min(r.started_at.date() for r in test)}..{max(r.started_at.date() for r in test)}",
        "n_train": model.n_train_rows,
        **evaluate(model, test, history=train),
    }
    return model, report


def backtest_daily(
    rows: Sequence[HistoryRow],
    *,
    start_day: date,
    refit_every_days: int = 1,
    window_days: int | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replay outcomes day by day as the running service would: before each day D (every `refit_every_days` days)
    refit on all outcomes before D (or the last `window_days` days), predict D, then learn D's outcomes.

    Baselines are the global and per-group medians of the same training rows, refreshed with the model."""
    resolved = resolve_params(params)
    if refit_every_days < 1 or (window_days is not None and window_days < 1):
        raise InvalidInput("refit_every_days and window_days must be >= 1")
    ordered = sorted((r for r in rows if r.handle_time_s is not None), key=lambda r: r.started_at)
    features = build_features(ordered, recent_days=int(resolved["recent_days"]))  # each row counts earlier rows only
    start = np.datetime64(start_day, "D")
    days = sorted({d for d in features.days if d >= start})
    model: HandleTimeModel | None = None
    last_fit: np.datetime64 | None = None
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]] = []
    per_day = []
    for day in days:
        if model is None or last_fit is None or (day - last_fit).astype(int) >= refit_every_days:
            lower = day - np.timedelta64(window_days, "D") if window_days else np.datetime64("1900-01-01", "D")
            model = fit_features(
                features.take(np.flatnonzero((features.days < day) & (features.days >= lower))), params=resolved
            )
            last_fit = day
        today = features.take(np.flatnonzero(features.days == day))
        p50, p90 = model.predict_features(today)
        base = model.baseline_predictions(today)
        parts.append((today.target, p50, p90, base))
        per_day.append({"day": str(day), "n_train": model.n_train_rows, **_scores(today.target, p50, p90, base)})
    if not parts:
        raise InvalidInput(f"no rows on or after {start_day} to back-test")
    joined = {k: np.concatenate([p[3][k] for p in parts]) for k in parts[0][3]}
    overall = _scores(*(np.concatenate([p[i] for p in parts]) for i in range(3)), joined)
    return {
        "start_day": str(start_day),
        "refit_every_days": refit_every_days,
        "window_days": window_days,
        "objective": resolved["objective"],
        "overall": overall,
        "per_day": per_day,
    }


def backtest_summary(
    rows: Sequence[HistoryRow],
    *,
    test_from: date,
    params: dict[str, Any] | None = None,
    window_days: int = 14,
    on_step: Any = None,
) -> dict[str, Any]:
    """The figures the model card reports: the test period scored by one fit on everything before it, then daily
    replays from `test_from` with no refit (static), refit on all earlier days (expanding), and on a recent window."""
    step = on_step or (lambda _name: None)
    step("test period")
    _, test = holdout_report(rows, test_from=test_from, params=params)
    runs = {
        "static": {"refit_every_days": 10_000},
        "daily_expanding": {},
        f"daily_window_{window_days}d": {"window_days": window_days},
    }
    replays = {}
    for name, kwargs in runs.items():
        step(f"back-test {name}")
        replays[name] = backtest_daily(rows, start_day=test_from, params=params, **kwargs)
    return {
        "model_version": MODEL_VERSION,
        "params": resolve_params(params),
        "test_period": test,
        "backtest": {name: {**r["overall"], "per_day": r["per_day"]} for name, r in replays.items()},
    }
