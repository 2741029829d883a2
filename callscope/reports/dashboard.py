"""Supervisor reports: tenant-scoped aggregates, each a plain dict.

Every figure is a sum the database adds up, from the rollups (`callscope.reports.rollups`: pre-summed per tenant,
day and dimensions) or, for text searches and small periods, from the contact rows (`report_contacts`); both give
the same sums. Definitions:

- handling time (actual) is the outcome's `handle_time_s`; contacts without an outcome count as contacts only;
- a transfer is an outcome whose `resolution` is "transferred";
- a repeat contact is one whose analysis flagged `repeat_contact.is_repeat`;
- the queue is the outcome's queue when one was reported, else the contact's queue;
- percentiles are nearest-rank: exact from the contact rows (`percentile_disc` on PostgreSQL, the same rank by
  window functions on SQLite), from log-bucket histograms on the rollups (within `rollups.PERCENTILE_ERROR`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from callscope.errors import NotFound
from callscope.reports import rollups
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
from callscope.reports.rollups import HIGH_OVERTALK_RATIO, HIGH_SILENCE_RATIO
from callscope.settings import get_settings
from callscope.storage.db import QaAnswer
from callscope.tenants import scorecards

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
REPEAT_MEASURES = {"repeated", "repeat_contacts", "repeat_seconds", *[f"repeats_{c}" for c in rollups.REPEAT_CHANNELS]}
Sets = dict[str, Sequence[str]]


def _r(value: Any, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def _key(value: Any) -> str:
    return UNKNOWN if value is None else str(value)


def _ratio(part: Any, whole: Any, digits: int = 1) -> float | None:
    return _r(part / whole, digits) if whole else None


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


def _exact_percentiles(session: Session, keys: Sequence[sa.ColumnElement[Any]], where: list[Any]) -> list[Any]:
    """(*keys, p50, p90) of the handling time of the contact rows, nearest rank by window functions (SQLite; on
    PostgreSQL `Reader.sums` ranks with `percentile_disc` in the same scan as the sums)."""
    value = actual_col
    partition = list(keys) or None
    inner = (
        sa.select(
            *[k.label(f"k{i}") for i, k in enumerate(keys)],
            value.label("v"),
            sa.func.row_number().over(partition_by=partition, order_by=value).label("rn"),
            sa.func.count().over(partition_by=partition).label("n"),
        )
        .select_from(F)
        .where(*where, value.is_not(None))
        .subquery()
    )
    group = [inner.c[f"k{i}"] for i in range(len(keys))]
    stmt = sa.select(
        *group,
        sa.func.min(sa.case((inner.c.rn >= 0.5 * inner.c.n, inner.c.v))),
        sa.func.min(sa.case((inner.c.rn >= 0.9 * inner.c.n, inner.c.v))),
    ).group_by(*group)
    return list(session.execute(stmt))


class Reader:
    """Where one report's figures come from: the rollups, or the contact rows (`rows`). The rows are read for text
    searches, for periods with fewer than `report_rows_below` contacts, and while the rollups are far behind."""

    def __init__(self, session: Session, tenant: str, f: Filters, *, rows: bool | None = None) -> None:
        self.session, self.tenant, self.f = session, tenant, f
        self.where = where_clauses(session, tenant, f)
        if rows is not True:  # the rollups may be read: bring their stale days up to date first
            current = self._refresh()
        if rows is None:
            rows = bool(f.q and f.q.strip()) or not current
            rows = rows or rollups.contacts_in_period(session, tenant, f) < get_settings().report_rows_below
        self.rows = rows

    def _refresh(self) -> bool:
        """Rebuild the few stale days before reading; False when too many are stale (the worker catches up)."""
        try:
            stale = rollups.stale_days(self.session, self.tenant)
            if stale > rollups.MAX_STALE_DAYS:
                return False
            if stale:
                rollups.refresh_days(self.session, self.tenant)
                self.where = where_clauses(self.session, self.tenant, self.f)
        except OperationalError:  # SQLite: another writer holds the database; read the rows this time
            self.session.rollback()
            return False
        return True

    def _level(self, keys: Sequence[str], levels: Sequence[str]) -> str | None:
        return None if self.rows else rollups.level_for([*keys, *rollups.filter_dimensions(self.f)], levels)

    def sums(
        self, sets: Sets, measures: Sequence[str], *, percentiles: Collection[str] = ()
    ) -> dict[str, list[tuple[Any, ...]]]:
        """(*keys, *sums of `measures`[, p50, p90 of the handling time for the groupings named in `percentiles`]) per
        named grouping, from the smallest rollup level that has its keys, else from the contact rows (in one scan,
        percentiles included, on PostgreSQL)."""
        by_level: dict[str | None, Sets] = defaultdict(dict)
        for name, keys in sets.items():
            by_level[self._level(keys, list(rollups.LEVELS))][name] = keys
        found: dict[str, list[tuple[Any, ...]]] = {}
        ranked: set[str] = set()  # the groupings whose percentiles came with their sums
        for level, group in by_level.items():
            if level is None:
                followed = rollups.followed_by_repeats(self.tenant)
                values = rollups.row_measures(followed)
                source = F.outerjoin(followed, followed.c.repeat_of == F.c.interaction_id)
                source = source if REPEAT_MEASURES & set(measures) else F
                columns = {n: [rollups.row_dimension(k) for k in keys] for n, keys in group.items()}
                aggregates = [sa.func.sum(values[m]) for m in measures]
                rank = set(percentiles) & set(group) and self.session.get_bind().dialect.name == "postgresql"
                if rank:
                    aggregates += [sa.func.percentile_disc(q).within_group(actual_col) for q in (0.5, 0.9)]
                    ranked |= set(group)
                grouped = _grouping_sets(self.session, columns, aggregates, self.where, source=source)
                found |= {n: r if not rank or n in percentiles else [x[:-2] for x in r] for n, r in grouped.items()}
            else:
                table = rollups.rollup
                columns = {n: [table.c[k] for k in keys] for n, keys in group.items()}
                aggregates = [sa.func.sum(table.c[m]) for m in measures]
                where = rollups.where(table, self.tenant, self.f, level=level)
                found |= _grouping_sets(self.session, columns, aggregates, where, source=table)
        for name, keys in sets.items():
            if name in percentiles and name not in ranked:
                spread = self.percentiles({name: keys})[name]
                found[name] = [(*r, *spread.get(tuple(r[: len(keys)]), (None, None))) for r in found[name]]
        return found

    def percentiles(self, sets: Sets) -> dict[str, dict[tuple[Any, ...], tuple[float | None, float | None]]]:
        """(p50, p90) of the handling time per key of each named grouping."""
        found = {}
        for name, keys in sets.items():
            level = self._level(keys, rollups.HIST_LEVELS)
            if level is None:
                rows = _exact_percentiles(self.session, [rollups.row_dimension(k) for k in keys], self.where)
                found[name] = {tuple(r[: len(keys)]): (r[-2], r[-1]) for r in rows}
                continue
            found[name] = self._histogram_percentiles(keys, level)
        return found

    def _histogram_percentiles(self, keys: Sequence[str], level: str) -> dict[tuple[Any, ...], tuple[Any, Any]]:
        """Whole clean months from the histograms, the other days bucketed from their rows."""
        months = rollups.clean_months(self.session, self.tenant, level, self.f)
        h = rollups.histogram
        rows: list[Any] = []
        if months:
            undated = replace(self.f, date_from=None, date_to=None)
            stmt = (
                sa.select(*[h.c[k] for k in keys], h.c.bucket, sa.func.sum(h.c.n))
                .where(*rollups.where(h, self.tenant, undated, level=level, day=h.c.month), h.c.month.in_(months))
                .group_by(*[h.c[k] for k in keys], h.c.bucket)
            )
            rows += list(self.session.execute(stmt))
        columns = [rollups.row_dimension(k) for k in keys]
        bucket = rollups.bucket_of(actual_col)
        stmt = (
            sa.select(*columns, bucket, sa.func.count())
            .where(*self.where, *rollups.other_days(self.f, months), actual_col.is_not(None))
            .group_by(*columns, bucket)
        )
        rows += list(self.session.execute(stmt))
        merged = rollups.merge_counts(rows, len(keys))
        return {key: tuple(rollups.rank_percentiles(counts, (0.5, 0.9))) for key, counts in merged.items()}  # type: ignore[misc]


def _stats(reader: Reader, sets: Sets, extra: Sequence[str] = (), *, plain: Collection[str] = ()) -> dict[str, Any]:
    """(*keys, contacts, handled, total_s, mean_s, p50, p90, *extra sums) per named grouping, in one scan where
    the rows are read; the groupings named in `plain` come as (*keys, contacts, handled, total_s, *extra sums)."""
    ranked = [name for name in sets if name not in plain]
    found = reader.sums(sets, ["contacts", "handled", "actual_sum", *extra], percentiles=ranked)
    stats = {name: found[name] for name in plain}
    for name in ranked:
        w = len(sets[name])
        stats[name] = [
            (*r[:w], r[w], r[w + 1], r[w + 2] if r[w + 1] else None, r[w + 2] / r[w + 1] if r[w + 1] else None,
             *r[-2:], *r[w + 3 : -2])
            for r in found[name]
        ]  # fmt: skip
    return stats


def _days(f: Filters, days: Iterable[Any]) -> int:
    """Days the report covers: the filter's range, else the span of the days with contacts it selects."""
    if f.date_from and f.date_to:
        return (f.date_to - f.date_from).days + 1
    present = [d for d in map(rollups.as_date, days) if d]
    first, last = f.date_from or min(present, default=None), f.date_to or max(present, default=None)
    return (last - first).days + 1 if first and last else 1


