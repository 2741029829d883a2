"""Contacts coming in: turns and metadata redacted before anything is stored, then stored (`storage.store`).

Every way in (posted, batched, live, imported) stores a contact through here, so redaction happens once per turn."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callscope.contacts import ContactMeta, Turn
from callscope.errors import Conflict
from callscope.storage import recordings
from callscope.storage.db import AudioBlob, Interaction, Outcome, utcnow
from callscope.storage.store import by_idempotency_key, get_interaction, hash_customer, idempotency_digest, same_request
from callscope.understanding.redact import Redaction, redact_many
from callscope.voice.number_pass import number_regions
from callscope.voice.transcribe import probe


def redactions_of(turns: list[Turn], contacts: list[int] | None = None) -> list[Redaction]:
    """Each turn's redaction. `contacts` (one index per turn) keeps several contacts' turns apart: a number read out
    over a speaker's turns is redacted as one within a contact, never across two."""
    owners = contacts if contacts is not None else [0] * len(turns)
    speakers = [(c, t.speaker) for c, t in zip(owners, turns, strict=True)]
    return redact_many([t.text for t in turns], speakers=speakers, also=number_regions(turns, speakers))


def stored_turns(turns: list[Turn], redactions: list[Redaction]) -> list[dict[str, Any]]:
    """Turns as stored: the redacted text and its placeholders (their offsets kept), and the organisations and dates
    the redaction's NER read (so the analysis need not read the turn again); word timings never."""
    return [
        {**t.model_dump(), "text": r.text, "redactions": [asdict(span) for span in r.spans],
         **({"ner": r.entities} if r.entities is not None else {})}
        for t, r in zip(turns, redactions, strict=True)
    ]


def redact_turns(turns: list[Turn], contacts: list[int] | None = None) -> list[dict[str, Any]]:
    """Turns as stored: PII replaced by typed placeholders before anything reaches the database."""
    return stored_turns(turns, redactions_of(turns, contacts))


def create_interaction(
    session: Session,
    *,
    tenant: str,
    channel: str,
    meta: ContactMeta,
    idempotency_key: str | None = None,
    turns: list[Turn] | None = None,
    audio: BinaryIO | None = None,
    filename: str | None = None,
    content_type: str | None = None,
    agent_channel: str | None = None,
    request_hash: str | None = None,
    key_namespace: str = "post",
) -> tuple[Interaction, bool]:
    """Store a new contact (committed before anything is queued); a repeated idempotency key returns the first,
    if it answered the same request (`request_hash`), else raises Conflict."""
    idempotency_key = idempotency_digest(idempotency_key, key_namespace)
    if idempotency_key:
        existing = by_idempotency_key(session, tenant=tenant, key=idempotency_key)
        if existing is not None:
            return same_request(existing, request_hash), False
    turns_stored = redact_turns(turns) if turns is not None else None
    row = Interaction(**new_row(tenant, channel, meta, idempotency_key, turns_stored), agent_channel=agent_channel,
                      request_hash=request_hash)  # fmt: skip
    session.add(row)
    key = None
    try:
        if audio is not None:
            session.flush()  # the row first: the blob's foreign key points at it
            key = recordings.new_key(tenant, row.id)
            size = recordings.recordings().put(key, audio)  # stored before the row that points at it
            session.add(AudioBlob(interaction_id=row.id, filename=filename, content_type=content_type, object_key=key,
                                  size=size))  # fmt: skip
        session.commit()
    except IntegrityError:
        session.rollback()
        if key is not None:
            recordings.recordings().delete(key)
        existing = by_idempotency_key(session, tenant=tenant, key=idempotency_key or "")
        if existing is None:
            raise
        return same_request(existing, request_hash), False
    return row, True


