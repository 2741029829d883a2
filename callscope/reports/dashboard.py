"""Supervisor reports: tenant-scoped aggregates over the report index, each a plain dict.

Every figure is computed by the database (GROUP BY over `report_contacts`, left-joined to `outcomes`), so a
report reads a few hundred grouped rows however many contacts there are. Definitions:

- handling time (actual) is the outcome's `handle_time_s`; contacts without an outcome count as contacts only;
- a transfer is an outcome whose `resolution` is "transferred";
- a repeat contact is one whose analysis flagged `repeat_contact.is_repeat`;
- the queue is the outcome's queue when one was reported, else the contact's queue;
- percentiles are nearest-rank (`percentile_disc` on PostgreSQL, the same rank by window functions on SQLite).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from callscope.errors import NotFound
from callscope.reports.filters import (
    UNKNOWN,
    F,
    Filters,
    actual_col,
    category_marks,
    category_names,
    queue_col,
    where_clauses,
)
from callscope.storage import scorecards
from callscope.storage.db import QaAnswer

transferred = sa.case((F.c.resolution == "transferred", 1), else_=0)
repeated = sa.case((F.c.repeat.is_(True), 1), else_=0)
NEGATIVE_SENTIMENT = -0.05  # VADER's usual cut-off for a negative text
HIGH_SILENCE_RATIO = 0.20  # share of a call with no one speaking
HIGH_OVERTALK_RATIO = 0.05  # share of a call with both speaking
MIN_GROUP = 20  # handled contacts a queue needs before its handling time is compared
QUEUE_GAP = 1.25  # a queue this much slower than the best one for the same intent is an opportunity
SELF_SERVICE_SHARE = 0.30  # assumed share of a self-servable intent's contacts that self-service absorbs
REPEAT_SAVING_SHARE = 0.50  # assumed share of repeat contacts that first-contact resolution avoids
# Banking77 intents that are questions about status, limits or how-to: answerable in the app, IVR or a bot.
SELF_SERVICE_INTENTS = frozenset(
    {
        "activate_my_card", "age_limit", "apple_pay_or_google_pay", "atm_support", "automatic_top_up",
        "balance_not_updated_after_bank_transfer", "card_acceptance", "card_arrival", "card_delivery_estimate",
        "change_pin", "country_support", "exchange_rate", "exchange_via_app", "fiat_currency_support",
        "get_disposable_virtual_card", "get_physical_card", "getting_spare_card", "getting_virtual_card",
        "order_physical_card", "pending_card_payment", "pending_cash_withdrawal", "pending_top_up",
        "pending_transfer", "supported_cards_and_currencies", "top_up_by_bank_transfer_charge",
        "top_up_by_card_charge", "top_up_limits", "transfer_timing", "verify_my_identity", "visa_or_mastercard",
        "why_verify_identity", "disposable_card_limits", "card_about_to_expire",
    }
)  # fmt: skip
REPORTS = (
    "volume",
    "handle-time",
    "predicted-vs-actual",
    "sentiment",
    "queues-agents",
    "conversation",
    "opportunities",
    "qa",
    "repeats",
)














def _r(value: Any, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def _key(value: Any) -> str:
    return UNKNOWN if value is None else str(value)


def _pg_aggregates(value: Any, sums: Sequence[Any]) -> list[Any]:
    """contacts, n, sum, mean, p50, p90, *sums: the columns `_stats` returns after the group keys (PostgreSQL)."""
    return [
        sa.func.count(),
        sa.func.count(value),
        sa.func.sum(value),
        sa.func.avg(value),
        sa.func.percentile_disc(0.5).within_group(value),
        sa.func.percentile_disc(0.9).within_group(value),
        *[sa.func.sum(e) for e in sums],
    ]


def _stats(
    session: Session,
    keys: Sequence[sa.ColumnElement[Any]],
    value: sa.ColumnElement[Any],
    where: list[Any],
    sums: Sequence[sa.ColumnElement[Any]] = (),
) -> list[tuple[Any, ...]]:
    """One GROUP BY of `keys`: (*keys, contacts, n, sum, mean, p50, p90, *sums) where n counts non-null `value`s."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = sa.select(*keys, *_pg_aggregates(value, sums))
        stmt = stmt.select_from(F).where(*where).group_by(*keys)
        return [tuple(r) for r in session.execute(stmt)]
    # SQLite: nearest rank by window functions (NULLs sort first, so the rank skips them)
    partition = list(keys) or None
    inner = (
        sa.select(
            *[k.label(f"k{i}") for i, k in enumerate(keys)],
            value.label("v"),
            *[e.label(f"s{i}") for i, e in enumerate(sums)],
            sa.func.row_number().over(partition_by=partition, order_by=value).label("rn"),
            sa.func.count().over(partition_by=partition).label("total"),
            sa.func.count(value).over(partition_by=partition).label("n"),
        )
        .select_from(F)
        .where(*where)
        .subquery()
    )
    rank = inner.c.rn - (inner.c.total - inner.c.n)
    group = [inner.c[f"k{i}"] for i in range(len(keys))]
    stmt = sa.select(
        *group,
        sa.func.count(),
        sa.func.count(inner.c.v),
        sa.func.sum(inner.c.v),
        sa.func.avg(inner.c.v),
        sa.func.min(sa.case((sa.and_(inner.c.v.is_not(None), rank >= 0.5 * inner.c.n), inner.c.v))),
        sa.func.min(sa.case((sa.and_(inner.c.v.is_not(None), rank >= 0.9 * inner.c.n), inner.c.v))),
        *[sa.func.sum(inner.c[f"s{i}"]) for i in range(len(sums))],
    ).group_by(*group)
    return [tuple(r) for r in session.execute(stmt)]


