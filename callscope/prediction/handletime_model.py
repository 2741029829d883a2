"""Offline handling-time model: LightGBM p50/p90 of handle time from what is known when the prediction is asked.

Service times are close to lognormal, so the model works on log-seconds. Two objectives are supported and compared
in `bench/bench_handletime.py` on validation days only (the test week is never used to choose):

- `quantile` (chosen): one booster per quantile, objective='quantile' with alpha 0.5 and 0.9 on log-time; with
  `calibrate_p90`, p90 is shifted by the log-offset that gives 90% coverage on the latest `calibration_fraction` of
  the training rows, measured with a booster that did not see them (split-conformal).
- `l2`: one L2 booster on log-time for p50; p90 adds the 90th percentile of residuals measured the same way.

Features (categoricals are integer codes, 0 = unknown/rare/new, with the vocabulary saved next to the boosters; pandas
is not needed): channel, intent, intent_confidence, service_type (else queue), agent, priority, wait_s, ivr_s, hour of
day, weekday, and the customer's number of contacts in the previous `recent_days` days, counted from earlier rows only
with a salted in-memory hash of `customer_ref` (the reference itself is never a feature and never stored).

The agent is often not known yet when a prediction is asked (at routing time). With `unknown_agent_copies` every
training row is added a second time with the agent unknown, so such predictions get the all-agents answer; without
it, 'unknown' is learned from the few rows logged without an agent (in the 1999 log: 6 s median calls) and is wrong.

Cold start: with fewer than `min_train_rows` training rows the model holds no boosters and answers `prior_for`:
the channel prior from `callscope/data/handle_time_priors.yaml` scaled by the queue factor (voice 113/412 s,
chat 300/900 s, sms 600/2400 s for the `general` queue).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import secrets
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from callscope.errors import InvalidInput
from callscope.prediction.handletime import load_priors, prior
from callscope.prediction.history import HistoryRow
from callscope.settings import PACKAGE_DATA

MODEL_VERSION = "handletime-lgbm-1"
DEFAULT_PRIORS = PACKAGE_DATA / "handle_time_priors.yaml"
CATEGORICAL = ("channel", "intent", "service_type", "agent")
NUMERIC = ("intent_confidence", "priority", "wait_s", "ivr_s", "hour", "weekday", "recent_contacts")
FEATURES = CATEGORICAL + NUMERIC
MIN_SECONDS = 1.0  # log of a zero handle time is undefined; a recorded 0 s is fitted as 1 s
META_FILE = "model.json"
UNKNOWN = 0.0  # category code of a missing, rare or never-seen value
AGENT_COLUMN = FEATURES.index("agent")

# Chosen on the validation days (Jan 18-24 after Jan 1-17, and Jan 13-17 after Jan 1-10); see models/handle_time.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "quantile",
    "num_trees": 150,
    "num_leaves": 7,
    "learning_rate": 0.05,
    "min_data_in_leaf": 100,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.9,
    "cat_smooth": 10.0,
    "lambda_l2": 0.0,
    "min_category_count": 20,
    "recent_days": 7,
    "min_train_rows": 200,
    "unknown_agent_copies": 1.0,
    "calibrate_p90": True,
    "calibration_fraction": 0.15,
    "seed": 7,
}
_OWN_KEYS = (
    "objective",
    "num_trees",
    "min_category_count",
    "recent_days",
    "min_train_rows",
    "calibrate_p90",
    "calibration_fraction",
    "unknown_agent_copies",
)
_SALT = secrets.token_bytes(16)  # per process: customer hashes never leave memory and never match across runs


# --- features -------------------------------------------------------------------------------------------------


@dataclass
class Features:
    """Model inputs before encoding, one entry per row, plus what the baselines and cold start need."""

    cats: dict[str, np.ndarray]  # object arrays of str | None
    nums: np.ndarray  # float, NaN = unknown, columns in NUMERIC order
    groups: np.ndarray  # baseline group per row (service_type, else intent, else queue)
    queues: np.ndarray
    target: np.ndarray  # handle_time_s, NaN when unknown
    days: np.ndarray  # datetime64[D]

    def take(self, index: np.ndarray) -> Features:
        """The same features for a subset of rows (back-tests slice once-computed features)."""
        return Features(
            cats={k: v[index] for k, v in self.cats.items()},
            nums=self.nums[index],
            groups=self.groups[index],
            queues=self.queues[index],
            target=self.target[index],
            days=self.days[index],
        )

    def __len__(self) -> int:
        return len(self.target)


def _customer_key(ref: str) -> bytes:
    """Salted hash: enough to count one customer's contacts, useless to identify them."""
    return hashlib.blake2b(ref.encode(), key=_SALT, digest_size=16).digest()