def new_row(
    tenant: str, channel: str, meta: ContactMeta, idempotency_key: str | None, turns: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """A new contact's columns; `enqueued` because the caller publishes right after the commit (and flips it back
    if that fails)."""
    return {
        "id": str(uuid.uuid4()),
        "tenant": tenant,
        "channel": channel,
        "status": "queued",
        "enqueued": True,
        "idempotency_key": idempotency_key,
        "turns": turns,
        "customer_hash": hash_customer(tenant, meta.customer_ref) if meta.customer_ref else None,
        **{field: redacted_label(value) for field, value in meta.model_dump(exclude={"customer_ref"}).items()},
    }


def redacted_label(value: str | None) -> str | None:
    """A free-text field a caller sends beside the turns (an external id, a queue, an agent, a resolution) as stored:
    numbers that are PII redacted like the turns' (names kept: an agent's name is how reports group contacts)."""
    return redact_many([value], names=False)[0].text if value else value


@dataclass(frozen=True)
class NewTextContact:
    tenant: str
    channel: str
    meta: ContactMeta
    idempotency_key: str | None
    turns: list[Turn]
    request_hash: str | None = None


@dataclass(frozen=True)
class Accepted:
    id: str
    status: str
    created: bool
    needs_queue: bool  # new, or stored earlier but never queued


def create_text_interactions(session: Session, contacts: list[NewTextContact]) -> list[Accepted | Conflict]:
    """Store many text contacts at once: one NER pass over all their turns, one insert, one commit.

    This is the API's group commit under load; a repeated idempotency key (earlier or within the batch) answers
    with the first contact, as `create_interaction` does, or a Conflict for that contact alone where the body
    differs. A key inserted concurrently by another process makes the insert fail as a whole; the caller then
    stores the batch one contact at a time.
    """
    contacts = [dataclasses.replace(c, idempotency_key=idempotency_digest(c.idempotency_key)) for c in contacts]
    existing: dict[tuple[str, str], Interaction] = {}
    for tenant in {c.tenant for c in contacts}:
        keys = [c.idempotency_key for c in contacts if c.tenant == tenant and c.idempotency_key]
        if keys:
            query = select(Interaction).where(Interaction.tenant == tenant, Interaction.idempotency_key.in_(keys))
            existing.update({(tenant, row.idempotency_key or ""): row for row in session.scalars(query)})
    redacted = iter(
        redact_turns([t for c in contacts for t in c.turns], [i for i, c in enumerate(contacts) for _ in c.turns])
    )
    new_rows: list[dict[str, Any]] = []
    answers: list[Accepted | Conflict] = []
    in_batch: dict[tuple[str, str], tuple[Accepted, str | None]] = {}
    for contact in contacts:
        turns = [next(redacted) for _ in contact.turns]
        key = (contact.tenant, contact.idempotency_key or "")
        try:
            if contact.idempotency_key and key in existing:
                row = same_request(existing[key], contact.request_hash)
                answers.append(Accepted(row.id, row.status, created=False, needs_queue=not row.enqueued))
            elif contact.idempotency_key and key in in_batch:
                first, first_hash = in_batch[key]
                if contact.request_hash and first_hash and contact.request_hash != first_hash:
                    raise Conflict("this Idempotency-Key was used for a different request: use a new key")
                answers.append(Accepted(first.id, "queued", created=False, needs_queue=False))
            else:
                fields = new_row(contact.tenant, contact.channel, contact.meta, contact.idempotency_key, turns)
                new_rows.append({**fields, "request_hash": contact.request_hash})
                answers.append(Accepted(fields["id"], "queued", created=True, needs_queue=True))
                if contact.idempotency_key:
                    in_batch[key] = (answers[-1], contact.request_hash)  # type: ignore[assignment]
        except Conflict as exc:
            answers.append(exc)
    if new_rows:
        session.execute(insert(Interaction), new_rows)
    session.commit()
    return answers


def record_outcome(
    session: Session,
    *,
    tenant: str,
    interaction_id: str,
    handle_time_s: float,
    queue: str | None,
    resolution: str | None,
) -> Outcome:
    """Store (or replace) the actual handling time reported by the call center."""
    row = get_interaction(session, tenant=tenant, interaction_id=interaction_id)
    outcome = session.scalar(select(Outcome).where(Outcome.interaction_id == row.id)) or Outcome(
        interaction_id=row.id, tenant=tenant
    )
    outcome.channel, outcome.intent = row.channel, row.intent_label
    outcome.handle_time_s, outcome.queue, outcome.resolution = handle_time_s, redacted_label(queue), redacted_label(
        resolution
    )
    outcome.created_at = utcnow()
    session.add(outcome)
    session.commit()
    return outcome


def recording_duration(audio: BinaryIO) -> float | None:
    """An upload's length in seconds, read from its header (`voice.transcribe.probe`: refuses what is not audio)."""
    return probe(audio)
