"""Persistence services: small keyword-only functions over a SQLAlchemy session, scoped by tenant."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import itertools
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from callscope.contacts import public_turns
from callscope.errors import Conflict, InvalidInput, NotFound
from callscope.settings import get_settings
from callscope.storage import recordings
from callscope.storage.db import (
    AudioBlob,
    Interaction,
    Outcome,
    TenantSettings,
    Webhook,
    utcnow,
)

STATUSES = ("queued", "processing", "done", "failed")
ANALYSIS_KEYS = ("intents", "entities", "sentiment", "features", "repeat_contact", "roles", "diarization",
                 "audio_redactions", "summary", "qa")  # fmt: skip


def delete_interaction(session: Session, *, tenant: str, interaction_id: str) -> None:
    """Erase a contact: its recording, turns, analysis and outcome go with the row (foreign keys cascade)."""
    row = get_interaction(session, tenant=tenant, interaction_id=interaction_id)
    _erase_recordings(session, [row.id])
    session.execute(delete(Outcome).where(Outcome.interaction_id == row.id))
    session.delete(row)
    session.commit()


def update_tenant_settings(session: Session, *, tenant: str, **values: Any) -> TenantSettings:
    """Set some of a tenant's settings (its row made on first use) and commit."""
    settings = session.get(TenantSettings, tenant) or TenantSettings(tenant=tenant)
    for name, value in values.items():
        setattr(settings, name, value)
    session.add(settings)
    session.commit()
    return settings


def set_retention(session: Session, *, tenant: str, audio_days: int | None, contact_days: int | None) -> TenantSettings:
    return update_tenant_settings(session, tenant=tenant, audio_retention_days=audio_days,
                                  contact_retention_days=contact_days)  # fmt: skip


def set_channel_map(session: Session, *, tenant: str, agent_channel: str | None) -> TenantSettings:
    """Which channel of the tenant's stereo recordings is the agent (None or "auto": decided per call)."""
    if agent_channel not in (None, "auto", "left", "right"):
        raise InvalidInput("agent_channel must be 'left', 'right' or 'auto'")
    chosen = None if agent_channel == "auto" else agent_channel
    return update_tenant_settings(session, tenant=tenant, agent_channel=chosen)


def set_keep_original(session: Session, *, tenant: str, keep: bool) -> TenantSettings:
    """Whether the tenant keeps each unredacted recording (sealed with its key, for admins) beside the redacted one."""
    if keep:
        recordings.seal(tenant, io.BytesIO(b"check"), io.BytesIO(), get_settings().recordings_key)  # refuses now
    return update_tenant_settings(session, tenant=tenant, keep_original_audio=keep)


def keeps_original(session: Session, *, tenant: str) -> bool:
    settings = session.get(TenantSettings, tenant)
    return bool(settings is not None and settings.keep_original_audio)


def load_original(session: Session, *, tenant: str, interaction_id: str) -> Iterator[bytes]:
    """The unredacted recording a tenant kept, opened with its key as it streams (admins only; the caller audits).
    The store is asked and the first record opened before this returns, so their errors are the caller's."""
    get_interaction(session, tenant=tenant, interaction_id=interaction_id)  # another tenant's answers 404
    blob = session.get(AudioBlob, interaction_id)
    if blob is None or not blob.original_key:
        raise NotFound(f"no original recording kept for interaction {interaction_id}")
    opened = recordings.unseal(tenant, recordings.recordings().stream(blob.original_key), get_settings().recordings_key)
    return itertools.chain([next(opened, b"")], opened)


def channel_map(session: Session, *, tenant: str) -> str | None:
    settings = session.get(TenantSettings, tenant)
    return settings.agent_channel if settings is not None else None