def _bucket(days: Iterable[date | None]) -> str:
    present = [d for d in days if d]
    return "week" if present and (max(present) - min(present)).days > 92 else "day"


def _period(day: Any, bucket: str) -> str:
    value = rollups.as_date(day)
    if value is None:
        return UNKNOWN
    return (value - timedelta(days=value.weekday())).isoformat() if bucket == "week" else value.isoformat()


def volume(
    session: Session, tenant: str, f: Filters, *, top_intents: int = 8, rows: bool | None = None
) -> dict[str, Any]:
    """Contacts per day (or week, past three months) by channel and by intent; contacts per category."""
    sets = {"channel": ["day", "channel"], "intent": ["day", "intent"], "categories": ["categories"]}
    found = Reader(session, tenant, f, rows=rows).sums(sets, ["contacts"])
    by_channel = {(day, channel): n for day, channel, n in found["channel"]}
    by_intent = {(day, intent): n for day, intent, n in found["intent"]}
    per_category: dict[str, int] = defaultdict(int)
    for marks, n in found["categories"]:
        for name in category_marks(marks):
            per_category[name] += n
    bucket = _bucket(rollups.as_date(k[0]) for k in by_channel)
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
    categories = sorted(((c, n) for c, n in per_category.items() if n), key=lambda item: (-item[1], item[0]))
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
    return sorted(rows, key=lambda r: (-(r["total_s"] or 0.0), r[name]))


