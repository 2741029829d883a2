"""Learning from outcomes: per-tenant handling-time model versions, and routing preferences from history.

A new model version is fitted on a tenant's stored outcomes except the most recent ones, which are held
back; it becomes the answering version only if it is not worse than the current one on those recent outcomes.
Each version is kept with its metrics, and every prediction names the version that made it.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callscope.prediction import handletime_eval, handletime_model
from callscope.prediction.handletime import HandleTime
from callscope.prediction.history import HistoryRow
from callscope.storage import versions as model_versions
from callscope.storage.db import Interaction, ModelVersion, Outcome, utcnow

KIND = "handle_time"
HOLDBACK_FRACTION = 0.2


def history_rows(session: Session, *, tenant: str, limit: int = 200_000) -> list[HistoryRow]:
    """The tenant's contacts with a reported outcome, oldest first, as the model's history rows."""
    query = (
        select(Interaction, Outcome.handle_time_s, Outcome.queue)
        .join(Outcome, Outcome.interaction_id == Interaction.id)
        .where(Interaction.tenant == tenant)
        .order_by(Interaction.created_at.desc())
        .limit(limit)
    )
    rows = [contact_row(i, handle_time_s=seconds, queue=queue) for i, seconds, queue in session.execute(query)]
    return rows[::-1]


def contact_row(
    row: Interaction, *, handle_time_s: float | None = None, queue: str | None = None, intent: str | None = None
) -> HistoryRow:
    """What the model knows of a contact when it predicts (the queue it was routed to, intent, agent, time)."""
    routed = (row.routing or {}).get("queue")
    started = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return HistoryRow(
        contact_id=row.id,
        started_at=started.replace(tzinfo=None),
        channel=row.channel,  # type: ignore[arg-type]
        intent=intent or row.intent_label,
        intent_confidence=row.intent_confidence,
        queue=queue or row.queue or routed,
        agent=row.agent,
        handle_time_s=handle_time_s,
        customer_ref=row.customer_hash,
    )


def _pack(model: handletime_model.HandleTimeModel) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in Path(tmp).iterdir():
                archive.write(path, path.name)
        return buffer.getvalue()


def _unpack(artifact: bytes) -> handletime_model.HandleTimeModel:
    """A stored version's model (`model_versions.loaded` keeps it per process)."""
    with tempfile.TemporaryDirectory() as tmp:
        zipfile.ZipFile(io.BytesIO(artifact)).extractall(tmp)
        return handletime_model.load(tmp)


def active_version(session: Session, *, tenant: str) -> ModelVersion | None:
    return model_versions.active_version(session, tenant=tenant, kind=KIND)


def versions(session: Session, *, tenant: str) -> list[ModelVersion]:
    return model_versions.versions(session, tenant=tenant, kind=KIND)