def _grouping_sets(
    session: Session,
    sets: dict[str, Sequence[sa.ColumnElement[Any]]],
    aggregates: Sequence[Any],
    where: list[Any],
    source: Any = F,
) -> dict[str, list[tuple[Any, ...]]]:
    """Rows (*keys, *aggregates) per named set of keys: one scan with GROUPING SETS on PostgreSQL, else one per set."""
    if session.get_bind().dialect.name != "postgresql" or len(sets) == 1:
        return {
            name: [
                tuple(r)
                for r in session.execute(
                    sa.select(*keys, *aggregates).select_from(source).where(*where).group_by(*keys)
                )
            ]
            for name, keys in sets.items()
        }
    distinct: list[sa.ColumnElement[Any]] = []
    for keys in sets.values():
        distinct += [k for k in keys if not any(k.compare(d) for d in distinct)]
    position = [[next(i for i, d in enumerate(distinct) if k.compare(d)) for k in keys] for keys in sets.values()]
    by_mask = {}
    for name, places in zip(sets, position, strict=True):
        # GROUPING(a, b, c) sets a key's bit (a is the highest) when the row's set does not group by it
        mask = sum(1 << (len(distinct) - 1 - i) for i in range(len(distinct)) if i not in places)
        by_mask[mask] = (name, places)
    stmt = (
        sa.select(*distinct, sa.func.grouping(*distinct), *aggregates)
        .select_from(source)
        .where(*where)
        .group_by(sa.func.grouping_sets(*[sa.tuple_(*keys) for keys in sets.values()]))
    )
    found: dict[str, list[tuple[Any, ...]]] = {name: [] for name in sets}
    for row in session.execute(stmt):
        name, places = by_mask[row[len(distinct)]]
        found[name].append((*[row[i] for i in places], *row[len(distinct) + 1 :]))
    return found


def _stats_sets(
    session: Session,
    sets: dict[str, Sequence[sa.ColumnElement[Any]]],
    value: sa.ColumnElement[Any],
    where: list[Any],
    sums: Sequence[sa.ColumnElement[Any]] = (),
) -> dict[str, list[tuple[Any, ...]]]:
    """`_stats` for several groupings at once (one scan on PostgreSQL)."""
    if session.get_bind().dialect.name != "postgresql":
        return {name: _stats(session, keys, value, where, sums) for name, keys in sets.items()}
    aggregates = _pg_aggregates(value, sums)
    return _grouping_sets(session, sets, aggregates, where)


