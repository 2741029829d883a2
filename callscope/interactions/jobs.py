"""The steps a worker runs, each idempotent: transcribe a stored recording, analyze a stored contact.

Each takes an interaction id, loads the row, does its work and commits; running a step twice (a
redelivered task after a worker died) leaves the same single result.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import or_, select, true, update
from sqlalchemy.orm import Session

from callscope.contacts import Turn
from callscope.interactions.analyze import Batch, analyze_contact
from callscope.interactions.intake import redactions_of, stored_turns
from callscope.interactions.options import whisper_options
from callscope.settings import Settings
from callscope.storage.db import Interaction, utcnow
from callscope.storage.store import channel_map, delete_recording, load_audio, replace_audio
from callscope.understanding.redact import Redaction
from callscope.voice.audio_redaction import SPEECH_KINDS, AudioSpan, pii_spans, redact_audio
from callscope.voice.transcribe import Transcript, transcribe

FINAL = ("done", "failed")


def _load(session: Session, interaction_id: str) -> Interaction | None:
    return session.get(Interaction, interaction_id)


def start_attempt(session: Session, row: Interaction) -> bool:
    """Count one run of a step (a task execution or retry) and mark the contact as in progress; False, with
    nothing changed, when another run finished the contact meanwhile (this waits for that run's commit)."""
    with session.no_autoflush:
        status = session.execute(select(Interaction.status).where(Interaction.id == row.id).with_for_update()).scalar()
    if status in FINAL:
        session.rollback()
        return False
    row.status = "processing"
    row.attempts = (row.attempts or 0) + 1
    row.started_at = row.started_at or utcnow()
    row.heartbeat_at, row.progress = utcnow(), 0.0
    session.commit()
    return True


def claim_batch(session: Session, interaction_ids: list[str]) -> None:
    """Mark the waiting contacts of a batch a worker took as in progress, with a heartbeat: if the worker dies, the
    sweeper finds them by the heartbeat (`stale_processing_s`) instead of by their age in the queue
    (`stale_queued_s`, minutes longer). Called again while the batch runs, it keeps the heartbeat fresh."""
    now = utcnow()
    session.execute(
        update(Interaction)
        .where(Interaction.id.in_(interaction_ids), Interaction.status.in_(("queued", "processing")))
        .values(status="processing", heartbeat_at=now)
    )
    session.commit()


def heartbeat(session: Session, row: Interaction, *, every_s: float, report: Callable[[float], None] | None = None):
    """A progress callback that stores progress and a heartbeat at most every `every_s` seconds.

    The heartbeat tells the sweeper that a long transcription is alive; a stale one means its worker died.
    """
    last = 0.0

    def on_progress(done: float) -> None:
        nonlocal last
        if report is not None:
            report(done)
        if time.monotonic() - last >= every_s:
            last = time.monotonic()
            row.progress, row.heartbeat_at = round(done, 3), utcnow()
            session.commit()

    return on_progress


def first_to_finish(session: Session, row: Interaction, *, step: str) -> bool:
    """Lock the contact until the caller's commit and say whether this run may store its result.

    After a fault two runs of one step can overlap (the sweeper queued again a contact whose worker fell silent,
    then that worker came back): only the first to finish stores its transcript, recording and analysis; the other's
    work is dropped, so a contact is done once and its recording stored once."""
    with session.no_autoflush:  # this run's own changes are not written before the check
        turns, status = session.execute(
            select(Interaction.turns, Interaction.status).where(Interaction.id == row.id).with_for_update()
        ).one()
    return status not in FINAL and (step == "analyze" or turns is None)


def transcribe_step(
    session: Session, interaction_id: str, *, settings: Settings, on_progress: Callable[[float], None] | None = None
) -> bool:
    """Store redacted turns for a recording; False when there is nothing (left) to do."""
    row = _load(session, interaction_id)
    if row is None or row.status in FINAL or row.turns is not None:
        return row is not None and row.status not in FINAL
    if not start_attempt(session, row):
        return False
    # the contact's own channel map, else its tenant's, else the setting ("auto": decided from what each side says)
    agent_channel = row.agent_channel or channel_map(session, tenant=row.tenant) or settings.agent_channel
    with tempfile.NamedTemporaryFile(prefix="callscope-", suffix=".audio") as audio:  # never whole in memory
        load_audio(session, interaction_id=interaction_id, into=audio)
        transcript = transcribe(
            Path(audio.name),
            options=whisper_options(settings),
            agent_channel=agent_channel,  # type: ignore[arg-type]
            on_progress=heartbeat(session, row, every_s=settings.heartbeat_interval_s, report=on_progress),
        )
        if not first_to_finish(session, row, step="transcribe"):
            session.rollback()
            return False
        redactions = redactions_of(transcript.turns)
        row.turns = stored_turns(transcript.turns, redactions)
        row.duration_s = round(transcript.duration, 3)
        original = None
        if settings.audio_redaction != "off":  # in the same commit as the turns: the original never outlives them
            spans, original = redact_recording(session, interaction_id, audio, transcript, redactions,
                                               settings=settings)  # fmt: skip
            row.analysis = {**(row.analysis or {}), "audio_redactions": [s.as_dict() for s in spans]}
    if transcript.roles is not None:
        row.agent_channel = transcript.roles.agent_channel
        row.analysis = {**(row.analysis or {}), "roles": transcript.roles.as_dict()}
    if transcript.diarization is not None:
        row.analysis = {**(row.analysis or {}), "diarization": transcript.diarization}
    session.commit()
    delete_recording(original)  # after the commit: until then the row still pointed at it
    return True


def redact_recording(
    session: Session, interaction_id: str, audio: BinaryIO, transcript: Transcript, redactions: list[Redaction], *,
    settings: Settings,
) -> tuple[list[AudioSpan], str | None]:  # fmt: skip
    """Store the recording's copy with the spoken PII cut out (with the caller's commit); the spans cut (none: the
    recording stays as it is) and the original's key, to delete once the commit is done."""
    agent = 0 if transcript.roles is None or transcript.roles.agent_channel == "left" else 1

    def channel_of(turn: Turn) -> int | None:
        if transcript.channels < 2:
            return None
        return agent if turn.speaker == "agent" else 1 - agent

    kinds = SPEECH_KINDS | {"PERSON"} if settings.audio_redaction_names else SPEECH_KINDS
    spans = pii_spans(transcript.turns, redactions, channel_of=channel_of, kinds=kinds,
                      margin_s=settings.audio_redaction_margin_s, duration_s=transcript.duration)  # fmt: skip
    if not spans:
        return spans, None
    fill = "tone" if settings.audio_redaction == "tone" else "silence"
    with tempfile.TemporaryFile() as redacted:
        redact_audio(Path(audio.name), spans, fill=fill, into=redacted)
        redacted.seek(0)
        audio.seek(0)
        return spans, replace_audio(session, interaction_id=interaction_id, audio=redacted, original=audio)


def analyze_step(session: Session, interaction_id: str, *, batch: Batch) -> Interaction | None:
    """Analyze a contact whose turns are stored (`analyze.analyze_contact`) and mark it done."""
    row = _load(session, interaction_id)
    if row is None or row.status in FINAL or not start_attempt(session, row):
        return None
    if row.turns is None:
        raise RuntimeError(f"interaction {interaction_id} has no turns yet")
    if not first_to_finish(session, row, step="analyze"):  # the row stays locked until the commit
        session.rollback()
        return None
    analyze_contact(session, row, batch=batch)
    session.commit()
    return row


def fail(session: Session, interaction_id: str, *, reason: str) -> Interaction | None:
    """Mark a contact failed with a reason the caller can read (after bounded retries)."""
    row = _load(session, interaction_id)
    if row is None or row.status == "done":
        return None
    row.status, row.error, row.finished_at = "failed", reason[:2000], utcnow()
    session.commit()
    return row


def next_task(row: Interaction) -> str:
    """The task that moves a contact on: recordings without turns need transcription first."""
    return "callscope.transcribe" if row.channel == "voice" and row.turns is None else "callscope.analyze"


def requeue_stale(session: Session, *, send: Callable[[str, str], None], settings: Settings) -> list[str]:
    """Queue again what the broker lost: contacts never queued, queued too long, or whose worker stopped beating.

    The database is the source of truth and every step is idempotent, so a duplicate is harmless
    while a lost task would leave an accepted contact unprocessed.
    """
    now = utcnow()
    stale_queue = now - timedelta(seconds=settings.stale_queued_s)
    stale_work = now - timedelta(seconds=settings.stale_processing_s)
    rows = session.scalars(
        select(Interaction)
        .where(
            or_(
                (Interaction.status == "queued")
                & (Interaction.enqueued.is_(False) | (Interaction.updated_at < stale_queue)),
                (Interaction.status == "processing") & (Interaction.heartbeat_at < stale_work),
            )
        )
        .limit(500)
        .with_for_update(skip_locked=True)  # a row locked is being finished by a worker: not stale, and never waited on
    ).all()
    sent = []
    for row in rows:
        try:
            send(next_task(row), row.id)
        except Exception:  # broker still down: try again at the next sweep
            break
        row.enqueued, row.updated_at, row.heartbeat_at = True, now, now if row.status == "processing" else None
        sent.append(row.id)
    session.commit()
    return sent


def requeue_queued_before(
    session: Session, *, before: datetime, send: Callable[[str, str], None], after: datetime | None = None,
    batch: int = 500,
) -> list[str]:
    """Queue again every contact still waiting that was queued before `before` (and since `after`, where given):
    the broker lost those tasks.

    Raises when the broker refuses, so the caller tries again; what was sent before stays marked as sent."""
    sent: list[str] = []
    while True:
        rows = session.scalars(
            select(Interaction)
            .where(Interaction.status == "queued", Interaction.enqueued.is_(True), Interaction.updated_at < before)
            .where(Interaction.updated_at >= after if after is not None else true())
            .order_by(Interaction.updated_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        now = utcnow()
        try:
            for row in rows:
                send(next_task(row), row.id)
                row.updated_at = max(now, before)
                sent.append(row.id)
        finally:
            session.commit()
        if len(rows) < batch:
            return sent