def recent_contact_counts(rows: Sequence[HistoryRow], *, days: int) -> list[float]:
    """Per row, the customer's contacts that started in the `days` before it (strictly earlier rows only); NaN if
    the customer is unknown. Rows may come in any order."""
    order = sorted(range(len(rows)), key=lambda i: rows[i].started_at)
    seen: dict[bytes, list[datetime]] = defaultdict(list)
    counts = [math.nan] * len(rows)
    window = timedelta(days=days)
    for i in order:
        row = rows[i]
        if not row.customer_ref:
            continue
        times = seen[_customer_key(row.customer_ref)]
        now = row.started_at
        counts[i] = float(bisect.bisect_left(times, now) - bisect.bisect_left(times, now - window))
        times.append(now)
    return counts


def group_of(row: HistoryRow) -> str:
    """The per-type baseline's group: service type, else intent, else queue, else the channel."""
    return row.service_type or row.intent or row.queue or f"channel:{row.channel}"


def _num(value: float | int | None) -> float:
    return math.nan if value is None else float(value)


def build_features(rows: Sequence[HistoryRow], *, recent_days: int, history: Sequence[HistoryRow] = ()) -> Features:
    """Features for `rows`; `history` (earlier contacts) is used only to count each customer's recent contacts."""
    counts = recent_contact_counts([*history, *rows], days=recent_days)[len(history) :]
    cats = {
        "channel": np.array([r.channel for r in rows], dtype=object),
        "intent": np.array([r.intent for r in rows], dtype=object),
        "service_type": np.array([r.service_type or r.queue for r in rows], dtype=object),
        "agent": np.array([r.agent for r in rows], dtype=object),
    }
    nums = np.array(
        [
            [
                _num(r.intent_confidence),
                _num(r.priority),
                _num(r.wait_s),
                _num(r.ivr_s),
                r.started_at.hour + r.started_at.minute / 60,
                float(r.started_at.weekday()),
                count,
            ]
            for r, count in zip(rows, counts, strict=True)
        ],
        dtype=float,
    ).reshape(len(rows), len(NUMERIC))
    return Features(
        cats=cats,
        nums=nums,
        groups=np.array([group_of(r) for r in rows], dtype=object),
        queues=np.array([r.queue for r in rows], dtype=object),
        target=np.array([_num(r.handle_time_s) for r in rows], dtype=float),
        days=np.array([r.started_at.date() for r in rows], dtype="datetime64[D]"),
    )


def build_vocab(features: Features, *, min_count: int) -> dict[str, list[str]]:
    """Category values seen at least `min_count` times in training; rarer or new values become 'unknown'."""
    vocab: dict[str, list[str]] = {}
    for name in CATEGORICAL:
        counts = Counter(v for v in features.cats[name] if v is not None)
        vocab[name] = sorted(v for v, n in counts.items() if n >= min_count)
    return vocab


def encode(features: Features, vocab: dict[str, list[str]]) -> np.ndarray:
    """The LightGBM matrix: categorical codes (0 = unknown, rare or new; vocab[i] is code i + 1), then numbers."""
    columns = []
    for name in CATEGORICAL:
        codes = {value: float(i + 1) for i, value in enumerate(vocab[name])}
        columns.append(np.array([codes.get(v, UNKNOWN) for v in features.cats[name]], dtype=float))
    return np.column_stack([*columns, features.nums]) if len(features) else np.empty((0, len(FEATURES)))


# --- the model ------------------------------------------------------------------------------------------------


def prior_for(*, channel: str, queue: str | None, priors: dict[str, Any] | None = None) -> tuple[float, float]:
    """Cold-start (p50_s, p90_s): the documented channel prior scaled by the queue factor."""
    estimate = prior(priors or load_priors(DEFAULT_PRIORS), channel=channel, queue=queue or "general")
    return estimate.p50_s, estimate.p90_s