def handle_time(session: Session, tenant: str, f: Filters, *, rows: bool | None = None) -> dict[str, Any]:
    """Actual handling time by intent (median, p90) ranked by the total time each intent costs; by category too."""
    reader = Reader(session, tenant, f, rows=rows)
    found = _stats(reader, {"overall": [], "intent": ["intent"], "categories": ["categories"]}, plain={"categories"})
    categories = found["categories"]
    _contacts, n, total, mean, p50, p90 = found["overall"][0] if found["overall"] else (0, 0, None, None, None, None)
    per_category: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for marks, contacts, handled, seconds in categories:
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
            "total_s": _r(seconds) if handled else None,
            "mean_s": _r(seconds / handled) if handled else None,
        }
        for name, (contacts, handled, seconds) in per_category.items()
    ]
    return {
        "overall": {"handled": n or 0, "total_s": _r(total), "mean_s": _r(mean), "median_s": _r(p50), "p90_s": _r(p90)},
        "by_intent": _time_rows(found["intent"], "intent"),
        "by_category": sorted(by_category, key=lambda r: (-(r["total_s"] or 0.0), r["category"])),
    }


PVA_MEASURES = ["pva_n", "pva_predicted", "pva_actual", "pva_abs_error", "pva_error", "pva_within"]


def predicted_vs_actual(
    session: Session, tenant: str, f: Filters, *, points: int = 1000, rows: bool | None = None
) -> dict[str, Any]:
    """How the predicted handling time (p50, p90) compares with the actual one: overall, by intent, by day."""
    reader = Reader(session, tenant, f, rows=rows)

    def row(values: Sequence[Any]) -> dict[str, Any]:
        n, predicted, actual, mae, bias, within = values
        return {
            "n": n,
            "predicted_mean_s": _ratio(predicted, n),
            "actual_mean_s": _ratio(actual, n),
            "mae_s": _ratio(mae, n),
            "bias_s": _ratio(bias, n),
            "within_p90": _ratio(within, n, 3),
        }

    found = reader.sums({"intent": ["intent"], "day": ["day"], "overall": []}, PVA_MEASURES)
    by_intent = [{"intent": _key(r[0]), **row(r[1:])} for r in found["intent"] if r[1]]
    by_day = [{"period": _period(r[0], "day"), **row(r[1:])} for r in sorted(found["day"], key=lambda r: r[0]) if r[1]]
    sample = session.execute(
        sa.select(F.c.interaction_id, F.c.intent, F.c.predicted_p50_s, F.c.predicted_p90_s, actual_col)
        .select_from(F)
        .where(*reader.where, actual_col.is_not(None), F.c.predicted_p50_s.is_not(None))
        .order_by(F.c.created_at.desc())
        .limit(points)
    )
    overall = found["overall"][0] if found["overall"] else (0, 0, 0, 0, 0, 0)
    return {
        "overall": row([overall[0] or 0, *overall[1:]]),
        "by_intent": sorted(by_intent, key=lambda r: (-r["n"], r["intent"])),
        "by_day": by_day,
        "points": [
            {"id": i, "intent": _key(k), "predicted_s": _r(p50), "p90_s": _r(p90), "actual_s": _r(a)}
            for i, k, p50, p90, a in sample
        ],
    }


