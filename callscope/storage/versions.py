"""A tenant's trained model versions of one kind (`model_versions`): the handling-time model, its own intents."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callscope.storage.db import ModelVersion


def versions(session: Session, *, tenant: str, kind: str) -> list[ModelVersion]:
    """Newest first."""
    query = select(ModelVersion).where(ModelVersion.tenant == tenant, ModelVersion.kind == kind)
    return list(session.scalars(query.order_by(ModelVersion.id.desc())))


def active_version(session: Session, *, tenant: str, kind: str) -> ModelVersion | None:
    """The version that answers, if any."""
    query = select(ModelVersion).where(ModelVersion.tenant == tenant, ModelVersion.kind == kind, ModelVersion.active)
    return session.scalar(query.order_by(ModelVersion.id.desc()).limit(1))


def describe(version: ModelVersion) -> dict[str, Any]:
    return {"version": version.version, "active": version.active, "created_at": version.created_at.isoformat(),
            "metrics": version.metrics}  # fmt: skip
