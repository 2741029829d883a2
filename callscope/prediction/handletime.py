"""Predicted handling time, first version: empirical quantiles of stored outcomes, with documented priors.

The estimate for (intent, channel) uses that pair's stored outcomes once there are enough of them,
then the intent's outcomes on any channel, then the channel prior from `handle_time_priors.yaml`
scaled by the queue's factor.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, Field


class HandleTime(BaseModel):
    p50_s: float
    p90_s: float
    basis: str
    n_outcomes: int = 0
    model_version: str | None = Field(default=None, description="the trained version that answered, if any")


@lru_cache
def load_priors(path: str | Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def prior(priors: dict[str, Any], *, channel: str, queue: str) -> HandleTime:
    base = priors["channels"].get(channel) or priors["channels"]["voice"]
    factor = float(priors.get("queue_factors", {}).get(queue, 1.0))
    return HandleTime(
        p50_s=round(base["p50_s"] * factor, 1),
        p90_s=round(base["p90_s"] * factor, 1),
        basis=f"prior for {channel} contacts in the {queue} queue (no stored outcomes yet)",
    )


def from_outcomes(durations: Sequence[float], *, basis: str) -> HandleTime:
    values = np.asarray(durations, dtype=float)
    p50, p90 = np.quantile(values, [0.5, 0.9])
    return HandleTime(p50_s=round(float(p50), 1), p90_s=round(float(p90), 1), basis=basis, n_outcomes=len(values))


def predict_handle_time(
    priors: dict[str, Any],
    *,
    channel: str,
    queue: str,
    intent: str | None,
    same_channel: Sequence[float],
    any_channel: Sequence[float],
    min_outcomes: int,
) -> HandleTime:
    """Most specific estimate that has at least `min_outcomes` stored outcomes behind it."""
    if len(same_channel) >= min_outcomes:
        return from_outcomes(same_channel, basis=f"{len(same_channel)} stored {channel} outcomes for {intent}")
    if len(any_channel) >= min_outcomes:
        return from_outcomes(any_channel, basis=f"{len(any_channel)} stored outcomes for {intent} (all channels)")
    return prior(priors, channel=channel, queue=queue)