def sentiment(session: Session, tenant: str, f: Filters, *, rows: bool | None = None) -> dict[str, Any]:
    """Mean sentiment (-1..1) per day, at the start and end of contacts, and the share of negative contacts."""
    measures = ["sentiment_n", "sentiment_sum", "start_n", "start_sum", "end_n", "end_sum", "negative"]
    found = Reader(session, tenant, f, rows=rows).sums({"day": ["day"], "intent": ["intent"]}, measures)

    def row(values: Sequence[Any]) -> dict[str, Any]:
        n, total, start_n, start, end_n, end, negative = values
        return {"contacts": n, "mean": _ratio(total, n, 3), "start": _ratio(start, start_n, 3),
                "end": _ratio(end, end_n, 3), "negative": _ratio(negative, n, 3)}  # fmt: skip

    by_day = sorted((r for r in found["day"] if r[1]), key=lambda r: r[0])
    by_intent = [{"intent": _key(r[0]), **row(r[1:])} for r in found["intent"] if r[1]]
    return {
        "negative_below": rollups.NEGATIVE_SENTIMENT,
        "by_day": [{"period": _period(r[0], "day"), **row(r[1:])} for r in by_day],
        "by_intent": sorted(by_intent, key=lambda r: (r["mean"] or 0, r["intent"])),
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
    return sorted(rows, key=lambda r: (-(r["total_s"] or 0.0), r[name]))


def queues_agents(session: Session, tenant: str, f: Filters, *, rows: bool | None = None) -> dict[str, Any]:
    """Per queue and per agent: contacts, handling time, transfers and repeat contacts."""
    reader = Reader(session, tenant, f, rows=rows)
    found = _stats(reader, {"queue": ["queue"], "agent": ["agent"]}, ["transfers", "repeats"])
    return {"queues": _people_rows(found["queue"], "queue"), "agents": _people_rows(found["agent"], "agent")}


TALK_MEASURES = ["talk_n", "silence_sum", "longest_n", "longest_sum", "overtalk_n", "overtalk_sum", "high_silence",
                 "high_overtalk"]  # fmt: skip


def _talk_rows(stats: list[tuple[Any, ...]], name: str) -> list[dict[str, Any]]:
    rows = []
    for k, n, silence, longest_n, longest, overtalk_n, overtalk, hs, ho in stats:
        if not n:
            continue
        rows.append(
            {
                name: _key(k),
                "contacts": n,
                "silence_ratio": _ratio(silence, n, 3),
                "longest_silence_s": _ratio(longest, longest_n),
                "overtalk_ratio": _ratio(overtalk, overtalk_n, 3),
                "high_silence_share": _ratio(hs, n, 3),
                "high_overtalk_share": _ratio(ho, n, 3),
                "high": bool(
                    silence / n > HIGH_SILENCE_RATIO
                    or (overtalk / overtalk_n if overtalk_n else 0) > HIGH_OVERTALK_RATIO
                ),
            }
        )
    return sorted(rows, key=lambda r: (-((r["silence_ratio"] or 0) + (r["overtalk_ratio"] or 0)), r[name]))


def conversation(
    session: Session, tenant: str, f: Filters, *, worst: int = 20, rows: bool | None = None
) -> dict[str, Any]:
    """Silence/hold and overtalk of voice contacts by agent, queue and intent; the contacts where they are highest."""
    reader = Reader(session, tenant, f, rows=rows)
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
        .where(*reader.where, F.c.silence_ratio.is_not(None), high)
        .order_by(score.desc(), F.c.interaction_id)
        .limit(worst)
    )
    found = reader.sums({"agent": ["agent"], "queue": ["queue"], "intent": ["intent"]}, TALK_MEASURES)
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


