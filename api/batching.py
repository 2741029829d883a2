"""Group commit for text contacts: requests that arrive together are stored and queued together.

Each request waits for the batch it joined; a batch takes whatever has queued up while the previous one was
being written, so a quiet API answers one request at a time with no added delay, while a busy one pays for
the NER, the insert, the commit and the broker message once per batch instead of once per contact.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any

import anyio
from fastapi import HTTPException
from sqlalchemy.exc import DataError, IntegrityError

from api.deps import open_session
from api.enqueue import send_task
from callscope.errors import CallscopeError, InvalidInput
from callscope.interactions import intake
from callscope.interactions.jobs import next_task
from callscope.storage import store

log = logging.getLogger("callscope.api")
MAX_BATCH = 128
IN_FLIGHT = 2  # batches written at once: one's NER runs while the other waits on the database
QUEUE_UNAVAILABLE = HTTPException(
    503, "the queue is unavailable; retry with the same Idempotency-Key", headers={"Retry-After": "5"}
)


def store_and_queue(contacts: list[intake.NewTextContact]) -> list[intake.Accepted | Exception]:
    """Commit the batch, then publish its analysis tasks; a contact whose publish failed answers 503.

    Each request of a batch stands alone: when the batch's insert fails (a key inserted concurrently by another
    API process, a value the database refuses), every contact is stored again on its own, and only the one at fault
    gets the error."""
    with open_session() as session:
        try:
            answers = intake.create_text_interactions(session, contacts)
        except (IntegrityError, DataError):
            session.rollback()
            return [_alone(c) for c in contacts]
        pending = [a for a in answers if isinstance(a, intake.Accepted) and a.needs_queue]
        if not pending:
            return list(answers)
        try:
            send_task("callscope.analyze_many", [a.id for a in pending])  # one message for the batch
        except Exception as exc:
            log.warning("broker unavailable, %d contacts stay queued: %s", len(pending), exc.__class__.__name__)
            store.mark_not_enqueued(session, [a.id for a in pending])
            failed = {a.id for a in pending}
            return [QUEUE_UNAVAILABLE if a.id in failed else a for a in answers]
        earlier = [a.id for a in pending if not a.created]
        if earlier:
            store.mark_enqueued(session, earlier)
        return list(answers)


def _alone(contact: intake.NewTextContact) -> intake.Accepted | Exception:
    try:
        return store_one(**asdict(contact))
    except DataError:
        return InvalidInput("a value cannot be stored: a number out of range or text the database refuses")
    except CallscopeError as exc:
        return exc


def store_one(**contact: Any) -> intake.Accepted | Exception:
    """The unbatched path (recordings; a batch whose insert hit a concurrent duplicate): commit, then queue."""
    with open_session() as session:
        row, created = intake.create_interaction(session, **contact)
        if created or not row.enqueued:
            # A new row is committed as `enqueued`, so the happy path costs one commit; a failed publish flips it
            # back and the sweeper (or a retry with the same Idempotency-Key) queues it later.
            try:
                send_task(next_task(row), row.id)
            except Exception as exc:
                log.warning("broker unavailable, interaction %s stays queued: %s", row.id, exc.__class__.__name__)
                store.mark_not_enqueued(session, [row.id])
                return QUEUE_UNAVAILABLE
            if not row.enqueued:
                store.mark_enqueued(session, [row.id])
        return intake.Accepted(row.id, row.status, created=created, needs_queue=False)


class IngestBatcher:
    """One per API process: requests `submit` a contact and await its answer; `run` writes batches."""

    def __init__(self) -> None:
        self.waiting: asyncio.Queue[tuple[intake.NewTextContact, asyncio.Future[intake.Accepted]]] = asyncio.Queue()
        self.writing: set[asyncio.Task[None]] = set()

    async def submit(self, contact: intake.NewTextContact) -> intake.Accepted:
        answer: asyncio.Future[intake.Accepted] = asyncio.get_running_loop().create_future()
        await self.waiting.put((contact, answer))
        return await answer

    async def run(self) -> None:
        slots = asyncio.Semaphore(IN_FLIGHT)
        while True:
            batch = [await self.waiting.get()]
            await slots.acquire()  # while every slot is busy, the batch grows
            while len(batch) < MAX_BATCH and not self.waiting.empty():
                batch.append(self.waiting.get_nowait())
            task = asyncio.create_task(self.write(batch, slots))
            self.writing.add(task)
            task.add_done_callback(self.writing.discard)

    async def write(
        self, batch: list[tuple[intake.NewTextContact, asyncio.Future[intake.Accepted]]], slots: asyncio.Semaphore
    ) -> None:
        try:
            answers = await anyio.to_thread.run_sync(store_and_queue, [c for c, _ in batch])
        except Exception as exc:  # the database is down: every request of the batch gets the same error
            answers = [exc] * len(batch)
        finally:
            slots.release()
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():  # the client went away
                continue
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)
