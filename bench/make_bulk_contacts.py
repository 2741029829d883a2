"""Build a million contacts fast for the report benches: a few hundred analyzed by the real pipeline, copied in bulk.

What is real: each of `--archetypes` contacts (default 400) is made by `make_contacts.make_turns`, redacted by
`intake.redact_turns`, analyzed by `analysis.analyze_turns` (intent model, entities, sentiment, features, summary, QA)
and tagged by the tenant's category rules; its report row is `search.contact_figures` of that contact and its search
document PostgreSQL's own `to_tsvector` of its redacted turns. What is synthetic: each of the `--count` contacts is one
of those archetypes (weighted by intent as in make_contacts) with its own id, time (over `--days`, more on weekdays
and in office hours), agent (60), customer (a pool of count/3, so repeats within 7 days happen and are linked),
outcome (handling time: the intent's typical time x channel x a lognormal spread, slower agents and queue; 11%
transferred) and QA answers (the archetype's, in its report row). Rows go in with PostgreSQL COPY; the outcome
trigger is bypassed because the report rows are written with their outcome already in them.

    .venv/bin/python bench/make_bulk_contacts.py --count 1000000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/callscope_bench1m
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_contacts  # noqa: E402  (bench/make_contacts.py: the same conversations and intents)

INTENT_WEIGHTS = [8, 3, 9, 4, 3, 5, 6, 3, 4, 5, 3, 2, 4, 3, 2, 3, 1, 2]
INTERACTION_COLUMNS = [
    "id", "tenant", "channel", "status", "turns", "duration_s", "intent_label", "intent_confidence", "routing",
    "handle_time", "attempts", "enqueued", "created_at", "updated_at", "finished_at", "progress", "customer_hash",
    "analysis", "categories", "queue", "agent",
]  # fmt: skip


def archetypes(url: str, tenant: str, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` contacts through the real redaction, analysis and category rules (not stored)."""
    from callscope.contacts import Turn
    from callscope.interactions.analysis import Resources, analyze_turns, no_outcomes
    from callscope.interactions.intake import redact_turns
    from callscope.settings import get_settings
    from callscope.storage.db import Interaction, get_sessionmaker
    from callscope.storage.search import contact_text
    from callscope.tenants import categories
    from callscope.understanding.figures import contact_figures

    rng = random.Random(seed)
    resources = Resources.from_settings(get_settings())
    intents = list(make_contacts.INTENTS)
    made = []
    with get_sessionmaker(url)() as session:
        for i in range(n):
            intent = rng.choices(intents, INTENT_WEIGHTS)[0]
            channel = rng.choices(["voice", "chat", "sms"], [5, 3, 2])[0]
            factor = {"voice": 1.0, "chat": 1.3, "sms": 0.8}[channel] * rng.lognormvariate(0, 0.45)
            seconds = 0.85 * make_contacts.INTENTS[intent][1] * factor
            raw = make_contacts.make_turns(intent, channel, rng, seconds=seconds)
            turns = [Turn.model_validate(t) for t in redact_turns([Turn.model_validate(t) for t in raw])]
            duration = raw[-1]["end"] if channel == "voice" else None
            result = analyze_turns(
                turns, channel=channel, resources=resources, outcomes=no_outcomes, duration_s=duration
            )
            row = Interaction(
                id=f"archetype-{i}", tenant=tenant, channel=channel, status="done", duration_s=duration,
                turns=[t.model_dump() for t in turns], intent_label=result.intent.label,
                intent_confidence=result.intent.confidence, routing=result.routing.model_dump(),
                handle_time=result.handle_time.model_dump(), analysis=result.details(), queue=result.routing.queue,
                created_at=datetime.now(UTC),
            )  # fmt: skip
            categories.tag(session, row)
            session.expunge_all()
            names = sorted({str(c)[:100] for c in row.categories or [] if c})
            figures = {**contact_figures(row), "categories": "|" + "|".join(names) + "|" if names else None}
            made.append({"row": row, "factor": factor, "typical": make_contacts.INTENTS[intent][1],
                         "figures": figures, "body": contact_text(row)})  # fmt: skip
            print(f"\rarchetypes {i + 1}/{n}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return made


def build(url: str, *, tenant: str, count: int, days: int, n_archetypes: int, seed: int) -> None:
    import psycopg

    from callscope.storage.db import migrate

    migrate(url)
    make_contacts._seed_categories(url, tenant)
    started = time.perf_counter()
    types = archetypes(url, tenant, n_archetypes, seed)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        for a in types:  # the search document, as index_contacts makes it
            a["tsv"] = conn.execute("SELECT to_tsvector('english', %s)::text", (a["body"],)).fetchone()[0]
    print(f"archetypes analyzed in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    rng = random.Random(seed + 1)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    agents = [f"agent-{i:03d}" for i in range(60)]
    slow = set(agents[:6])
    customers = max(1, count // 3)
    stamps = []
    for _ in range(count):  # office hours and weekdays are busier
        while True:
            when = now - timedelta(days=rng.random() * days)
            when = when.replace(hour=rng.choices(range(24), [1] * 7 + [6] * 11 + [2] * 6)[0])
            if when.weekday() < 5 or rng.random() < 0.45:
                break
        stamps.append(when)
    stamps.sort()
    last_by_customer: dict[int, tuple[datetime, str]] = {}
    copied = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        # no triggers (the report rows carry their outcome; the rollups are built once at the end)
        conn.execute("SET session_replication_role = replica")
        with conn.cursor() as cur:
            with cur.copy(f"COPY interactions ({', '.join(INTERACTION_COLUMNS)}) FROM STDIN") as interactions:
                report_rows, outcome_rows, search_rows = [], [], []
                for n, when in enumerate(stamps):
                    a = rng.choice(types)
                    row, figures = a["row"], a["figures"]
                    contact_id = str(uuid.uuid4())
                    customer = rng.randrange(customers)
                    customer_hash = hashlib.sha256(f"{tenant}:{customer}".encode()).hexdigest()
                    previous = last_by_customer.get(customer)
                    repeat_of = previous[1] if previous and when - previous[0] < timedelta(days=7) else None
                    last_by_customer[customer] = (when, contact_id)
                    agent = rng.choice(agents)
                    queue = rng.choice(make_contacts.QUEUES) if rng.random() < 0.15 else row.queue
                    repeat = {"is_repeat": repeat_of is not None, "known_customer": True}
                    if repeat_of and previous:
                        hours = round((when - previous[0]).total_seconds() / 3600, 1)
                        repeat |= {"previous_id": repeat_of, "hours_since": hours}
                    analysis = {**(row.analysis or {}), "repeat_contact": repeat}
                    interactions.write_row([
                        contact_id, tenant, row.channel, "done", json.dumps(row.turns), row.duration_s,
                        row.intent_label, row.intent_confidence, json.dumps(row.routing),
                        json.dumps(row.handle_time), 1, True, when, when, when, 1.0, customer_hash,
                        json.dumps(analysis), json.dumps(row.categories), queue, agent,
                    ])  # fmt: skip
                    actual = resolution = None
                    if rng.random() < 0.92:
                        factor = a["factor"] * (1.9 if queue == "general" else 1.0) * (1.4 if agent in slow else 1.0)
                        actual = round(max(20.0, rng.lognormvariate(0, 0.15) * a["typical"] * factor), 1)
                        resolution = rng.choices(["resolved", "transferred", "abandoned"], [84, 11, 5])[0]
                        outcome_rows.append((contact_id, tenant, row.channel, row.intent_label, actual, queue,
                                             resolution, when))  # fmt: skip
                    report_rows.append({**figures, "interaction_id": contact_id, "created_at": when, "day": when.date(),
                                        "queue": queue, "agent": agent, "actual_s": actual, "resolution": resolution,
                                        "outcome_queue": queue if actual is not None else None,
                                        "repeat": repeat_of is not None, "repeat_of": repeat_of,
                                        "known_customer": True})  # fmt: skip
                    search_rows.append((contact_id, a["tsv"]))
                    if (n + 1) % 10_000 == 0:
                        print(f"\rcontacts {n + 1}/{count}", end="", file=sys.stderr)
            print(file=sys.stderr)
            columns = list(report_rows[0])
            with cur.copy(f"COPY report_contacts ({', '.join(columns)}) FROM STDIN") as copy:
                for r in report_rows:
                    copy.write_row([r[c] for c in columns])
            with cur.copy("COPY outcomes (interaction_id, tenant, channel, intent, handle_time_s, queue, resolution, "
                          "created_at) FROM STDIN") as copy:  # fmt: skip
                for r in outcome_rows:
                    copy.write_row(r)
            with cur.copy("COPY report_search (interaction_id, document) FROM STDIN") as copy:
                for r in search_rows:
                    copy.write_row(r)
        conn.commit()
    print(f"{count} contacts copied in {time.perf_counter() - copied:.0f} s", file=sys.stderr)
    rolled = time.perf_counter()
    from callscope.reports import rollups
    from callscope.storage.db import get_sessionmaker

    with get_sessionmaker(url)() as session:
        done = rollups.rebuild(session, tenant)
    print(f"rollups of {done['days']} days, {done['months']} months built in {time.perf_counter() - rolled:.0f} s",
          file=sys.stderr)  # fmt: skip
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # fresh planner statistics, as autovacuum gives a long-lived database
    print(f"done in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--count", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/callscope_bench1m")
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--archetypes", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from callscope.settings import Settings

    url = Settings(database_url=args.database_url).resolved_database_url
    build(url, tenant=args.tenant, count=args.count, days=args.days, n_archetypes=args.archetypes, seed=args.seed)


if __name__ == "__main__":
    main()