def _counts(session: Session, keys: Sequence[sa.ColumnElement[Any]], where: list[Any]) -> dict[tuple[Any, ...], int]:
    stmt = sa.select(*keys, sa.func.count()).select_from(F).where(*where).group_by(*keys)
    return {tuple(r[:-1]): r[-1] for r in session.execute(stmt)}


def _days(session: Session, tenant: str, f: Filters) -> int:
    """Days the report covers: the filter's range, else the span of the data it selects."""
    if f.date_from and f.date_to:
        return (f.date_to - f.date_from).days + 1
    first, last = session.execute(
        sa.select(sa.func.min(F.c.day), sa.func.max(F.c.day)).select_from(F).where(*where_clauses(session, tenant, f))
    ).one()
    first, last = f.date_from or _as_date(first), f.date_to or _as_date(last)
    return (last - first).days + 1 if first and last else 1


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _bucket(days: Iterable[date | None]) -> str:
    present = [d for d in days if d]
    return "week" if present and (max(present) - min(present)).days > 92 else "day"


def _period(day: Any, bucket: str) -> str:
    value = _as_date(day)
    if value is None:
        return UNKNOWN
    return (value - timedelta(days=value.weekday())).isoformat() if bucket == "week" else value.isoformat()


def volume(session: Session, tenant: str, f: Filters, *, top_intents: int = 8) -> dict[str, Any]:
    """Contacts per day (or week, past three months) by channel and by intent; contacts per category."""
    where = where_clauses(session, tenant, f)
    sets = {"channel": [F.c.day, F.c.channel], "intent": [F.c.day, F.c.intent], "categories": [F.c.categories]}
    found = _grouping_sets(session, sets, [sa.func.count()], where)
    by_channel = {(day, channel): n for day, channel, n in found["channel"]}
    by_intent = {(day, intent): n for day, intent, n in found["intent"]}
    per_category: dict[str, int] = defaultdict(int)
    for marks, n in found["categories"]:
        for name in category_marks(marks):
            per_category[name] += n
    bucket = _bucket(_as_date(k[0]) for k in by_channel)
    totals: dict[str, int] = defaultdict(int)
    for (_day, intent), n in by_intent.items():
        totals[_key(intent)] += n
    top = set(sorted(totals, key=lambda k: -totals[k])[:top_intents])
    channel_rows: dict[tuple[str, str], int] = defaultdict(int)
    intent_rows: dict[tuple[str, str], int] = defaultdict(int)
    for (day, channel), n in by_channel.items():
        channel_rows[(_period(day, bucket), _key(channel))] += n
    for (day, intent), n in by_intent.items():
        label = _key(intent)
        intent_rows[(_period(day, bucket), label if label in top else "other")] += n
    categories = sorted(((c, n) for c, n in per_category.items() if n), key=lambda item: -item[1])
    return {
        "bucket": bucket,
        "total": sum(by_channel.values()),
        "by_channel": [{"period": p, "channel": c, "contacts": n} for (p, c), n in sorted(channel_rows.items())],
        "by_intent": [{"period": p, "intent": i, "contacts": n} for (p, i), n in sorted(intent_rows.items())],
        "by_category": [{"category": c, "contacts": n} for c, n in categories],
    }


def _time_rows(stats: list[tuple[Any, ...]], name: str) -> list[dict[str, Any]]:
    rows = [
        {
            name: _key(k),
            "contacts": contacts,
            "handled": n,
            "median_s": _r(p50),
            "p90_s": _r(p90),
            "mean_s": _r(mean),
            "total_s": _r(total),
        }
        for k, contacts, n, total, mean, p50, p90, *_sums in stats
    ]
    grand = sum(r["total_s"] or 0.0 for r in rows)
    for row in rows:
        row["share_of_time"] = round((row["total_s"] or 0.0) / grand, 4) if grand else None
    return sorted(rows, key=lambda r: -(r["total_s"] or 0.0))


