"""A tenant's trained model versions of one kind (`model_versions`): the handling-time model, its own intents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from callscope.storage.db import ModelVersion


def versions(session: Session, *, tenant: str, kind: str) -> list[ModelVersion]:
    """Newest first."""
    query = select(ModelVersion).where(ModelVersion.tenant == tenant, ModelVersion.kind == kind)
    return list(session.scalars(query.order_by(ModelVersion.id.desc())))


def active_version(session: Session, *, tenant: str, kind: str) -> ModelVersion | None:
    """The version that answers, if any; its artifact is read only when used (callers cache models by version id)."""
    query = select(ModelVersion).where(ModelVersion.tenant == tenant, ModelVersion.kind == kind, ModelVersion.active)
    return session.scalar(query.options(defer(ModelVersion.artifact)).order_by(ModelVersion.id.desc()).limit(1))


def describe(version: ModelVersion) -> dict[str, Any]:
    return {"version": version.version, "active": version.active, "created_at": version.created_at.isoformat(),
            "metrics": version.metrics}  # fmt: skip


Model = TypeVar("Model")
_LOADED: dict[int, Any] = {}  # by version id: versions never change once written
_MOST_LOADED = 256


def loaded(version: ModelVersion, load: Callable[[bytes], Model]) -> Model:
    """A version's model, built from its artifact once per process; the artifact is read from the database only
    then (`active_version` defers it), not for every contact."""
    if version.id not in _LOADED:
        if len(_LOADED) >= _MOST_LOADED:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[version.id] = load(version.artifact or b"")
    return _LOADED[version.id]
