"""A batch of contacts through `analyze_contact` (what the worker's `analyze_many` runs): each tenant's stored
figures read once per batch, a fresh batch sees what changed, and spaCy reads each turn once (the redaction's
NER reading is kept with the stored turn)."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from callscope.contacts import ContactMeta, Turn
from callscope.interactions import intake, jobs
from callscope.interactions.analyze import Batch
from callscope.settings import get_settings
from callscope.storage.db import Interaction, get_engine, get_sessionmaker
from callscope.tenants import categories

LOST = "I lost my card at Barclays on 12 March and need a new one"
SALARY = "My salary from Acme Holdings has not arrived this month"


@contextmanager
def tables_read(database: str) -> Iterator[Counter[str]]:
    """How many SELECTs read each table while the block runs."""
    counts: Counter[str] = Counter()

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            counts.update(set(re.findall(r"FROM (\w+)", statement)))

    engine = get_engine(database)
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def stored_contacts(session, tenant: str, texts: list[str]) -> list[str]:
    ids = []
    for text in texts:
        turns = [Turn(speaker="customer", text=text), Turn(speaker="agent", text="Let me look at that for you.")]
        row, _ = intake.create_interaction(session, tenant=tenant, channel="chat", meta=ContactMeta(), turns=turns)
        ids.append(row.id)
    return ids


def add_category(session, tenant: str, name: str, phrase: str) -> None:
    body = categories.CategoryIn(name=name, rule=categories.Rule(phrases=[phrase]))
    categories.create_category(session, tenant=tenant, body=body)


def analyze_batch(session_factory, ids: list[str]) -> Batch:
    batch = Batch.from_settings(get_settings())
    with session_factory() as session:
        batch.prepare(session, ids)
    for interaction_id in ids:
        with session_factory() as session:
            assert jobs.analyze_step(session, interaction_id, batch=batch).status == "done"
    return batch


def test_a_batch_reads_each_tenants_rules_and_model_once_and_the_next_batch_sees_new_ones(database, session):
    made = get_sessionmaker(database)
    tenant = f"batch-{uuid.uuid4().hex[:8]}"
    add_category(session, tenant, "lost card", "lost my card")
    first = stored_contacts(session, tenant, [LOST, SALARY, LOST, SALARY, LOST, SALARY])
    with tables_read(database) as counts:
        analyze_batch(made, first)
    # its category rules once; its versions twice: the own-intent model and the handling-time model
    assert counts["categories"] == 1 and counts["model_versions"] == 2 and counts["qa_forms"] == 1, counts
    tagged = [session.get(Interaction, i).categories for i in first]
    assert tagged == [["lost card"], [], ["lost card"], [], ["lost card"], []]

    add_category(session, tenant, "salary", "salary")
    second = stored_contacts(session, tenant, [SALARY])
    analyze_batch(made, second)
    session.expire_all()
    assert session.get(Interaction, second[0]).categories == ["salary"]


def test_the_analysis_reads_organisations_and_dates_from_the_ner_reading_kept_at_intake(database, session):
    """Stored turns carry the redaction's NER reading; the analysis's entities are those of reading again."""
    tenant = f"batch-{uuid.uuid4().hex[:8]}"
    (kept,) = stored_contacts(session, tenant, [LOST])
    (again,) = stored_contacts(session, tenant, [LOST])
    row = session.get(Interaction, again)
    assert all("ner" in turn for turn in row.turns)
    row.turns = [{k: v for k, v in turn.items() if k != "ner"} for turn in row.turns]  # as stored before: no reading
    session.commit()

    analyze_batch(get_sessionmaker(database), [kept, again])
    session.expire_all()
    entities = [session.get(Interaction, i).analysis["entities"] for i in (kept, again)]
    assert entities[0] == entities[1]
    assert {"ORG", "DATE"} <= {e["type"] for e in entities[0]}


def test_of_two_overlapping_runs_of_a_step_only_the_first_to_finish_stores_its_result(database, session):
    """After a fault the sweeper can queue a contact again while its first worker still runs (it fell silent, then
    came back): the slower run finds the contact finished under the row's lock and drops its work."""
    tenant = f"overlap-{uuid.uuid4().hex[:6]}"
    [contact] = stored_contacts(session, tenant, [LOST])
    batch = Batch.from_settings(get_settings())
    factory = get_sessionmaker(database)
    with factory() as slow:
        row = slow.get(Interaction, contact)
        jobs.start_attempt(slow, row)
        with factory() as fast:  # the second run starts and finishes while the first is still working
            assert jobs.analyze_step(fast, contact, batch=batch).status == "done"
        assert not jobs.first_to_finish(slow, row, step="analyze")
        slow.rollback()
        assert jobs.analyze_step(slow, contact, batch=batch) is None  # done: nothing more to store
    with factory() as fresh:
        stored = fresh.get(Interaction, contact)
        assert stored.status == "done" and stored.attempts == 2
    # a step whose result is already there is also refused to a transcription run
    with factory() as late:
        assert not jobs.first_to_finish(late, late.get(Interaction, contact), step="transcribe")