def handle_time(session: Session, tenant: str, f: Filters) -> dict[str, Any]:
    """Actual handling time by intent (median, p90) ranked by the total time each intent costs; by category too."""
    where = where_clauses(session, tenant, f)
    sets = {"overall": [], "intent": [F.c.intent], "categories": [F.c.categories]}
    found = _stats_sets(session, sets, actual_col, where)
    _contacts, n, total, mean, p50, p90 = found["overall"][0] if found["overall"] else (0, 0, None, None, None, None)
    per_category: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for marks, contacts, handled, seconds, *_rest in found["categories"]:
        for name in category_marks(marks):
            figures = per_category[name]
            figures[0] += contacts
            figures[1] += handled
            figures[2] += seconds or 0.0
    by_category = [
        {
            "category": name,
            "contacts": int(contacts),
            "handled": int(handled),
            "total_s": _r(seconds),
            "mean_s": _r(seconds / handled) if handled else None,
        }
        for name, (contacts, handled, seconds) in per_category.items()
    ]
    return {
        "overall": {"handled": n, "total_s": _r(total), "mean_s": _r(mean), "median_s": _r(p50), "p90_s": _r(p90)},
        "by_intent": _time_rows(found["intent"], "intent"),
        "by_category": sorted(by_category, key=lambda r: -(r["total_s"] or 0.0)),
    }


def predicted_vs_actual(session: Session, tenant: str, f: Filters, *, points: int = 1000) -> dict[str, Any]:
    """How the predicted handling time (p50, p90) compares with the actual one: overall, by intent, by day."""
    where = [*where_clauses(session, tenant, f), actual_col.is_not(None), F.c.predicted_p50_s.is_not(None)]
    error = sa.func.abs(actual_col - F.c.predicted_p50_s)
    within = sa.func.avg(sa.case((actual_col <= F.c.predicted_p90_s, 1.0), else_=0.0))
    figures = [
        sa.func.count(),
        sa.func.avg(F.c.predicted_p50_s),
        sa.func.avg(actual_col),
        sa.func.avg(error),
        sa.func.avg(actual_col - F.c.predicted_p50_s),
        within,
    ]

    def row(values: Sequence[Any]) -> dict[str, Any]:
        n, predicted, actual, mae, bias, cover = values
        return {
            "n": n,
            "predicted_mean_s": _r(predicted),
            "actual_mean_s": _r(actual),
            "mae_s": _r(mae),
            "bias_s": _r(bias),
            "within_p90": _r(cover, 3),
        }

    found = _grouping_sets(session, {"intent": [F.c.intent], "day": [F.c.day]}, figures, where)
    raw = found["intent"]
    by_intent = [{"intent": _key(r[0]), **row(r[1:])} for r in raw]
    by_day = [{"period": _period(r[0], "day"), **row(r[1:])} for r in sorted(found["day"], key=lambda r: r[0])]
    sample = session.execute(
        sa.select(F.c.interaction_id, F.c.intent, F.c.predicted_p50_s, F.c.predicted_p90_s, actual_col)
        .select_from(F)
        .where(*where)
        .order_by(F.c.created_at.desc())
        .limit(points)
    )
    n = sum(r[1] for r in raw)
    overall = [n] + [sum(r[i] * r[1] for r in raw) / n if n else None for i in range(2, 7)]  # weighted means
    return {
        "overall": row(overall),
        "by_intent": sorted(by_intent, key=lambda r: -r["n"]),
        "by_day": by_day,
        "points": [
            {"id": i, "intent": _key(k), "predicted_s": _r(p50), "p90_s": _r(p90), "actual_s": _r(a)}
            for i, k, p50, p90, a in sample
        ],
    }


def sentiment(session: Session, tenant: str, f: Filters) -> dict[str, Any]:
    """Mean sentiment (-1..1) per day, at the start and end of contacts, and the share of negative contacts."""
    where = [*where_clauses(session, tenant, f), F.c.sentiment.is_not(None)]
    negative = sa.func.avg(sa.case((F.c.sentiment < NEGATIVE_SENTIMENT, 1.0), else_=0.0))
    figures = [
        sa.func.count(),
        sa.func.avg(F.c.sentiment),
        sa.func.avg(F.c.sentiment_start),
        sa.func.avg(F.c.sentiment_end),
        negative,
    ]

    def row(values: Sequence[Any]) -> dict[str, Any]:
        n, mean, start, end, neg = values
        return {"contacts": n, "mean": _r(mean, 3), "start": _r(start, 3), "end": _r(end, 3), "negative": _r(neg, 3)}

    found = _grouping_sets(session, {"day": [F.c.day], "intent": [F.c.intent]}, figures, where)
    by_day = sorted(found["day"], key=lambda r: r[0])
    by_intent = found["intent"]
    return {
        "negative_below": NEGATIVE_SENTIMENT,
        "by_day": [{"period": _period(r[0], "day"), **row(r[1:])} for r in by_day],
        "by_intent": sorted(({"intent": _key(r[0]), **row(r[1:])} for r in by_intent), key=lambda r: r["mean"] or 0),
    }


