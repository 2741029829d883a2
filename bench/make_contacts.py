"""Build N analyzed contacts with outcomes (default 100,000) through Callscope's own ingestion and storage code.

Every contact goes through `intake.create_interaction` (redaction included), `analysis.analyze_turns` (the real
intent model, entities, sentiment, conversation features, routing, handling time; stored as `details()`),
`categories.tag`, `search.index_contact` and `intake.record_outcome`: no raw SQL. Texts come from a finite pool of
templates, so the pure per-text functions (redaction, intent, entity extraction) are memoized: each distinct text
is still processed by the real code once, which keeps 100,000 contacts to about an hour on two shared cores.

    .venv/bin/python bench/make_contacts.py --database-url postgresql://postgres@127.0.0.1:5432/callscope_bench
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import random
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/callscope_bench"
QUEUES = ["cards", "payments", "transfers", "security", "fx", "top_up", "identity", "general"]
# intent -> (customer templates, typical handling seconds)
INTENTS: dict[str, tuple[list[str], float]] = {
    "card_arrival": (
        [
            "my new card still has not arrived, it was ordered on {date}",
            "I ordered a card two weeks ago and it never came",
        ],
        240,
    ),
    "lost_or_stolen_card": (
        [
            "I lost my card at {merchant}, the number is {card}, please block it",
            "my wallet was stolen with my debit card in it",
        ],
        520,
    ),
    "declined_card_payment": (
        ["my card was declined at {merchant} for {amount}", "why was my payment of {amount} at {merchant} declined"],
        330,
    ),
    "card_payment_not_recognised": (
        [
            "there is a payment of {amount} to {merchant} that I do not recognise",
            "I never made this {merchant} transaction of {amount}",
        ],
        610,
    ),
    "transaction_charged_twice": (
        [
            "{merchant} charged me twice, {amount} each time",
            "I was billed two times for the same purchase at {merchant}",
        ],
        420,
    ),
    "request_refund": (
        ["I want a refund for the {amount} I paid {merchant}", "how do I get my money back from {merchant}"],
        380,
    ),
    "pending_transfer": (
        ["my transfer of {amount} to {name} is still pending", "I sent money on {date} and it still shows pending"],
        300,
    ),
    "transfer_not_received_by_recipient": (
        ["{name} has not received the {amount} I sent", "the transfer to my landlord never arrived"],
        450,
    ),
    "balance_not_updated_after_bank_transfer": (
        [
            "my balance did not update after the bank transfer on {date}",
            "I transferred {amount} but my balance is the same",
        ],
        280,
    ),
    "exchange_rate": (["what exchange rate do you use for euros", "how much will {amount} be in dollars"], 150),
    "top_up_failed": (["my top up of {amount} failed", "I tried to top up with my card and it did not work"], 260),
    "top_up_limits": (["what is the maximum I can top up", "is there a limit on top ups per day"], 140),
    "verify_my_identity": (["how do I verify my identity", "the app keeps asking me to verify who I am"], 360),
    "change_pin": (["I want to change my PIN", "how can I set a new pin for my card"], 180),
    "pin_blocked": (["my PIN is blocked after three tries", "I entered the wrong pin and now it is blocked"], 310),
    "atm_support": (["which ATMs can I use abroad", "can I use my card at any cash machine"], 160),
    "terminate_account": (["I want to close my account", "please cancel my account, I am moving banks"], 540),
    "cash_withdrawal_charge": (["why was I charged a fee for taking cash out", "the ATM charged me {amount}"], 270),
}
AGENT_OPEN = ["Thank you for calling, my name is {agent_name}, how can I help?", "Hello, how can I help you today?"]
AGENT_MIDDLE = [
    "Let me check that for you, one moment please.",
    "I can see the transaction on your account.",
    "Could you confirm the last four digits of the card?",
    "I have raised a case for this, you will hear from us in three days.",
    "I am sorry about the trouble, I will transfer you to the right team.",
    "That has been updated now.",
]
AGENT_CLOSE = ["Is there anything else I can help with?", "Thank you for your patience, goodbye."]
CUSTOMER_MIDDLE = [
    "Yes, that's right.",
    "It ends in {last4}.",
    "This is really frustrating, it happened before.",
    "Okay, thank you so much.",
    "I already called about this last week!",
    "Sure, go ahead.",
]
MERCHANTS = ["Tesco", "Amazon", "Uber", "Netflix", "Sainsbury's", "Shell", "Ryanair", "Apple", "Deliveroo", "Argos"]
AMOUNTS = ["£12.50", "£49.99", "£120", "£7.20", "£300", "£1,250", "€80", "$35"]
NAMES = ["Sarah Jones", "Tom Baker", "Priya Patel", "John Smith", "Maria Garcia"]
CARDS = ["4111 1111 1111 1111", "5500 0000 0000 0004", "4539 1488 0343 6467"]
DATES = ["Monday", "the 3rd of March", "last Friday", "12/03/2026"]


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        merchant=rng.choice(MERCHANTS),
        amount=rng.choice(AMOUNTS),
        name=rng.choice(NAMES),
        card=rng.choice(CARDS),
        date=rng.choice(DATES),
        last4=rng.choice(["1111", "0004", "6467"]),
        agent_name=rng.choice(["Alex", "Sam", "Jordan", "Chris"]),
    )


def make_turns(intent: str, channel: str, rng: random.Random, *, seconds: float) -> list[dict[str, Any]]:
    """A plausible conversation; voice turns carry times with pauses and some overtalk, lasting about `seconds`."""
    opener = _fill(rng.choice(INTENTS[intent][0]), rng)
    lines = [("agent", _fill(rng.choice(AGENT_OPEN), rng)), ("customer", opener)]
    for _ in range(rng.randint(1, 3)):
        lines += [("agent", rng.choice(AGENT_MIDDLE)), ("customer", _fill(rng.choice(CUSTOMER_MIDDLE), rng))]
    lines.append(("agent", rng.choice(AGENT_CLOSE)))
    turns, clock = [], 0.0
    for speaker, text in lines:
        if channel == "voice":
            clock += rng.choice([0.3, 0.6, 1.0, 2.5, -0.8]) if turns else 0.5
            clock += 8.0 if rng.random() < 0.05 else 0.0  # a long hold now and then
            start = max(0.0, clock)
            end = start + 0.35 * len(text.split()) + 0.4
            clock = end
        else:
            clock += rng.choice([5.0, 20.0, 60.0])
            start = end = clock
        turns.append({"speaker": speaker, "start": start, "end": end, "text": text})
    scale = seconds / max(1.0, turns[-1]["end"]) if channel == "voice" else 1.0
    return [{**t, "start": round(t["start"] * scale, 2), "end": round(t["end"] * scale, 2)} for t in turns]


class CachedIntentModel:
    """The real intent model, memoized per text (prediction is a pure function of the text)."""

    def __init__(self, model: Any) -> None:
        self.model, self.cache = model, {}

    def predict(self, texts: list[str]) -> list[Any]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.model.predict(missing), strict=True))
        return [self.cache[t] for t in texts]


def memoize_many(function: Callable[[list[Any]], list[Any]], key: Callable[[Any], Any] = lambda x: x) -> Callable:
    """A batched pure function (texts in, one result per text out), computed once per distinct input."""
    cache: dict[Any, Any] = {}

    def cached(items: Any) -> list[Any]:
        items = list(items)
        missing = list({key(i): i for i in items if key(i) not in cache}.values())
        if missing:
            cache.update(zip([key(i) for i in missing], function(missing), strict=True))
        return [cache[key(i)] for i in items]

    return cached


def generate(worker: int, workers: int, count: int, url: str, tenant: str, days: int, seed: int, report: Any) -> None:
    """Contacts worker, worker + workers, ... of `count`: each stored, analyzed, tagged, indexed and closed."""
    import callscope.interactions.analysis as pipeline
    import callscope.storage.store as store
    from callscope.contacts import ContactMeta, Turn
    from callscope.interactions import intake
    from callscope.interactions.analysis import Resources, analyze_turns
    from callscope.settings import get_settings
    from callscope.storage import search
    from callscope.storage.db import get_sessionmaker, utcnow
    from callscope.tenants import categories

    # pure per-text functions: the same text always redacts and reads the same way
    store.redact_many = memoize_many(store.redact_many)
    pipeline.extract_entities_many = memoize_many(
        pipeline.extract_entities_many, key=lambda item: (item[0], tuple(item[1]))
    )
    rng = random.Random(seed * 1000 + worker)
    base = Resources.from_settings(get_settings())
    resources = Resources(
        intent_model=CachedIntentModel(base.intent_model),
        routing_table=base.routing_table,
        priors=base.priors,
        min_outcomes=base.min_outcomes,
    )
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    agents = [f"agent-{i:03d}" for i in range(60)]
    slow_agents = set(agents[:6])
    last_seen: dict[str, datetime] = {}
    outcome_cache: dict[str | None, dict[str, list[float]]] = {}
    intents = list(INTENTS)
    weights = [8, 3, 9, 4, 3, 5, 6, 3, 4, 5, 3, 2, 4, 3, 2, 3, 1, 2]
    with get_sessionmaker(url)() as session:
        for n in range(worker, count, workers):
            if n % 5000 < workers:
                outcome_cache.clear()  # predictions learn from the outcomes stored so far, as in production

            def outcomes(intent: str | None) -> dict[str, list[float]]:
                if intent not in outcome_cache:
                    outcome_cache[intent] = store.outcome_durations(session, tenant=tenant, intent=intent, limit=500)
                return outcome_cache[intent]

            intent = rng.choices(intents, weights)[0]
            channel = rng.choices(["voice", "chat", "sms"], [5, 3, 2])[0]
            factor = {"voice": 1.0, "chat": 1.3, "sms": 0.8}[channel] * rng.lognormvariate(0, 0.45)
            turns = make_turns(intent, channel, rng, seconds=0.85 * INTENTS[intent][1] * factor)
            customer = f"cust-{rng.randint(0, 40_000)}"
            when = now - timedelta(days=rng.random() * days, hours=rng.choice([0, 0, 1, 3]))
            repeat = customer in last_seen and when - last_seen[customer] < timedelta(days=7)
            last_seen[customer] = when
            queue = rng.choice(QUEUES) if rng.random() < 0.15 else None
            row, _ = intake.create_interaction(
                session,
                tenant=tenant,
                channel=channel,
                meta=ContactMeta(customer_ref=customer, agent=rng.choice(agents), queue=queue),
                turns=[Turn.model_validate(t) for t in turns],
            )
            duration = turns[-1]["end"] if channel == "voice" else None
            result = analyze_turns(
                [Turn.model_validate(t) for t in row.turns or []],
                channel=channel,
                resources=resources,
                outcomes=outcomes,
                duration_s=duration,
            )
            row.intent_label, row.intent_confidence = result.intent.label, result.intent.confidence
            row.routing, row.handle_time = result.routing.model_dump(), result.handle_time.model_dump()
            row.queue = row.queue or result.routing.queue
            row.duration_s = duration
            row.customer_hash = row.customer_hash or hashlib.sha256(customer.encode()).hexdigest()
            row.analysis = {**result.details(), "repeat_contact": {"is_repeat": repeat}}
            row.status, row.created_at, row.finished_at, row.progress = "done", when, utcnow(), 1.0
            categories.tag(session, row)
            search.index_contact(session, row)
            session.commit()
            if rng.random() < 0.92:
                typical = INTENTS.get(row.intent_label or "", ([], 300.0))[1]
                factor *= (1.9 if row.queue == "general" else 1.0) * (1.4 if row.agent in slow_agents else 1.0)
                seconds = max(20.0, rng.lognormvariate(0, 0.15) * typical * factor)
                resolution = rng.choices(["resolved", "transferred", "abandoned"], [84, 11, 5])[0]
                intake.record_outcome(
                    session,
                    tenant=tenant,
                    interaction_id=row.id,
                    handle_time_s=round(seconds, 1),
                    queue=row.queue,
                    resolution=resolution,
                )
            session.expunge_all()
            report(1)


def _seed_categories(url: str, tenant: str) -> None:
    from callscope.storage.db import get_sessionmaker
    from callscope.tenants import categories

    rules = {
        "complaint": {"phrases": ["frustrating", "already called"], "speaker": "customer"},
        "long_silence": {"longest_silence_over_s": 6},
        "card_fraud": {"intents": ["card_payment_not_recognised", "lost_or_stolen_card"]},
        "slow": {"handle_time_over_s": 500},
    }
    with get_sessionmaker(url)() as session:
        existing = {c["name"] for c in categories.list_categories(session, tenant=tenant)}
        for name, rule in rules.items():
            if name not in existing:
                body = categories.CategoryIn(name=name, rule=categories.Rule.model_validate(rule))
                categories.create_category(session, tenant=tenant, body=body)


def _run(args: tuple[int, int, int, str, str, int, int, Any]) -> None:
    worker, workers, count, url, tenant, days, seed, queue = args
    pending = 0

    def report(n: int) -> None:
        nonlocal pending
        pending += n
        if pending >= 50:
            queue.put(pending)
            pending = 0

    generate(worker, workers, count, url, tenant, days, seed, report)
    queue.put(pending)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--count", type=int, default=100_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--days", type=int, default=90, help="spread contacts over the last N days")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from callscope.settings import Settings
    from callscope.storage.db import migrate

    url = Settings(database_url=args.database_url).resolved_database_url
    migrate(url)
    _seed_categories(url, args.tenant)
    context = multiprocessing.get_context("spawn")
    queue = context.Manager().Queue()
    jobs = [(w, args.jobs, args.count, url, args.tenant, args.days, args.seed, queue) for w in range(args.jobs)]
    columns = [TextColumn("contacts"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns) as progress, context.Pool(args.jobs) as pool:
        task = progress.add_task("contacts", total=args.count)
        result = pool.map_async(_run, jobs)
        done = 0
        while done < args.count and not (result.ready() and queue.empty()):
            try:
                step = queue.get(timeout=1)
            except Exception:
                continue
            done += step
            progress.update(task, completed=done)
        result.get()
    if url.startswith("postgresql"):  # fresh planner statistics, as autovacuum would give a long-lived database
        from sqlalchemy import text

        from callscope.storage.db import get_engine

        with get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    print(f"{args.count} contacts for tenant {args.tenant!r} in {url.rsplit('@', 1)[-1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