def apply_retention(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Erase recordings, and optionally whole contacts, older than each tenant's retention setting."""
    now = now or utcnow()
    erased = {"audio": 0, "contacts": 0}
    for rule in session.scalars(select(TenantSettings)):
        if rule.audio_retention_days is not None:
            cutoff = now - timedelta(days=rule.audio_retention_days)
            old = select(Interaction.id).where(Interaction.tenant == rule.tenant, Interaction.created_at < cutoff)
            erased["audio"] += _erase_recordings(session, old)
        if rule.contact_retention_days is not None:
            cutoff = now - timedelta(days=rule.contact_retention_days)
            ids = list(session.scalars(
                select(Interaction.id).where(Interaction.tenant == rule.tenant, Interaction.created_at < cutoff)
            ))  # fmt: skip
            _erase_recordings(session, ids)
            for interaction_id in ids:
                session.execute(delete(Outcome).where(Outcome.interaction_id == interaction_id))
                session.execute(delete(Interaction).where(Interaction.id == interaction_id))
            erased["contacts"] += len(ids)
    session.commit()
    return erased


def replace_audio(
    session: Session, *, interaction_id: str, audio: BinaryIO, original: BinaryIO, content_type: str = "audio/wav"
) -> str | None:
    """The stored recording becomes `audio` (its redacted copy) under a new key, with the caller's commit; the
    original's key is returned, for the caller to delete once that commit is done (`delete_recording`). `original`
    (the caller's copy of the stored recording) is sealed and kept apart where the tenant's policy says so."""
    blob = session.get(AudioBlob, interaction_id, populate_existing=True)  # as stored now, not as first read
    if blob is None:
        raise NotFound(f"no recording stored for interaction {interaction_id}")
    tenant = session.scalar(select(Interaction.tenant).where(Interaction.id == interaction_id)) or "unknown"
    key = recordings.new_key(tenant, interaction_id, "redacted.wav")
    old = blob.object_key
    if keeps_original(session, tenant=tenant) and not blob.original_key:  # stored apart, sealed with its key
        with tempfile.TemporaryFile() as sealed:
            recordings.seal(tenant, original, sealed, get_settings().recordings_key)
            sealed.seek(0)
            blob.original_key = f"sealed/{recordings.new_key(tenant, interaction_id, 'original.sealed')}"
            recordings.recordings().put(blob.original_key, sealed)
    blob.size = recordings.recordings().put(key, audio)
    blob.object_key, blob.content, blob.content_type = key, None, content_type
    return old


def delete_recording(key: str | None) -> None:
    """Delete an object no row points at any more (best effort: a failure leaves an orphan, never a lost contact)."""
    if key:
        with contextlib.suppress(recordings.RecordingStoreError):
            recordings.recordings().delete(key)


def hash_customer(tenant: str, customer_ref: str) -> str:
    """Customer references are kept only as a keyed hash: enough to spot a repeat contact, useless to anyone else."""
    key = get_settings().resolved_customer_hash_key.encode()
    return hmac.new(key, f"{tenant}\x00{customer_ref}".encode(), hashlib.sha256).hexdigest()


def previous_contact(
    session: Session, *, tenant: str, customer_hash: str, before: datetime, window_days: float, exclude: str
) -> Interaction | None:
    """The same customer's latest earlier contact within the window, if any."""
    since = before - timedelta(days=window_days)
    query = (
        select(Interaction)
        .where(Interaction.tenant == tenant, Interaction.customer_hash == customer_hash, Interaction.id != exclude)
        .where(Interaction.created_at >= since, Interaction.created_at <= before)
        .order_by(Interaction.created_at.desc())
        .limit(1)
    )
    return session.scalar(query)


MAX_IDEMPOTENCY_KEY = 255
KEY_NAMESPACES = ("post", "live")  # a posted contact's key never answers for a live session's id, nor the reverse


def idempotency_digest(key: str | None, namespace: str = "post") -> str | None:
    """What is stored of an Idempotency-Key: a digest (fixed length, no PII, whatever the caller put in it)."""
    if not key:
        return None
    if namespace not in KEY_NAMESPACES:
        raise ValueError(f"unknown key namespace {namespace!r}")
    if len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable characters")
    return hashlib.sha256(f"{namespace}\x00{key}".encode()).hexdigest()


def same_request(row: Interaction, request_hash: str | None) -> Interaction:
    """An earlier contact stored under the same key answers only the same request (payment APIs answer 409)."""
    if request_hash and row.request_hash and row.request_hash != request_hash:
        raise Conflict("this Idempotency-Key was used for a different request: use a new key for a new contact")
    return row


def mark_not_enqueued(session: Session, ids: list[str]) -> None:
    """The broker refused these: the sweeper (or a retry with the same Idempotency-Key) queues them later."""
    session.execute(update(Interaction).where(Interaction.id.in_(ids)).values(enqueued=False))
    session.commit()


def mark_enqueued(session: Session, ids: list[str]) -> None:
    session.execute(update(Interaction).where(Interaction.id.in_(ids)).values(enqueued=True))
    session.commit()


def idempotency_key_used(session: Session, *, tenant: str, key: str, namespace: str = "post") -> bool:
    """Whether a contact of the tenant was stored under this key (a live session's id, say)."""
    return by_idempotency_key(session, tenant=tenant, key=idempotency_digest(key, namespace) or "") is not None


def by_idempotency_key(session: Session, *, tenant: str, key: str) -> Interaction | None:
    return session.scalar(select(Interaction).where(Interaction.tenant == tenant, Interaction.idempotency_key == key))


def get_interaction(session: Session, *, tenant: str, interaction_id: str) -> Interaction:
    """Another tenant's contact is reported exactly like a missing one."""
    row = session.get(Interaction, interaction_id)
    if row is None or row.tenant != tenant:
        raise NotFound(f"interaction {interaction_id} not found")
    return row


def list_interactions(
    session: Session, *, tenant: str, status: str | None = None, limit: int = 50, before: str | None = None
) -> tuple[list[Interaction], str | None]:
    """Newest first; `before` is the cursor the previous page returned."""
    query = select(Interaction).where(Interaction.tenant == tenant)
    if status:
        if status not in STATUSES:
            raise InvalidInput(f"unknown status {status!r}: expected one of {', '.join(STATUSES)}")
        query = query.where(Interaction.status == status)
    if before:
        anchor = session.get(Interaction, before)
        if anchor is None or anchor.tenant != tenant:
            raise InvalidInput("unknown cursor")
        query = query.where(
            (Interaction.created_at < anchor.created_at)
            | ((Interaction.created_at == anchor.created_at) & (Interaction.id < anchor.id))
        )
    rows = list(session.scalars(query.order_by(Interaction.created_at.desc(), Interaction.id.desc()).limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def load_audio(session: Session, *, interaction_id: str, into: BinaryIO) -> None:
    """The stored recording written to `into` chunk by chunk (a worker's temporary file: never whole in memory)."""
    blob = session.get(AudioBlob, interaction_id)
    if blob is None:
        raise NotFound(f"no recording stored for interaction {interaction_id}")
    if blob.content is not None:  # stored before recordings moved to the object store
        into.write(blob.content)
    else:
        recordings.download(recordings.recordings(), blob.object_key or "", into)
    into.flush()


def recordings_in_rows(session: Session) -> int:
    """How many recordings still sit in the database (stored before recordings moved to the object store)."""
    return session.scalar(select(func.count()).select_from(AudioBlob).where(AudioBlob.content.is_not(None))) or 0


def move_recordings_to_store(
    session: Session, *, batch: int = 20, on_moved: Callable[[int], None] | None = None
) -> int:
    """Move in-row recordings to the recording store, a batch per commit, while the service runs: each row points at
    its bytes or at its object at every commit, and reads take either (`load_audio`, the audio route)."""
    moved = 0
    while True:
        rows = list(session.scalars(select(AudioBlob).where(AudioBlob.content.is_not(None)).limit(batch)))
        if not rows:
            return moved
        tenants = dict(session.execute(
            select(Interaction.id, Interaction.tenant).where(Interaction.id.in_([r.interaction_id for r in rows]))
        ).all())  # fmt: skip
        for blob in rows:
            key = recordings.new_key(tenants.get(blob.interaction_id, "unknown"), blob.interaction_id)
            blob.size = recordings.recordings().put(key, io.BytesIO(blob.content or b""))
            blob.object_key, blob.content = key, None
        session.commit()
        moved += len(rows)
        if on_moved is not None:
            on_moved(len(rows))


def _erase_recordings(session: Session, interaction_ids: Any) -> int:
    """Delete the recordings of these contacts (a list or a select of ids): their objects, then their rows."""
    query = select(AudioBlob.object_key, AudioBlob.original_key).where(AudioBlob.interaction_id.in_(interaction_ids))
    for keys in session.execute(query):
        for key in keys:
            if key:
                recordings.recordings().delete(key)
    return session.execute(delete(AudioBlob).where(AudioBlob.interaction_id.in_(interaction_ids))).rowcount


def outcome_durations(
    session: Session, *, tenant: str, intent: str | None, limit: int = 2000
) -> dict[str, list[float]]:
    """The tenant's most recent handling times for one intent, grouped by channel."""
    rows = session.execute(
        select(Outcome.channel, Outcome.handle_time_s)
        .where(Outcome.tenant == tenant, Outcome.intent == intent)
        .order_by(Outcome.created_at.desc())
        .limit(limit)
    )
    grouped: dict[str, list[float]] = {}
    for channel, seconds in rows:
        grouped.setdefault(channel, []).append(seconds)
    return grouped


def add_webhook(session: Session, *, tenant: str, url: str, secret: str) -> Webhook:
    """Store a receiver (`pipeline.webhooks.register` checks its address and makes its secret)."""
    hook = Webhook(tenant=tenant, url=url, secret=secret)
    session.add(hook)
    session.commit()
    return hook


def webhooks_for(session: Session, *, tenant: str) -> list[Webhook]:
    return list(session.scalars(select(Webhook).where(Webhook.tenant == tenant).order_by(Webhook.id)))


def delete_webhook(session: Session, *, tenant: str, webhook_id: int) -> None:
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.tenant != tenant:
        raise NotFound(f"webhook {webhook_id} not found")
    session.delete(hook)
    session.commit()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def interaction_view(row: Interaction) -> dict[str, Any]:
    """The public shape of an interaction (the API contract)."""
    view: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "channel": row.channel,
        "external_id": row.external_id,
        "customer_hash": row.customer_hash,
        "queue": row.queue,
        "agent": row.agent,
        "duration_s": row.duration_s,
        "turns": public_turns(row.turns),
        "intent": {"label": row.intent_label, "confidence": row.intent_confidence} if row.intent_label else None,
        "routing": row.routing,
        "handle_time": row.handle_time,
        **{k: (row.analysis or {}).get(k) for k in ANALYSIS_KEYS},
        "attempts": row.attempts,
        "created_at": _iso(row.created_at),
        "finished_at": _iso(row.finished_at),
    }
    if row.status == "failed":
        view["error"] = row.error
    return view


def recording_of(session: Session, *, tenant: str, interaction_id: str) -> AudioBlob | None:
    """A contact's stored recording; another tenant's contact answers like a missing one."""
    owner = session.scalar(select(Interaction.tenant).where(Interaction.id == interaction_id))
    return session.get(AudioBlob, interaction_id) if owner == tenant else None


def status_counts(session: Session) -> dict[str, int]:
    """Stored contacts by status (the metrics' gauge)."""
    rows = session.execute(select(Interaction.status, func.count()).group_by(Interaction.status))
    return {status: count for status, count in rows}


def recent_processing_s(session: Session, *, limit: int = 1000) -> list[float]:
    """Processing time (first start to finish) of the last `limit` finished contacts."""
    rows = session.execute(
        select(Interaction.started_at, Interaction.finished_at)
        .where(Interaction.status == "done", Interaction.started_at.is_not(None))
        .order_by(Interaction.finished_at.desc())
        .limit(limit)
    )
    return [(end - start).total_seconds() for start, end in rows if end]