def _people_rows(stats: list[tuple[Any, ...]], name: str) -> list[dict[str, Any]]:
    rows = []
    for k, contacts, handled, total, mean, p50, p90, moved, again in stats:
        rows.append(
            {
                name: _key(k),
                "contacts": contacts,
                "handled": handled,
                "median_s": _r(p50),
                "p90_s": _r(p90),
                "mean_s": _r(mean),
                "total_s": _r(total),
                "transfers": int(moved or 0),
                "transfer_rate": round((moved or 0) / handled, 3) if handled else None,
                "repeats": int(again or 0),
                "repeat_rate": round((again or 0) / contacts, 3) if contacts else None,
            }
        )
    return sorted(rows, key=lambda r: -(r["total_s"] or 0.0))


def queues_agents(session: Session, tenant: str, f: Filters) -> dict[str, Any]:
    """Per queue and per agent: contacts, handling time, transfers and repeat contacts."""
    where = where_clauses(session, tenant, f)
    sets = {"queue": [queue_col], "agent": [F.c.agent]}
    found = _stats_sets(session, sets, actual_col, where, sums=[transferred, repeated])
    return {"queues": _people_rows(found["queue"], "queue"), "agents": _people_rows(found["agent"], "agent")}


TALK_FIGURES = [
    sa.func.count(),
    sa.func.avg(F.c.silence_ratio),
    sa.func.avg(F.c.longest_silence_s),
    sa.func.avg(F.c.overtalk_ratio),
    sa.func.avg(sa.case((F.c.silence_ratio > HIGH_SILENCE_RATIO, 1.0), else_=0.0)),
    sa.func.avg(sa.case((F.c.overtalk_ratio > HIGH_OVERTALK_RATIO, 1.0), else_=0.0)),
]


def _talk_rows(stats: list[tuple[Any, ...]], name: str) -> list[dict[str, Any]]:
    rows = []
    for k, n, silence, longest, overtalk, hs, ho in stats:
        rows.append(
            {
                name: _key(k),
                "contacts": n,
                "silence_ratio": _r(silence, 3),
                "longest_silence_s": _r(longest),
                "overtalk_ratio": _r(overtalk, 3),
                "high_silence_share": _r(hs, 3),
                "high_overtalk_share": _r(ho, 3),
                "high": bool((silence or 0) > HIGH_SILENCE_RATIO or (overtalk or 0) > HIGH_OVERTALK_RATIO),
            }
        )
    return sorted(rows, key=lambda r: -((r["silence_ratio"] or 0) + (r["overtalk_ratio"] or 0)))


def conversation(session: Session, tenant: str, f: Filters, *, worst: int = 20) -> dict[str, Any]:
    """Silence/hold and overtalk of voice contacts by agent, queue and intent; the contacts where they are highest."""
    where = [*where_clauses(session, tenant, f), F.c.silence_ratio.is_not(None)]
    score = sa.func.coalesce(F.c.silence_ratio, 0) + sa.func.coalesce(F.c.overtalk_ratio, 0)
    high = sa.or_(F.c.silence_ratio > HIGH_SILENCE_RATIO, F.c.overtalk_ratio > HIGH_OVERTALK_RATIO)
    top = session.execute(
        sa.select(
            F.c.interaction_id,
            F.c.agent,
            queue_col,
            F.c.intent,
            F.c.silence_ratio,
            F.c.longest_silence_s,
            F.c.overtalk_ratio,
        )
        .select_from(F)
        .where(*where, high)
        .order_by(score.desc())
        .limit(worst)
    )
    sets = {"agent": [F.c.agent], "queue": [queue_col], "intent": [F.c.intent]}
    found = _grouping_sets(session, sets, TALK_FIGURES, where)
    return {
        "thresholds": {"silence_ratio": HIGH_SILENCE_RATIO, "overtalk_ratio": HIGH_OVERTALK_RATIO},
        "by_agent": _talk_rows(found["agent"], "agent"),
        "by_queue": _talk_rows(found["queue"], "queue"),
        "by_intent": _talk_rows(found["intent"], "intent"),
        "contacts": [
            {
                "id": i,
                "agent": a,
                "queue": q,
                "intent": k,
                "silence_ratio": _r(s, 3),
                "longest_silence_s": _r(ls),
                "overtalk_ratio": _r(o, 3),
            }
            for i, a, q, k, s, ls, o in top
        ],
    }