def opportunities(
    session: Session, tenant: str, f: Filters, *, limit: int = 10, rows: bool | None = None
) -> dict[str, Any]:
    """The few changes that would save most handling time, each with its estimated seconds saved per day."""
    reader = Reader(session, tenant, f, rows=rows)
    sets = {"intent": ["intent"], "intent_queue": ["intent", "queue"], "day": ["day"]}
    found = _stats(reader, sets, ["repeats"], plain={"day"})
    days = max(1, _days(f, (r[0] for r in found["day"])))
    items: list[dict[str, Any]] = []
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
        best_queue, _best_n, best = min(queues, key=lambda q: (q[2], _key(q[0])))
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
    items.sort(key=lambda i: (-i["seconds_saved_per_day"], i["title"]))
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


def quality(session: Session, tenant: str, f: Filters, *, rows: bool | None = None) -> dict[str, Any]:
    """QA scores (0-100, supervisors' overrides applied) per day, agent, queue and intent; each question's share of
    `yes`, overall and per day; and how often a supervisor who reviewed an answer agreed with the automatic one.

    Each contact keeps its answers as a pattern of letters in its form's order: the few distinct patterns are
    counted (per day too) and read back into questions here."""
    reader = Reader(session, tenant, f, rows=rows)
    sets = {"day": ["day"], "agent": ["agent"], "queue": ["queue"], "intent": ["intent"],
            "pattern": ["day", "qa_form", "qa_pattern"]}  # fmt: skip
    found = {name: [r for r in rows if r[-2]] for name, rows in reader.sums(sets, ["qa_n", "qa_sum"]).items()}
    bucket = _bucket(rollups.as_date(r[0]) for r in found["day"])
    by_period: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for day, n, total in found["day"]:
        by_period[_period(day, bucket)][0] += n
        by_period[_period(day, bucket)][1] += total

    def rows_of(name: str) -> list[dict[str, Any]]:
        scored = [(_key(k), n, total / n) for k, n, total in found[name]]
        return [
            {name: k, "contacts": n, "score": _r(mean)} for k, n, mean in sorted(scored, key=lambda r: (r[2], r[0]))
        ]

    forms: dict[str, list[str]] = {}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # question -> contacts, answered, yes
    trend: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # (period, question) -> answered, yes
    for day, form, pattern, n, _total in found["pattern"]:
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
            .where(A.c.tenant == tenant, A.c.override_by.is_not(None), *reader.where)
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
        "by_agent": rows_of("agent"),
        "by_queue": rows_of("queue"),
        "by_intent": rows_of("intent"),
        "by_question": by_question,
        "by_question_period": [
            {"period": p, "question": q, "answered": a, "yes_share": _r(y / a, 3) if a else None}
            for (p, q), (a, y) in sorted(trend.items())
        ],
    }


