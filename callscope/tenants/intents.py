"""A tenant's own intents in the service: their definitions, the versions fitted from them, the one that answers.

An admin defines intents (name, five or more examples, queue, priority, escalation); a worker fits a version
(`custom_intents.fit`, the tenant's intents alone or beside Banking77's) and keeps it with its cross-validated
accuracy. A new version answers when it knows other intents than the active one (an intent was added or removed),
or when it is not less accurate on the same intents; otherwise it is kept, inactive, for the record. Versions are
stored in the database (`model_versions`, kind `intents`), so workers on other machines need nothing else.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from callscope.storage import versions as model_versions
from callscope.storage.db import CustomIntent, ModelVersion, TenantSettings, utcnow
from callscope.storage.store import update_tenant_settings
from callscope.understanding import custom_intents
from callscope.understanding.custom_intents import CustomIntentModel
from callscope.understanding.figures import as_utc

KIND = "intents"
MIN_INTENTS = {"none": 2, "banking77": 1}  # by base: a model tells apart at least two intents
BASES = tuple(MIN_INTENTS)


def put_intent(
    session: Session, *, tenant: str, name: str, examples: list[str], queue: str, priority: int, escalate: bool
) -> CustomIntent:
    """Create or replace one intent of the tenant (committed); a new version is fitted only when asked."""
    examples = [e.strip() for e in examples if e.strip()]
    if len(set(examples)) < custom_intents.MIN_EXAMPLES:
        raise ValueError(f"an intent needs at least {custom_intents.MIN_EXAMPLES} different examples")
    row = session.scalar(select(CustomIntent).where(CustomIntent.tenant == tenant, CustomIntent.name == name))
    if row is None:
        row = CustomIntent(tenant=tenant, name=name)
        session.add(row)
    row.examples, row.queue, row.priority, row.escalate, row.updated_at = examples, queue, priority, escalate, utcnow()
    session.commit()
    return row


def list_intents(session: Session, *, tenant: str) -> list[CustomIntent]:
    return list(session.scalars(select(CustomIntent).where(CustomIntent.tenant == tenant).order_by(CustomIntent.name)))


def delete_intent(session: Session, *, tenant: str, name: str) -> bool:
    row = session.scalar(select(CustomIntent).where(CustomIntent.tenant == tenant, CustomIntent.name == name))
    if row is None:
        return False
    session.delete(row)
    session.commit()
    return True


def describe_intent(row: CustomIntent) -> dict[str, Any]:
    return {"name": row.name, "examples": row.examples, "queue": row.queue, "priority": row.priority,
            "escalate": row.escalate, "updated_at": row.updated_at.isoformat()}  # fmt: skip


def versions(session: Session, *, tenant: str) -> list[ModelVersion]:
    return model_versions.versions(session, tenant=tenant, kind=KIND)


def active_version(session: Session, *, tenant: str) -> ModelVersion | None:
    return model_versions.active_version(session, tenant=tenant, kind=KIND)


def _pack(model: CustomIntentModel) -> bytes:
    out = io.BytesIO()
    np.savez(out, coef=model.coef.astype(np.float32), intercept=model.intercept.astype(np.float32))
    return out.getvalue()


def _unpack(version: ModelVersion) -> CustomIntentModel:
    """A stored version's model, built once per process (`model_versions.loaded`)."""

    def load(artifact: bytes) -> CustomIntentModel:
        arrays = np.load(io.BytesIO(artifact), allow_pickle=False)
        return CustomIntentModel(list(version.metrics["labels"]), arrays["coef"], arrays["intercept"],
                                 {"version_id": version.id})  # fmt: skip

    return model_versions.loaded(version, load)


def _up_to_date(latest: ModelVersion, intents: list[CustomIntent], base: str) -> bool:
    """Whether the latest version was fitted, with this base, from the intents as they are now (a repeated request
    is answered at once instead of fitting the same model again)."""
    metrics = latest.metrics or {}
    fitted_after = all(as_utc(i.updated_at) <= as_utc(latest.created_at) for i in intents)
    return metrics.get("base") == base and fitted_after and metrics.get("intents") == sorted(i.name for i in intents)


def fit_version(session: Session, *, tenant: str, base: str = "none") -> dict[str, Any]:
    """Fit a version from the tenant's intents now; it answers if it is not worse than the active one."""
    if base not in BASES:
        raise ValueError(f"base must be one of {', '.join(BASES)}")
    intents = list_intents(session, tenant=tenant)
    if len(intents) < MIN_INTENTS[base]:
        return {"status": "skipped", "reason": f"{len(intents)} intents defined: define more before fitting"}
    latest = next(iter(versions(session, tenant=tenant)), None)
    if latest is not None and _up_to_date(latest, intents, base):
        return {"status": "up to date", "version": latest.version}
    examples = [(text, row.name) for row in intents for text in row.examples]
    model, report = custom_intents.fit(examples, base=base)
    current = active_version(session, tenant=tenant)
    same_intents = current is not None and sorted((current.metrics or {}).get("labels", [])) == sorted(report.labels)
    better = not same_intents or (report.cv_accuracy or 0) >= (current.metrics or {}).get("cv_accuracy", 0)
    version = ModelVersion(
        tenant=tenant,
        kind=KIND,
        version=f"intents-{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}-{len(examples)}",
        metrics={"intents": sorted(i.name for i in intents), "labels": report.labels,
                 "cv_accuracy": report.cv_accuracy, "examples": report.examples, "base": base,
                 "active_cv_accuracy": (current.metrics or {}).get("cv_accuracy") if current else None},
        active=better,
        artifact=_pack(model),
        created_at=utcnow(),
    )  # fmt: skip
    if better and current is not None:
        current.active = False
    session.add(version)
    session.commit()
    status = "activated" if better else "kept inactive"
    return {"status": status, "version": version.version, "metrics": version.metrics}


def active_model(session: Session, *, tenant: str) -> tuple[CustomIntentModel, list[CustomIntent]] | None:
    """The tenant's answering model and its intents' routes, or None while the tenant has fitted none."""
    version = active_version(session, tenant=tenant)
    if version is None:
        return None
    return _unpack(version), list_intents(session, tenant=tenant)


def set_thresholds(session: Session, *, tenant: str, typed: float | None, spoken: float | None) -> TenantSettings:
    """The tenant's point on the shipped intent model's trade-off curve (committed): below `typed` (chats, SMS) or
    `spoken` (transcribed calls) a turn's intent is `other`; None goes back to the model's own threshold."""
    return update_tenant_settings(session, tenant=tenant, intent_threshold=typed, spoken_intent_threshold=spoken)


def thresholds(session: Session, *, tenant: str) -> tuple[float | None, float | None]:
    """The tenant's (typed, spoken) thresholds, None where it keeps the model's."""
    settings = session.get(TenantSettings, tenant)
    return (None, None) if settings is None else (settings.intent_threshold, settings.spoken_intent_threshold)