def opportunities(session: Session, tenant: str, f: Filters, *, limit: int = 10) -> dict[str, Any]:
    """The few changes that would save most handling time, each with its estimated seconds saved per day."""
    where = where_clauses(session, tenant, f)
    days = max(1, _days(session, tenant, f))
    items: list[dict[str, Any]] = []
    sets = {"intent": [F.c.intent], "intent_queue": [F.c.intent, queue_col]}
    found = _stats_sets(session, sets, actual_col, where, sums=[repeated])
    by_intent = {r[0]: r[1:] for r in found["intent"]}
    for intent, (n, _handled, _total, _mean, p50, _p90, _again) in by_intent.items():
        if intent in SELF_SERVICE_INTENTS and p50:
            saved = n / days * p50 * SELF_SERVICE_SHARE
            items.append(
                {
                    "kind": "self_service",
                    "title": f"Offer self-service for {intent}",
                    "intent": intent,
                    "queue": None,
                    "contacts_per_day": round(n / days, 1),
                    "seconds_saved_per_day": round(saved),
                    "detail": f"{n / days:.1f} contacts a day at a median of {p50:.0f} s; "
                    f"if self-service absorbs {SELF_SERVICE_SHARE:.0%} of them",
                }
            )
    per_queue: dict[Any, list[tuple[Any, int, float]]] = defaultdict(list)
    for intent, queue, _contacts, n, _total, _mean, p50, _p90, _again in found["intent_queue"]:
        if n >= MIN_GROUP and p50 is not None:
            per_queue[intent].append((queue, n, float(p50)))
    for intent, queues in per_queue.items():
        if len(queues) < 2:
            continue
        best_queue, _best_n, best = min(queues, key=lambda q: q[2])
        for queue, n, p50 in queues:
            if queue != best_queue and p50 > best * QUEUE_GAP:
                items.append(
                    {
                        "kind": "queue_gap",
                        "title": f"Route {_key(intent)} from {_key(queue)} to {_key(best_queue)}",
                        "intent": _key(intent),
                        "queue": _key(queue),
                        "contacts_per_day": round(n / days, 1),
                        "seconds_saved_per_day": round((p50 - best) * n / days),
                        "detail": f"median {p50:.0f} s in {_key(queue)} against {best:.0f} s in {_key(best_queue)}",
                    }
                )
    for intent, (contacts, _handled, _total, _mean, p50, _p90, again) in by_intent.items():
        if again and p50 and again / contacts >= 0.05:
            items.append(
                {
                    "kind": "repeat_contacts",
                    "title": f"Resolve {_key(intent)} at the first contact",
                    "intent": _key(intent),
                    "queue": None,
                    "contacts_per_day": round(again / days, 1),
                    "seconds_saved_per_day": round(again / days * p50 * REPEAT_SAVING_SHARE),
                    "detail": f"{again / contacts:.0%} of its contacts are repeats ({again / days:.1f} a day); "
                    f"if {REPEAT_SAVING_SHARE:.0%} of them are avoided",
                }
            )
    items.sort(key=lambda i: -i["seconds_saved_per_day"])
    return {
        "days": days,
        "assumptions": {
            "self_service_share": SELF_SERVICE_SHARE,
            "repeat_saving_share": REPEAT_SAVING_SHARE,
            "queue_gap": QUEUE_GAP,
            "min_group": MIN_GROUP,
        },
        "items": items[:limit],
    }
