@dataclass
class HandleTimeModel:
    """Fitted boosters (none at cold start), their vocabulary, and the training rows' baseline medians."""

    params: dict[str, Any]
    vocab: dict[str, list[str]]
    boosters: dict[str, Any]  # "p50"/"p90" (quantile) or "mean" (l2) -> lightgbm.Booster
    n_train_rows: int
    baselines: dict[str, Any]
    priors: dict[str, Any]
    p90_log_offset: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    train_period: tuple[str, str] | None = None
    version: str = MODEL_VERSION

    @property
    def cold(self) -> bool:
        return not self.boosters

    def predict(self, rows: Sequence[HistoryRow], *, history: Sequence[HistoryRow] = ()) -> list[tuple[float, float]]:
        """(p50_s, p90_s) per row, same order; `history` = earlier contacts, used only for recent-contact counts."""
        features = build_features(rows, recent_days=int(self.params["recent_days"]), history=history)
        p50, p90 = self.predict_features(features)
        return [(float(a), float(b)) for a, b in zip(p50, p90, strict=True)]

    def predict_features(self, features: Features) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised prediction on prepared features: p90 >= p50 >= 1 s, rounded to 0.1 s."""
        if not len(features):
            return np.empty(0), np.empty(0)
        if self.cold:
            pairs = [
                prior_for(channel=c, queue=q, priors=self.priors)
                for c, q in zip(features.cats["channel"], features.queues, strict=True)
            ]
            p50, p90 = np.array(pairs, dtype=float).T
        else:
            matrix = encode(features, self.vocab)
            if "mean" in self.boosters:
                log50 = self.boosters["mean"].predict(matrix)
                log90 = log50 + self.p90_log_offset
            else:
                log50 = self.boosters["p50"].predict(matrix)
                log90 = self.boosters["p90"].predict(matrix) + self.p90_log_offset
            p50 = np.maximum(np.exp(log50), MIN_SECONDS)
            p90 = np.maximum(np.exp(log90), p50)
        return np.round(p50, 1), np.maximum(np.round(p90, 1), np.round(p50, 1))

    def baseline_predictions(self, features: Features) -> dict[str, np.ndarray]:
        """Global and per-group training medians (and per-group p90) for the same rows, as comparators."""
        glob = self.baselines["global_median"]
        medians = self.baselines["group_median"]
        p90s = self.baselines["group_p90"]
        return {
            "global_median": np.full(len(features), glob, dtype=float),
            "group_median": np.array([medians.get(g, glob) for g in features.groups], dtype=float),
            "group_p90": np.array([p90s.get(g, self.baselines["global_p90"]) for g in features.groups], dtype=float),
        }

    def save(self, directory: str | Path) -> Path:
        """LightGBM text model per booster plus model.json (vocabulary, params, version, rows, metrics)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob("booster_*.txt"):
            stale.unlink()
        for name, booster in self.boosters.items():
            booster.save_model(str(out / f"booster_{name}.txt"))
        meta = {
            "version": self.version,
            "lightgbm_version": _lightgbm().__version__,
            "features": list(FEATURES),
            "categorical": list(CATEGORICAL),
            "params": self.params,
            "vocab": self.vocab,
            "boosters": sorted(self.boosters),
            "p90_log_offset": self.p90_log_offset,
            "n_train_rows": self.n_train_rows,
            "train_period": self.train_period,
            "baselines": self.baselines,
            "priors": self.priors,
            "metrics": self.metrics,
        }
        (out / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        return out


def load(directory: str | Path) -> HandleTimeModel:
    """Read a model saved by `HandleTimeModel.save`; a clear InvalidInput when the folder is not one."""
    src = Path(directory)
    try:
        meta = json.loads((src / META_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{src} is not a handling-time model folder (no readable {META_FILE}): {exc}") from exc
    if meta.get("version") != MODEL_VERSION or meta.get("features") != list(FEATURES):
        raise InvalidInput(f"{src}: model version {meta.get('version')!r} is not {MODEL_VERSION!r}; refit it")
    lgb = _lightgbm()
    boosters = {name: lgb.Booster(model_file=str(src / f"booster_{name}.txt")) for name in meta["boosters"]}
    period = meta.get("train_period")
    return HandleTimeModel(
        params=meta["params"],
        vocab=meta["vocab"],
        boosters=boosters,
        n_train_rows=meta["n_train_rows"],
        baselines=meta["baselines"],
        priors=meta["priors"],
        p90_log_offset=meta["p90_log_offset"],
        metrics=meta.get("metrics", {}),
        train_period=tuple(period) if period else None,
    )


def _lightgbm() -> Any:
    """Imported lazily: the CLI and the service import this module without paying for LightGBM."""
    import lightgbm

    return lightgbm


def resolve_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with the caller's params; unknown objectives are refused early."""
    merged = {**DEFAULT_PARAMS, **(params or {})}
    if merged["objective"] not in ("quantile", "l2"):
        raise InvalidInput(f"objective must be 'quantile' or 'l2', not {merged['objective']!r}")
    return merged


def _lgb_params(params: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """LightGBM's own parameters: ours minus the keys this module interprets, single-threaded and deterministic."""
    out = {k: v for k, v in params.items() if k not in _OWN_KEYS}
    out.update(verbose=-1, num_threads=1, deterministic=True, force_col_wise=True, max_cat_to_onehot=4)
    out.update(overrides)
    return out


def _baselines(target: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """Training medians the model must beat: global, and per group (groups with >= 5 rows)."""
    by_group: dict[str, list[float]] = defaultdict(list)
    for value, group in zip(target, groups, strict=True):
        by_group[group].append(value)
    usable = {g: np.asarray(v) for g, v in by_group.items() if len(v) >= 5}
    return {
        "global_median": float(np.median(target)) if len(target) else math.nan,
        "global_p90": float(np.quantile(target, 0.9)) if len(target) else math.nan,
        "group_median": {g: float(np.median(v)) for g, v in sorted(usable.items())},
        "group_p90": {g: float(np.quantile(v, 0.9)) for g, v in sorted(usable.items())},
    }


def _train(matrix: np.ndarray, log_target: np.ndarray, params: dict[str, Any], **overrides: Any) -> Any:
    lgb = _lightgbm()
    matrix, log_target = _with_unknown_agents(matrix, log_target, params)
    data = lgb.Dataset(
        matrix,
        log_target,
        feature_name=list(FEATURES),
        categorical_feature=list(range(len(CATEGORICAL))),
        free_raw_data=True,
        params={"verbose": -1, "min_data_in_bin": 3},
    )
    return lgb.train(_lgb_params(params, **overrides), data, num_boost_round=int(params["num_trees"]))


def fit_features(features: Features, *, params: dict[str, Any] | None = None) -> HandleTimeModel:
    """Fit on prepared features (rows with a known handle time); back-tests call this once per day."""
    params = resolve_params(params)
    known = ~np.isnan(features.target)
    features = features.take(np.flatnonzero(known))
    priors = load_priors(DEFAULT_PRIORS)
    period = (str(features.days.min()), str(features.days.max())) if len(features) else None
    model = HandleTimeModel(
        params=params,
        vocab=build_vocab(features, min_count=int(params["min_category_count"])),
        boosters={},
        n_train_rows=len(features),
        baselines=_baselines(features.target, features.groups),
        priors=priors,
        train_period=period,
    )
    if len(features) < int(params["min_train_rows"]):
        return model
    matrix = encode(features, model.vocab)
    log_target = np.log(np.maximum(features.target, MIN_SECONDS))
    if params["objective"] == "quantile":
        p90 = {"objective": "quantile", "alpha": 0.9}
        model.boosters = {
            "p50": _train(matrix, log_target, params, objective="quantile", alpha=0.5),
            "p90": _train(matrix, log_target, params, **p90),
        }
        if params["calibrate_p90"]:
            model.p90_log_offset = _residual_p90(matrix, log_target, features.days, params, **p90)
    else:
        model.p90_log_offset = _residual_p90(matrix, log_target, features.days, params, objective="l2")
        model.boosters = {"mean": _train(matrix, log_target, params, objective="l2")}
    return model


def _with_unknown_agents(matrix: np.ndarray, log_target: np.ndarray, params: dict[str, Any]) -> tuple[Any, Any]:
    """Add a share of the rows again with the agent unknown, so a prediction asked before an agent is assigned
    gets the all-agents answer instead of whatever the few rows logged without an agent happened to take."""
    fraction = float(params["unknown_agent_copies"])
    if fraction <= 0:
        return matrix, log_target
    rng = np.random.default_rng(int(params["seed"]))
    chosen = np.flatnonzero(rng.random(len(matrix)) < fraction) if fraction < 1 else np.arange(len(matrix))
    copies = matrix[chosen].copy()
    copies[:, AGENT_COLUMN] = UNKNOWN
    return np.vstack([matrix, copies]), np.concatenate([log_target, log_target[chosen]])


def _residual_p90(
    matrix: np.ndarray, log_target: np.ndarray, days: np.ndarray, params: dict[str, Any], **objective: Any
) -> float:
    """90th percentile of log residuals on the latest training rows, from a booster that did not see them."""
    order = np.argsort(days, kind="stable")
    cut = int(len(order) * (1 - float(params["calibration_fraction"])))
    early, late = order[:cut], order[cut:]
    if len(early) < int(params["min_train_rows"]) or not len(late):
        early = late = order  # too little data to hold any out: in-sample residuals (narrower)
    booster = _train(matrix[early], log_target[early], params, **objective)
    return float(np.quantile(log_target[late] - booster.predict(matrix[late]), 0.9))


def fit(rows: Sequence[HistoryRow], *, params: dict[str, Any] | None = None) -> HandleTimeModel:
    """Fit p50/p90 boosters on rows with a handle time (rows without one are ignored)."""
    resolved = resolve_params(params)
    ordered = sorted(rows, key=lambda r: r.started_at)
    return fit_features(build_features(ordered, recent_days=int(resolved["recent_days"])), params=resolved)


# --- daily back-test ------------------------------------------------------------------------------------------
