"""Rollups: report figures kept per tenant x day x dimensions, so that a year of contacts is read in a few hundred
thousand pre-summed rows instead of a million contact rows.

- `report_rollup` holds one row per tenant, day, level and the level's dimensions (`LEVELS`) with additive sums
  (`measures`): counts, sums and the counts of non-null values that make the reports' means exact.
- `report_rollup_hist` holds, per tenant, calendar month and level, a log-bucket histogram of handling time: the
  percentiles of whole clean months come from it (relative error at most `PERCENTILE_ERROR`); other days are
  bucketed from their rows at read time.
- `report_marks` is written by triggers on `report_contacts` (analysis, outcomes, reindex, retention, erasure,
  and the earlier contact a repeat points at): a 'd' mark makes a day's rollup stale, an 'm' mark a month's
  histogram. `refresh_days` runs before a report reads (a few days: milliseconds), `refresh` in the scheduled
  worker task and `callscope reports rollup`.

A report reads the contact rows instead (exact, percentiles by rank) when it searches text, when the tenant has
fewer than `report_rows_below` contacts in its period, or when the rollups are far behind.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from callscope.reports.filters import UNKNOWN, F, Filters, queue_col
from callscope.storage.search import metadata

GAMMA = 1.05  # bucket i holds handling times in (GAMMA**(i-1), GAMMA**i]
PERCENTILE_ERROR = (GAMMA - 1) / (GAMMA + 1)  # relative error of a percentile read from the histogram
ZERO_BUCKET = -(10**6)  # handling times of 0 s (or less)
NEGATIVE_SENTIMENT = -0.05  # VADER's usual cut-off for a negative text
HIGH_SILENCE_RATIO = 0.20  # share of a call with no one speaking
HIGH_OVERTALK_RATIO = 0.05  # share of a call with both speaking
MAX_STALE_DAYS = 62  # more stale days than this: reports read the rows until the worker has caught up
REPEAT_CHANNELS = ("voice", "sms", "chat")
DIMENSIONS = ("channel", "intent", "queue", "agent", "categories", "qa_form", "qa_pattern")
LEVELS: dict[str, tuple[str, ...]] = {
    "total": (),
    "mix": ("channel", "intent", "queue", "categories"),
    "staff": ("channel", "agent"),
    "agent": ("channel", "agent", "categories"),
    "qa": ("channel", "intent", "queue", "categories", "qa_form", "qa_pattern"),
}
HIST_LEVELS = ("mix", "staff", "agent")
MEASURES = (
    "contacts", "handled", "actual_sum", "transfers", "repeats",
    "pva_n", "pva_predicted", "pva_actual", "pva_abs_error", "pva_error", "pva_within",
    "sentiment_n", "sentiment_sum", "start_n", "start_sum", "end_n", "end_sum", "negative",
    "talk_n", "silence_sum", "longest_n", "longest_sum", "overtalk_n", "overtalk_sum", "high_silence", "high_overtalk",
    "qa_n", "qa_sum",
    "known", "repeated", "repeat_contacts", "repeat_seconds", *[f"repeats_{c}" for c in REPEAT_CHANNELS],
)  # fmt: skip
COUNTS = {m for m in MEASURES if not m.endswith(("_sum", "_predicted", "_actual", "_error", "_seconds"))}

rollup = sa.Table(
    "report_rollup",
    metadata,
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    *[sa.Column(d, sa.Text if d == "categories" else sa.String(100)) for d in DIMENSIONS],
    *[sa.Column(m, sa.Integer if m in COUNTS else sa.Float, nullable=False) for m in MEASURES],
)
histogram = sa.Table(
    "report_rollup_hist",
    metadata,
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("month", sa.Date, nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    *[sa.Column(d, sa.String(100)) for d in ("channel", "intent", "queue", "agent")],
    sa.Column("categories", sa.Text),
    sa.Column("bucket", sa.Integer, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
)
marks = sa.Table(
    "report_marks",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("scope", sa.String(1), nullable=False),  # d: the day's rollup, m: the month's histogram
)


def row_dimension(name: str) -> sa.ColumnElement[Any]:
    """A dimension as the contact rows give it (the queue is the outcome's when one was reported)."""
    return queue_col if name == "queue" else F.c[name]


def followed_by_repeats(tenant: str, days: Sequence[date] = ()) -> sa.Subquery:
    """Per contact of `tenant` (of `days`, when given) that a later contact repeats: how many repeats, their
    handling time, their channels."""
    r = F.alias("repeats")
    among = [r.c.repeat_of.in_(sa.select(F.c.interaction_id).where(F.c.tenant == tenant, F.c.day.in_(days)))]
    return (
        sa.select(
            r.c.repeat_of,
            sa.func.count().label("n"),
            sa.func.sum(r.c.actual_s).label("seconds"),
            *[sa.func.sum(sa.case((r.c.channel == c, 1), else_=0)).label(c) for c in REPEAT_CHANNELS],
        )
        .where(r.c.tenant == tenant, r.c.repeat_of.is_not(None), *(among if days else []))
        .group_by(r.c.repeat_of)
        .subquery("followed")
    )


def _when(condition: Any, value: Any = 1) -> sa.ColumnElement[Any]:
    return sa.case((condition, value), else_=0)


def row_measures(followed: sa.Subquery) -> dict[str, sa.ColumnElement[Any]]:
    """Each measure as a value per contact row (the rollup keeps their sums; `followed`: `followed_by_repeats`)."""
    actual, p50, p90 = F.c.actual_s, F.c.predicted_p50_s, F.c.predicted_p90_s
    both = sa.and_(actual.is_not(None), p50.is_not(None))
    felt = F.c.sentiment.is_not(None)
    talk = F.c.silence_ratio.is_not(None)
    known = F.c.known_customer.is_(True)
    qa = F.c.qa_score.is_not(None)
    return {
        "contacts": sa.literal(1),
        "handled": _when(actual.is_not(None)),
        "actual_sum": sa.func.coalesce(actual, 0.0),
        "transfers": _when(F.c.resolution == "transferred"),
        "repeats": _when(F.c.repeat.is_(True)),
        "pva_n": _when(both),
        "pva_predicted": _when(both, p50),
        "pva_actual": _when(both, actual),
        "pva_abs_error": _when(both, sa.func.abs(actual - p50)),
        "pva_error": _when(both, actual - p50),
        "pva_within": _when(sa.and_(both, actual <= p90)),
        "sentiment_n": _when(felt),
        "sentiment_sum": _when(felt, F.c.sentiment),
        "start_n": _when(sa.and_(felt, F.c.sentiment_start.is_not(None))),
        "start_sum": _when(sa.and_(felt, F.c.sentiment_start.is_not(None)), F.c.sentiment_start),
        "end_n": _when(sa.and_(felt, F.c.sentiment_end.is_not(None))),
        "end_sum": _when(sa.and_(felt, F.c.sentiment_end.is_not(None)), F.c.sentiment_end),
        "negative": _when(sa.and_(felt, F.c.sentiment < NEGATIVE_SENTIMENT)),
        "talk_n": _when(talk),
        "silence_sum": _when(talk, F.c.silence_ratio),
        "longest_n": _when(sa.and_(talk, F.c.longest_silence_s.is_not(None))),
        "longest_sum": _when(sa.and_(talk, F.c.longest_silence_s.is_not(None)), F.c.longest_silence_s),
        "overtalk_n": _when(sa.and_(talk, F.c.overtalk_ratio.is_not(None))),
        "overtalk_sum": _when(sa.and_(talk, F.c.overtalk_ratio.is_not(None)), F.c.overtalk_ratio),
        "high_silence": _when(sa.and_(talk, F.c.silence_ratio > HIGH_SILENCE_RATIO)),
        "high_overtalk": _when(sa.and_(talk, F.c.overtalk_ratio > HIGH_OVERTALK_RATIO)),
        "qa_n": _when(qa),
        "qa_sum": _when(qa, F.c.qa_score),
        "known": _when(known),
        "repeated": _when(sa.and_(known, followed.c.n.is_not(None))),
        "repeat_contacts": _when(known, sa.func.coalesce(followed.c.n, 0)),
        "repeat_seconds": _when(known, sa.func.coalesce(followed.c.seconds, 0.0)),
        **{f"repeats_{c}": _when(known, sa.func.coalesce(followed.c[c], 0)) for c in REPEAT_CHANNELS},
    }


def bucket_of(value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The histogram bucket of a handling time, in SQL (`ln` is registered on SQLite connections that lack it)."""
    index = sa.func.ceil(sa.func.ln(value) / math.log(GAMMA) - 1e-9)
    return sa.cast(sa.case((value > 0, index), else_=ZERO_BUCKET), sa.Integer)


def bucket_value(bucket: int) -> float:
    """The value a bucket stands for: within `PERCENTILE_ERROR` of every handling time it holds."""
    return 0.0 if bucket == ZERO_BUCKET else 2 * GAMMA**bucket / (GAMMA + 1)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def as_date(value: Any) -> date | None:
    """A day as the database returns it (a date on PostgreSQL, text on SQLite)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _lock(session: Session, tenant: str) -> None:
    """One refresh per tenant at a time (PostgreSQL; SQLite has one writer anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"callscope-rollup:{tenant}"))))


def _take_marks(session: Session, tenant: str, scope: str) -> set[date]:
    """Delete the tenant's visible marks of `scope` and return their days: a mark written while the rebuild runs
    stays for the next one, and the deletion is undone if the rebuild fails (same transaction)."""
    taken = session.execute(
        sa.delete(marks).where(marks.c.tenant == tenant, marks.c.scope == scope).returning(marks.c.day)
    )
    return {as_date(d) for (d,) in taken}


def stale_days(session: Session, tenant: str) -> int:
    return (
        session.scalar(
            sa.select(sa.func.count(sa.distinct(marks.c.day))).where(marks.c.tenant == tenant, marks.c.scope == "d")
        )
        or 0
    )


def _chunks(values: Sequence[date], size: int = 62) -> Iterable[list[date]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def refresh_days(session: Session, tenant: str) -> int:
    """Rebuild the rollup rows of the tenant's stale days from their contact rows; commits. Returns the days."""
    _lock(session, tenant)
    days = sorted(_take_marks(session, tenant, "d"))
    for chunk in _chunks(days):
        followed = followed_by_repeats(tenant, chunk)
        measures = row_measures(followed)
        source = F.outerjoin(followed, followed.c.repeat_of == F.c.interaction_id)
        session.execute(sa.delete(rollup).where(rollup.c.tenant == tenant, rollup.c.day.in_(chunk)))
        for level, dims in LEVELS.items():
            keys = [row_dimension(d).label(d) for d in dims]
            select = (
                sa.select(
                    F.c.tenant, F.c.day, sa.literal(level).label("level"), *keys,
                    *[sa.func.sum(measures[m]).label(m) for m in MEASURES],
                )
                .select_from(source)
                .where(F.c.tenant == tenant, F.c.day.in_(chunk))
                .group_by(F.c.tenant, F.c.day, *keys)
            )  # fmt: skip
            names = ["tenant", "day", "level", *dims, *MEASURES]
            session.execute(sa.insert(rollup).from_select(names, select))
    months = sorted({month_start(d) for d in days})
    if months:
        session.execute(sa.insert(marks), [{"tenant": tenant, "day": m, "scope": "m"} for m in months])
    session.commit()
    return len(days)


def refresh_months(session: Session, tenant: str) -> int:
    """Rebuild the handling-time histograms of the tenant's stale months; commits. Returns the months."""
    _lock(session, tenant)
    months = sorted({month_start(d) for d in _take_marks(session, tenant, "m")})
    for month in months:
        session.execute(sa.delete(histogram).where(histogram.c.tenant == tenant, histogram.c.month == month))
        for level in HIST_LEVELS:
            keys = [row_dimension(d).label(d) for d in LEVELS[level]]
            bucket = bucket_of(F.c.actual_s).label("bucket")
            select = (
                sa.select(F.c.tenant, sa.literal(month).label("month"), sa.literal(level).label("level"), *keys,
                          bucket, sa.func.count().label("n"))
                .where(F.c.tenant == tenant, F.c.day >= month, F.c.day < next_month(month), F.c.actual_s.is_not(None))
                .group_by(F.c.tenant, *keys, bucket)
            )  # fmt: skip
            names = ["tenant", "month", "level", *LEVELS[level], "bucket", "n"]
            session.execute(sa.insert(histogram).from_select(names, select))
    session.commit()
    return len(months)


def tenants_with_marks(session: Session) -> list[str]:
    return sorted(session.scalars(sa.select(marks.c.tenant).distinct()))


def refresh(session: Session, tenant: str | None = None) -> dict[str, int]:
    """Bring the rollups and histograms of one tenant (or all) up to date; what the scheduled task runs."""
    done = {"days": 0, "months": 0}
    for name in [tenant] if tenant else tenants_with_marks(session):
        done["days"] += refresh_days(session, name)
        done["months"] += refresh_months(session, name)
    return done


def rebuild(session: Session, tenant: str | None = None) -> dict[str, int]:
    """Mark every day of the tenant's contacts (or every tenant's) stale and refresh: after a bulk load."""
    tenants = [tenant] if tenant else sorted(session.scalars(sa.select(F.c.tenant).distinct()))
    for name in tenants:
        session.execute(sa.delete(rollup).where(rollup.c.tenant == name))
        session.execute(sa.delete(histogram).where(histogram.c.tenant == name))
        days = sa.select(F.c.tenant, F.c.day, sa.literal("d")).where(F.c.tenant == name).distinct()
        session.execute(sa.insert(marks).from_select(["tenant", "day", "scope"], days))
        session.commit()
    done = {"days": 0, "months": 0}
    for name in tenants:
        for key, value in refresh(session, name).items():
            done[key] += value
    return done


# Reading ------------------------------------------------------------------------------------------------------


def level_for(dimensions: Iterable[str], levels: Iterable[str] = LEVELS) -> str | None:
    """The smallest level that has every dimension a grouping or filter needs (None: read the contact rows)."""
    needed = set(dimensions) - {"day"}
    return next((name for name in levels if needed <= set(LEVELS[name])), None)


def filter_dimensions(f: Filters) -> set[str]:
    named = {"channel": f.channel, "intent": f.intent, "queue": f.queue, "agent": f.agent, "categories": f.category}
    return {name for name, value in named.items() if value}


def where(table: sa.Table, tenant: str, f: Filters, *, level: str, day: Any = None) -> list[sa.ColumnElement[bool]]:
    """The filters as conditions on a rollup or histogram table (`day`: its date column)."""
    column = table.c.day if day is None else day
    conditions: list[sa.ColumnElement[bool]] = [table.c.tenant == tenant, table.c.level == level]
    if f.date_from:
        conditions.append(column >= f.date_from)
    if f.date_to:
        conditions.append(column <= f.date_to)
    for name in ("channel", "intent", "queue", "agent"):
        value = getattr(f, name)
        if value:
            conditions.append(table.c[name].is_(None) if value == UNKNOWN else table.c[name] == value)
    if f.category:
        conditions.append(table.c.categories.contains(f"|{f.category}|", autoescape=True))
    return conditions


def contacts_in_period(session: Session, tenant: str, f: Filters) -> int:
    """How many contacts the tenant has in the filter's dates (the 'total' level: one row a day)."""
    conditions = where(rollup, tenant, Filters(date_from=f.date_from, date_to=f.date_to), level="total")
    return session.scalar(sa.select(sa.func.sum(rollup.c.contacts)).where(*conditions)) or 0


def clean_months(session: Session, tenant: str, level: str, f: Filters) -> list[date]:
    """Months whose histogram is current and that lie wholly inside the filter's dates."""
    built = set(
        map(as_date, session.scalars(
            sa.select(histogram.c.month).where(histogram.c.tenant == tenant, histogram.c.level == level).distinct()
        ))
    )  # fmt: skip
    stale = set(
        map(as_date, session.scalars(
            sa.select(marks.c.day).where(marks.c.tenant == tenant, marks.c.scope == "m").distinct()
        ))
    )  # fmt: skip
    after = f.date_from or date.min
    before = f.date_to + timedelta(days=1) if f.date_to else date.max
    return sorted(m for m in built - stale if m >= after and next_month(m) <= before)


def other_days(f: Filters, months: Sequence[date]) -> list[sa.ColumnElement[bool]]:
    """Conditions on the contact rows' day for the filter's dates outside `months` (sorted): an OR of ranges."""
    ranges = []
    start = f.date_from
    for month in months:
        if start is None or start < month:
            ranges.append((start, month - timedelta(days=1)))
        start = next_month(month)
    ranges.append((start, f.date_to))
    parts = []
    for low, high in ranges:
        if low is not None and high is not None and low > high:
            continue
        bounds = [c for c in (F.c.day >= low if low else None, F.c.day <= high if high else None) if c is not None]
        parts.append(sa.and_(*bounds) if bounds else sa.true())
    return [sa.or_(*parts)] if parts else [sa.false()]


def rank_percentiles(counts: dict[int, int], quantiles: Sequence[float]) -> list[float | None]:
    """Nearest-rank percentiles of a bucket histogram, each as its bucket's value."""
    total = sum(counts.values())
    if not total:
        return [None for _ in quantiles]
    ordered = sorted(counts.items())
    found = []
    for q in quantiles:
        rank, seen = max(1, math.ceil(q * total)), 0
        for bucket, n in ordered:
            seen += n
            if seen >= rank:
                found.append(bucket_value(bucket))
                break
    return found


def merge_counts(rows: Iterable[Sequence[Any]], width: int) -> dict[tuple[Any, ...], dict[int, int]]:
    """(*keys, bucket, n) rows into a histogram per key."""
    merged: dict[tuple[Any, ...], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        merged[tuple(row[:width])][int(row[width])] += int(row[width + 1])
    return merged