def quality(session: Session, tenant: str, f: Filters) -> dict[str, Any]:
    """QA scores (0-100, supervisors' overrides applied) per day, agent, queue and intent; each question's share of
    `yes`, overall and per day; and how often a supervisor who reviewed an answer agreed with the automatic one.

    One scan of the report rows: each keeps its answers as a pattern of letters in its form's order, and the few
    distinct patterns are counted (per day too) and read back into questions here."""
    where = [*where_clauses(session, tenant, f), F.c.qa_score.is_not(None)]
    figures = [sa.func.count(), sa.func.avg(F.c.qa_score)]
    sets = {"day": [F.c.day], "agent": [F.c.agent], "queue": [queue_col], "intent": [F.c.intent],
            "pattern": [F.c.day, F.c.qa_form, F.c.qa_pattern]}  # fmt: skip
    found = _grouping_sets(session, sets, figures, where)
    bucket = _bucket(_as_date(r[0]) for r in found["day"])
    by_period: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for day, n, mean in found["day"]:
        by_period[_period(day, bucket)][0] += n
        by_period[_period(day, bucket)][1] += n * float(mean)

    def rows(name: str) -> list[dict[str, Any]]:
        ranked = sorted(found[name], key=lambda r: (r[2] is None, r[2] or 0))
        return [{name: _key(k), "contacts": n, "score": _r(mean)} for k, n, mean in ranked]

    forms: dict[str, list[str]] = {}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # question -> contacts, answered, yes
    trend: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # (period, question) -> answered, yes
    for day, form, pattern, n, _mean in found["pattern"]:
        if form not in forms:
            forms[form] = scorecards.question_ids(session, tenant=tenant, form_key=form) if form else []
        for question, letter in zip(forms[form], pattern or "", strict=False):
            counts[question][0] += n
            counts[question][1] += n if letter in "yn" else 0
            counts[question][2] += n if letter == "y" else 0
            cell = trend[(_period(day, bucket), question)]
            cell[0] += n if letter in "yn" else 0
            cell[1] += n if letter == "y" else 0
    A = QaAnswer.__table__
    reviews = dict.fromkeys(counts, (0, 0)) | {
        question: (int(reviewed), int(agreed or 0))
        for question, reviewed, agreed in session.execute(
            sa.select(A.c.question, sa.func.count(), sa.func.sum(sa.case((A.c.answer == A.c.automatic, 1), else_=0)))
            .select_from(A.join(F, F.c.interaction_id == A.c.interaction_id))
            .where(A.c.tenant == tenant, A.c.override_by.is_not(None), *where_clauses(session, tenant, f))
            .group_by(A.c.question)
        )
    }  # fmt: skip
    by_question = [
        {"question": q, "contacts": n, "answered": a, "yes_share": _r(y / a, 3) if a else None,
         "reviewed": reviews[q][0], "agreement": _r(reviews[q][1] / reviews[q][0], 3) if reviews[q][0] else None}
        for q, (n, a, y) in sorted(counts.items())
    ]  # fmt: skip
    total_reviewed = sum(r for r, _ in reviews.values())
    total_agreed = sum(g for _, g in reviews.values())
    scored = sum(n for _, n, _ in found["day"])
    return {
        "bucket": bucket,
        "overall": {
            "contacts": scored,
            "score": _r(sum(v[1] for v in by_period.values()) / scored) if scored else None,
            "reviewed_answers": total_reviewed,
            "agreement": _r(total_agreed / total_reviewed, 3) if total_reviewed else None,
        },
        "by_day": [{"period": p, "contacts": v[0], "score": _r(v[1] / v[0])} for p, v in sorted(by_period.items())],
        "by_agent": rows("agent"),
        "by_queue": rows("queue"),
        "by_intent": rows("intent"),
        "by_question": by_question,
        "by_question_period": [
            {"period": p, "question": q, "answered": a, "yes_share": _r(y / a, 3) if a else None}
            for (p, q), (a, y) in sorted(trend.items())
        ],
    }


