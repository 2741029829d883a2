"""Storage: SQLAlchemy 2 tables (the same code on SQLite and PostgreSQL) and Alembic migrations."""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

from callscope.settings import get_settings
from callscope.understanding.figures import as_utc as as_utc  # re-exported: stored times are read through it

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)




class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    agent: Mapped[str | None] = mapped_column(String(100))  # an agent key's agent: who "own contacts" are
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Interaction(Base):
    __tablename__ = "interactions"
    __table_args__ = (UniqueConstraint("tenant", "idempotency_key", name="uq_interactions_idempotency"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))  # a digest of the caller's key
    request_hash: Mapped[str | None] = mapped_column(String(64))  # the request the key answered (a mismatch: 409)
    external_id: Mapped[str | None] = mapped_column(String(200))
    customer_ref: Mapped[str | None] = mapped_column(String(200))
    queue: Mapped[str | None] = mapped_column(String(100))
    agent: Mapped[str | None] = mapped_column(String(100))
    agent_channel: Mapped[str | None] = mapped_column(String(5))
    turns: Mapped[list[Any] | None] = mapped_column(JSON)
    duration_s: Mapped[float | None] = mapped_column(Float)
    intent_label: Mapped[str | None] = mapped_column(String(100), index=True)
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    handle_time: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    enqueued: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    progress: Mapped[float | None] = mapped_column(Float)
    heartbeat_at: Mapped[datetime | None] = mapped_column(index=True)
    customer_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    categories: Mapped[list[Any] | None] = mapped_column(JSON)


class AudioBlob(Base):
    """A contact's recording: the key of its object in the recording store (callscope.storage.recordings).

    Rows written before migration 0006 hold the bytes themselves in `content` and are still read from there."""

    __tablename__ = "audio_blobs"
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    filename: Mapped[str | None] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    object_key: Mapped[str | None] = mapped_column(String(400))
    size: Mapped[int | None] = mapped_column(Integer)
    # the unredacted original, sealed with the tenant's key, where the tenant's policy keeps it (admins only)
    original_key: Mapped[str | None] = mapped_column(String(400))


class Outcome(Base):
    __tablename__ = "outcomes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), unique=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    intent: Mapped[str | None] = mapped_column(String(100))
    handle_time_s: Mapped[float] = mapped_column(Float)
    queue: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    interaction: Mapped[Interaction] = relationship()  # so the unit of work inserts the contact first


class Webhook(Base):
    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Integration(Base):
    """A contact-center platform that streams calls to a tenant: Genesys AudioHook (found by its API key) or
    Twilio Media Streams (found by the id in its stream URL). The secret is sealed (AES-GCM), never returned."""

    __tablename__ = "integrations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of kind and key: the lookup
    key_prefix: Mapped[str] = mapped_column(String(16))
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A report page's login: the cookie holds a random token, this row its digest; logout deletes it."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class AuditEvent(Base):
    """Who read, exported or erased which contacts (never the contact's content)."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class TenantSettings(Base):
    __tablename__ = "tenant_settings"
    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    audio_retention_days: Mapped[int | None] = mapped_column(Integer)
    contact_retention_days: Mapped[int | None] = mapped_column(Integer)
    agent_channel: Mapped[str | None] = mapped_column(String(5))  # left/right: the tenant's channel map
    keep_original_audio: Mapped[bool | None] = mapped_column(Boolean)  # keep the unredacted recording, sealed
    agents_see_own_qa: Mapped[bool | None] = mapped_column(Boolean)  # agent keys see their own contacts' QA
    # the tenant's point on the intent model's trade-off curve (None: the model's own): typed and spoken turns
    intent_threshold: Mapped[float | None] = mapped_column(Float)
    spoken_intent_threshold: Mapped[float | None] = mapped_column(Float)


class ModelVersion(Base):
    """A trained handling-time model of one tenant, kept with its metrics; `active` answers predictions."""

    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    artifact: Mapped[bytes | None] = mapped_column(LargeBinary)


class Category(Base):
    """A supervisor's rule that tags contacts as they are analyzed."""

    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomIntent(Base):
    """One of a tenant's own intents: its example utterances and where its contacts go."""

    __tablename__ = "custom_intents"
    __table_args__ = (UniqueConstraint("tenant", "name", name="uq_custom_intents_tenant_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    examples: Mapped[list[str]] = mapped_column(JSON)
    queue: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer)
    escalate: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ThemeRun(Base):
    """The themes found among a tenant's unnamed contacts of a period (`callscope.reports.themes`)."""

    __tablename__ = "theme_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    days: Mapped[int] = mapped_column(Integer)
    contacts: Mapped[int] = mapped_column(Integer)
    themes: Mapped[list[Any]] = mapped_column(JSON)
    unassigned: Mapped[int] = mapped_column(Integer)


class QaForm(Base):
    """One version of a tenant's evaluation form (`callscope.understanding.qa.Form` as JSON)."""

    __tablename__ = "qa_forms"
    __table_args__ = (UniqueConstraint("tenant", "form_id", "version", name="uq_qa_forms_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    form_id: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QaAnswer(Base):
    """A supervisor's answer to one QA question of a contact, beside the automatic one (the agreement rate reads
    these; every answer is in the contact's `analysis.qa` and its report row's pattern)."""

    __tablename__ = "qa_answers"
    __table_args__ = (
        Index("ix_qa_answers_tenant_question", "tenant", "question"),
        Index(
            "ix_qa_answers_reviewed",
            "tenant",
            postgresql_where=text("override_by IS NOT NULL"),
            sqlite_where=text("override_by IS NOT NULL"),
        ),
    )
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    question: Mapped[str] = mapped_column(String(60), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    form_id: Mapped[str] = mapped_column(String(60))
    automatic: Mapped[str] = mapped_column(String(3))
    answer: Mapped[str] = mapped_column(String(3))
    override_by: Mapped[str | None] = mapped_column(String(16))
    override_at: Mapped[datetime | None] = mapped_column()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL and a busy timeout let the API and a worker process share one SQLite file."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # the report histograms bucket by logarithm: SQLite builds without math functions get Python's
    for name, function in (("ln", math.log), ("ceil", math.ceil)):
        dbapi_connection.create_function(name, 1, function, deterministic=True)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine (and pool) per URL per process."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(path, 0o600)  # the contacts are financial data: the owner alone reads them (its WAL too)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    settings = get_settings()
    # a process cut off the network (or frozen) in the middle of a transaction keeps its row locks until the server
    # notices: the server ends such a transaction after this long, so another worker can take the contact over
    idle = f"-c idle_in_transaction_session_timeout={int(settings.db_idle_in_transaction_s * 1000)}"
    return create_engine(
        url, pool_pre_ping=True, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
        connect_args={"options": idle} if url.startswith("postgresql") else {},
    )  # fmt: skip


@lru_cache(maxsize=8)
def get_sessionmaker(url: str) -> sessionmaker[Any]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


def migrate(url: str) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    command.upgrade(config, "head")