def retrain(session: Session, *, tenant: str, min_rows: int, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit a candidate on older outcomes, compare it with the active version on the recent ones, keep the better."""
    rows = history_rows(session, tenant=tenant)
    if len(rows) < min_rows:
        return {"status": "skipped", "reason": f"{len(rows)} outcomes stored, {min_rows} needed", "rows": len(rows)}
    cut = int(len(rows) * (1 - HOLDBACK_FRACTION))
    train, held = rows[:cut], rows[cut:]
    candidate = handletime_model.fit(train, params=params)
    scores = handletime_eval.evaluate(candidate, held, history=train)
    current = active_version(session, tenant=tenant)
    current_scores = None
    if current is not None:
        current_scores = handletime_eval.evaluate(model_versions.loaded(current, _unpack), held, history=train)
    better = current_scores is None or scores["p50_mae_s"] <= current_scores["p50_mae_s"]
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    version = ModelVersion(
        tenant=tenant,
        kind=KIND,
        version=f"ht-{stamp}-{len(rows)}",
        metrics={"held_back": scores, "active_on_same_rows": current_scores, "train_rows": len(train)},
        active=better,
        artifact=_pack(candidate),
        created_at=utcnow(),
    )
    if better and current is not None:
        current.active = False
    session.add(version)
    session.commit()
    return {"status": "activated" if better else "rejected", "version": version.version, "metrics": version.metrics}


@dataclass(frozen=True)
class ActiveModel:
    """The tenant's active handling-time model, as loaded for predicting (plain data: it outlives the session)."""

    version: str
    model: Any


def active_model(session: Session, *, tenant: str) -> ActiveModel | None:
    """The active version's model, or None while the tenant has no trained version."""
    version = active_version(session, tenant=tenant)
    return None if version is None else ActiveModel(version.version, model_versions.loaded(version, _unpack))


def predict(
    active: ActiveModel | None, row: Interaction, *, intent: str | None, queue: str | None
) -> HandleTime | None:
    """The active model's p50/p90 for a contact, or None while the tenant has none (`active_model`)."""
    if active is None:
        return None
    ((p50, p90),) = active.model.predict([contact_row(row, intent=intent, queue=queue)])
    return HandleTime(p50_s=p50, p90_s=p90, basis=f"model {active.version}", n_outcomes=active.model.n_train_rows,
                      model_version=active.version)  # fmt: skip


def learned_routing(
    session: Session, *, tenant: str, intent: str | None, default_queue: str, min_outcomes: int
) -> dict[str, Any] | None:
    """The queue (and agents) that handled this intent fastest, when the evidence says it beats the default route.

    Transfers and repeat contacts count against a queue: each transfer adds the queue's median again.
    """
    if not intent:
        return None
    rows = session.execute(
        select(Outcome.queue, Outcome.handle_time_s, Outcome.resolution)
        .where(Outcome.tenant == tenant, Outcome.intent == intent, Outcome.queue.is_not(None))
        .order_by(Outcome.created_at.desc())
        .limit(5000)
    ).all()
    by_queue: dict[str, list[tuple[float, bool]]] = {}
    for queue, seconds, resolution in rows:
        by_queue.setdefault(queue, []).append((seconds, resolution == "transferred"))
    stats = {}
    for queue, values in by_queue.items():
        if len(values) < min_outcomes:
            continue
        times = sorted(s for s, _ in values)
        transfer_rate = sum(t for _, t in values) / len(values)
        median = times[len(times) // 2]
        stats[queue] = {"median_s": median, "cost_s": median * (1 + transfer_rate), "n": len(values),
                        "transfer_rate": round(transfer_rate, 3)}  # fmt: skip
    if not stats:
        return None
    best = min(stats, key=lambda q: stats[q]["cost_s"])
    agents = _fastest_agents(session, tenant=tenant, intent=intent, min_outcomes=min_outcomes)
    if default_queue in stats:
        baseline = stats[default_queue]["cost_s"]
    else:  # no evidence for the default route: compare with what this intent costs today, on average
        baseline = sum(v["cost_s"] * v["n"] for v in stats.values()) / sum(v["n"] for v in stats.values())
    return {
        "preferred_queue": best if best != default_queue else None,
        "expected_saving_s": round(max(0.0, baseline - stats[best]["cost_s"]), 1),
        "compared_with": default_queue if default_queue in stats else "all queues (no outcomes for the default)",
        "evidence": {q: {k: round(v, 3) for k, v in s.items()} for q, s in stats.items()},
        "preferred_agents": agents,
    }


def _fastest_agents(session: Session, *, tenant: str, intent: str, min_outcomes: int) -> list[dict[str, Any]]:
    query = (
        select(Interaction.agent, func.count(), func.avg(Outcome.handle_time_s))
        .join(Outcome, Outcome.interaction_id == Interaction.id)
        .where(Interaction.tenant == tenant, Outcome.intent == intent, Interaction.agent.is_not(None))
        .group_by(Interaction.agent)
        .having(func.count() >= min_outcomes)
        .order_by(func.avg(Outcome.handle_time_s))
        .limit(3)
    )
    return [{"agent": a, "n": n, "mean_s": round(float(m), 1)} for a, n, m in session.execute(query)]


def tenants_with_outcomes(session: Session) -> list[str]:
    return list(session.scalars(select(Outcome.tenant).distinct()))