def repeats(session: Session, tenant: str, f: Filters) -> dict[str, Any]:
    """Which intents bring customers back within the repeat window, over which channels and at what cost, and
    first-contact resolution (contacts of known customers that no repeat followed) by intent, queue and agent."""
    R = F.alias("repeats")  # noqa: N806
    followed = (
        sa.select(R.c.repeat_of, sa.func.count().label("n"), sa.func.sum(R.c.actual_s).label("seconds"))
        .where(R.c.tenant == tenant, R.c.repeat_of.is_not(None))
        .group_by(R.c.repeat_of)
        .subquery()
    )
    where = [*where_clauses(session, tenant, f), F.c.known_customer.is_(True)]
    joined = F.outerjoin(followed, followed.c.repeat_of == F.c.interaction_id)
    again = sa.case((followed.c.n.is_not(None), 1), else_=0)
    figures = [sa.func.count(), sa.func.sum(again), sa.func.sum(followed.c.n), sa.func.sum(followed.c.seconds)]

    sets = {"intent": [F.c.intent], "queue": [queue_col], "agent": [F.c.agent]}
    found = _grouping_sets(session, sets, figures, where, source=joined)  # one scan on PostgreSQL

    def grouped(name: str) -> list[dict[str, Any]]:
        rows = []
        for k, n, repeated, repeat_contacts, seconds in found[name]:
            rows.append({name: _key(k), "contacts": n, "repeated": int(repeated or 0),
                         "fcr": _r(1 - (repeated or 0) / n, 3) if n else None,
                         "repeat_contacts": int(repeat_contacts or 0), "repeat_seconds": _r(seconds)})  # fmt: skip
        return sorted(rows, key=lambda r: (-r["repeated"], r[name]))

    channels = session.execute(
        sa.select(F.c.intent, R.c.channel, sa.func.count())
        .select_from(F.join(R, R.c.repeat_of == F.c.interaction_id))
        .where(*where, R.c.tenant == tenant)
        .group_by(F.c.intent, R.c.channel)
    ).all()  # fmt: skip
    over: dict[str, dict[str, int]] = defaultdict(dict)
    for intent, channel, n in channels:
        over[_key(intent)][channel] = n
    drivers = [{**row, "repeat_channels": over.get(row["intent"], {})} for row in grouped("intent")]
    contacts, repeated = sum(r["contacts"] for r in drivers), sum(r["repeated"] for r in drivers)
    overall = {"contacts": contacts, "repeated": repeated, "fcr": _r(1 - repeated / contacts, 3) if contacts else None,
               "repeat_contacts": sum(r["repeat_contacts"] for r in drivers),
               "repeat_seconds": _r(sum(r["repeat_seconds"] or 0 for r in drivers))}  # fmt: skip
    return {
        "overall": overall,
        "drivers": [r for r in drivers if r["repeated"]],
        "by_intent": drivers,
        "by_queue": grouped("queue"),
        "by_agent": grouped("agent"),
    }


BUILDERS = {
    "volume": volume,
    "handle-time": handle_time,
    "predicted-vs-actual": predicted_vs_actual,
    "sentiment": sentiment,
    "queues-agents": queues_agents,
    "conversation": conversation,
    "opportunities": opportunities,
    "qa": quality,
    "repeats": repeats,
}


def build(session: Session, tenant: str, name: str, f: Filters) -> dict[str, Any]:
    """One report by its URL name, with the filters it used."""
    if name not in BUILDERS:
        raise NotFound(f"report {name} not found")
    return {"report": name, "filters": f.as_query(), **BUILDERS[name](session, tenant, f)}


def filter_options(session: Session, tenant: str) -> dict[str, list[str]]:
    """The values the dashboard's filter lists offer (distinct, from the report index), in one query."""
    columns = {"channel": F.c.channel, "intent": F.c.intent, "agent": F.c.agent, "queue": queue_col}
    parts = [
        sa.select(sa.literal(name).label("name"), column.label("value"))
        .where(F.c.tenant == tenant, column.is_not(None))
        .group_by(column)
        for name, column in columns.items()
    ]
    options: dict[str, list[str]] = {name: [] for name in [*columns, "category"]}
    for name, value in session.execute(sa.union_all(*parts)):
        options[name].append(value)
    options["category"] = category_names(session, tenant)
    return {name: sorted(values) for name, values in options.items()}