REPEAT_FIGURES = ["known", "repeated", "repeat_contacts", "repeat_seconds",
                  *[f"repeats_{c}" for c in rollups.REPEAT_CHANNELS]]  # fmt: skip


def repeats(session: Session, tenant: str, f: Filters, *, rows: bool | None = None) -> dict[str, Any]:
    """Which intents bring customers back within the repeat window, over which channels and at what cost, and
    first-contact resolution (contacts of known customers that no repeat followed) by intent, queue and agent."""
    reader = Reader(session, tenant, f, rows=rows)
    found = reader.sums({"intent": ["intent"], "queue": ["queue"], "agent": ["agent"]}, REPEAT_FIGURES)

    def grouped(name: str) -> list[dict[str, Any]]:
        rows = []
        for k, n, repeated, repeat_contacts, seconds, *channels in found[name]:
            if not n:
                continue
            over = {c: int(v) for c, v in zip(rollups.REPEAT_CHANNELS, channels, strict=True) if v}
            rows.append({name: _key(k), "contacts": n, "repeated": int(repeated or 0),
                         "fcr": _r(1 - (repeated or 0) / n, 3), "repeat_contacts": int(repeat_contacts or 0),
                         "repeat_seconds": _r(seconds) if repeat_contacts else None, "over": over})  # fmt: skip
        return sorted(rows, key=lambda r: (-r["repeated"], r[name]))

    drivers = [{**row, "repeat_channels": row.pop("over")} for row in grouped("intent")]
    by_queue = [{k: v for k, v in row.items() if k != "over"} for row in grouped("queue")]
    by_agent = [{k: v for k, v in row.items() if k != "over"} for row in grouped("agent")]
    contacts, repeated = sum(r["contacts"] for r in drivers), sum(r["repeated"] for r in drivers)
    overall = {"contacts": contacts, "repeated": repeated, "fcr": _r(1 - repeated / contacts, 3) if contacts else None,
               "repeat_contacts": sum(r["repeat_contacts"] for r in drivers),
               "repeat_seconds": _r(sum(r["repeat_seconds"] or 0 for r in drivers))}  # fmt: skip
    return {
        "overall": overall,
        "drivers": [r for r in drivers if r["repeated"]],
        "by_intent": drivers,
        "by_queue": by_queue,
        "by_agent": by_agent,
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


def build(session: Session, tenant: str, name: str, f: Filters, *, rows: bool | None = None) -> dict[str, Any]:
    """One report by its URL name, with the filters it used (`rows`: force the contact rows or the rollups)."""
    if name not in BUILDERS:
        raise NotFound(f"report {name} not found")
    return {"report": name, "filters": f.as_query(), **BUILDERS[name](session, tenant, f, rows=rows)}


def filter_options(session: Session, tenant: str) -> dict[str, list[str]]:
    """The values the dashboard's filter lists offer (distinct, from the rollups or the report rows), in one query."""
    if Reader(session, tenant, Filters()).rows:
        columns = {"channel": F.c.channel, "intent": F.c.intent, "agent": F.c.agent, "queue": queue_col}
        where = {name: [F.c.tenant == tenant] for name in columns}
    else:
        t = rollups.rollup
        columns = {name: t.c[name] for name in ("channel", "intent", "agent", "queue")}
        level = {name: "staff" if name == "agent" else "mix" for name in columns}
        where = {name: [t.c.tenant == tenant, t.c.level == level[name]] for name in columns}
    parts = [
        sa.select(sa.literal(name).label("name"), column.label("value"))
        .where(*where[name], column.is_not(None))
        .group_by(column)
        for name, column in columns.items()
    ]
    options: dict[str, list[str]] = {name: [] for name in [*columns, "category"]}
    for name, value in session.execute(sa.union_all(*parts)):
        options[name].append(value)
    options["category"] = category_names(session, tenant)
    return {name: sorted(values) for name, values in options.items()}
