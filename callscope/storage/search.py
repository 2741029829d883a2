"""Report index and full-text search: one narrow row of figures per analyzed contact, plus its searchable text.

Reports aggregate `report_contacts` (scalar columns, indexed by tenant) instead of parsing each contact's JSON,
so they stay fast on hundreds of thousands of contacts. Search documents live in `report_search`: on PostgreSQL a
`tsvector` per contact (GIN index, `websearch_to_tsquery`), on SQLite an FTS5 table whose rowid is the report row's
rowid. Only redacted turns are indexed (turns are redacted before they are stored).

The analysis step calls, after it has set the contact's fields and before it commits::

    categories.tag(session, row)      # sets row.categories from the tenant's rules
    search.index_contact(session, row)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Session

from callscope.storage.db import Interaction, Outcome, as_utc

SEARCH_CONFIG = "english"
# Objects created by migrations 0004 and 0012 that are not SQLAlchemy models (see include_object).
INDEX_TABLES = ("report_contacts", "report_search", "report_rollup", "report_marks")

metadata = sa.MetaData()
report_contacts = sa.Table(
    "report_contacts",
    metadata,
    sa.Column("interaction_id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("intent", sa.String(100)),
    sa.Column("queue", sa.String(100)),
    sa.Column("agent", sa.String(100)),
    sa.Column("routed_queue", sa.String(100)),
    sa.Column("predicted_p50_s", sa.Float),
    sa.Column("predicted_p90_s", sa.Float),
    sa.Column("duration_s", sa.Float),
    sa.Column("sentiment", sa.Float),
    sa.Column("sentiment_start", sa.Float),
    sa.Column("sentiment_end", sa.Float),
    sa.Column("silence_s", sa.Float),
    sa.Column("silence_ratio", sa.Float),
    sa.Column("longest_silence_s", sa.Float),
    sa.Column("overtalk_s", sa.Float),
    sa.Column("overtalk_ratio", sa.Float),
    sa.Column("repeat", sa.Boolean, nullable=False, default=False),
    sa.Column("actual_s", sa.Float),  # the outcome's, kept current by a trigger on `outcomes`
    sa.Column("resolution", sa.String(100)),
    sa.Column("outcome_queue", sa.String(100)),
    sa.Column("categories", sa.Text),  # "|a|b|" (see tagged)
    sa.Column("qa_score", sa.Float),  # the QA score with supervisors' overrides (migration 0009)
    sa.Column("repeat_of", sa.String(36)),  # the earlier contact this one repeats (migration 0010)
    sa.Column("known_customer", sa.Boolean),  # posted with a customer_ref: repeats can be seen
    sa.Column("qa_form", sa.String(80)),  # "form_id:version" of the QA answers (migration 0011)
    sa.Column("qa_pattern", sa.String(100)),  # one letter per question of that form: y, n or a (n/a)
)
# PostgreSQL's search vectors (SQLite's `report_search` is an FTS5 table whose rowid is the report row's rowid)
search_documents = sa.Table(
    "report_search",
    metadata,
    sa.Column("interaction_id", sa.String(36), primary_key=True),
    sa.Column("document", TSVECTOR, nullable=False),
)
FIGURE_COLUMNS = [c.name for c in report_contacts.columns]


def tagged(name: str) -> sa.ColumnElement[bool]:
    """Contacts tagged with a category: `categories` holds "|a|b|" (names never contain "|")."""
    return report_contacts.c.categories.contains(f"|{name}|", autoescape=True)


def include_object(_obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic filter: the report index and FTS5 tables (and SQLite's FTS5 shadow tables) are not models."""
    if type_ == "table" and reflected and compare_to is None and name:
        return not any(name == t or name.startswith(f"{t}_") for t in INDEX_TABLES)
    return True


def _score(value: Any) -> float | None:
    """A sentiment figure as a number: a float, or a dict holding one under a usual key."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):
        for key in ("score", "compound", "mean", "value", "polarity"):
            if isinstance(value.get(key), int | float) and not isinstance(value.get(key), bool):
                return float(value[key])
    return None


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present else None


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _number(mapping: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def turn_sentiments(analysis: dict[str, Any]) -> list[float | None]:
    """Per-turn scores, aligned with the turns (`turn_scores`, or `per_turn` numbers or dicts)."""
    sentiment = _mapping(analysis.get("sentiment"))
    values = sentiment.get("turn_scores") or sentiment.get("per_turn") or []
    return [_score(v) for v in values] if isinstance(values, list) else []


def sentiment_figures(analysis: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    """(overall, start, end) of the customer's sentiment, from whichever of the known fields are present."""
    sentiment = _mapping(analysis.get("sentiment"))
    if not sentiment:
        return None, None, None
    per_turn = turn_sentiments(analysis)
    speakers = _mapping(sentiment.get("speaker_means")) or _mapping(sentiment.get("per_speaker"))
    overall = _first(
        _score(sentiment.get("customer_mean")), _score(sentiment), _score(speakers.get("customer")), _mean(per_turn)
    )
    trajectory = _mapping(sentiment.get("customer_trajectory")) or _mapping(sentiment.get("trajectory"))
    present = [v for v in per_turn if v is not None]
    start = _first(_score(trajectory.get("start")), present[0] if present else None)
    end = _first(_score(trajectory.get("end")), present[-1] if present else None)
    return overall, start, end


def turn_timing(turns: list[dict[str, Any]]) -> dict[str, float] | None:
    """Silence (no one speaking) and overtalk (both speaking) in seconds, from turn start/end times."""
    spans = sorted(
        (float(t.get("start") or 0.0), float(t.get("end") or 0.0), t.get("speaker"))
        for t in turns
        if isinstance(t, dict) and (t.get("end") or 0) > (t.get("start") or 0)
    )
    if not spans:
        return None
    silence = longest = overtalk = 0.0
    reach, reach_speaker = spans[0][1], spans[0][2]
    for start, end, speaker in spans[1:]:
        if start > reach:
            gap = start - reach
            silence, longest = silence + gap, max(longest, gap)
        elif speaker != reach_speaker:
            overtalk += min(end, reach) - start
        if end > reach:
            reach, reach_speaker = end, speaker
    total = max(s[1] for s in spans) - spans[0][0]
    return {"silence_s": silence, "longest_silence_s": longest, "overtalk_s": overtalk, "span_s": total}


def contact_figures(row: Interaction) -> dict[str, Any]:
    """The report row of one contact; missing analysis parts give NULL figures, never an error."""
    analysis = row.analysis if isinstance(row.analysis, dict) else {}
    routing = row.routing if isinstance(row.routing, dict) else {}
    handle_time = row.handle_time if isinstance(row.handle_time, dict) else {}
    features = _mapping(analysis.get("features"))
    turns = row.turns if isinstance(row.turns, list) else []
    overall, start, end = sentiment_figures(analysis)
    duration = row.duration_s or _number(features, "duration_s")
    silence = _number(features, "silence_s", "total_silence_s")
    longest = _number(features, "longest_silence_s", "max_silence_s")
    overtalk = _number(features, "overtalk_s", "overlap_s")
    timing = turn_timing(turns) if row.channel == "voice" else None
    if timing:
        silence = timing["silence_s"] if silence is None else silence
        longest = timing["longest_silence_s"] if longest is None else longest
        overtalk = timing["overtalk_s"] if overtalk is None else overtalk
        duration = duration or timing["span_s"] or None
    repeat = analysis.get("repeat_contact")
    created = as_utc(row.created_at or datetime.now(UTC))
    return {
        "interaction_id": row.id,
        "tenant": row.tenant,
        "created_at": created,
        "day": created.date(),
        "channel": row.channel,
        "intent": row.intent_label,
        "queue": row.queue,
        "agent": row.agent,
        "routed_queue": routing.get("queue"),
        "predicted_p50_s": _number(handle_time, "p50_s"),
        "predicted_p90_s": _number(handle_time, "p90_s"),
        "duration_s": duration,
        "sentiment": overall,
        "sentiment_start": start,
        "sentiment_end": end,
        "silence_s": silence,
        "silence_ratio": round(silence / duration, 4) if silence is not None and duration else None,
        "longest_silence_s": longest,
        "overtalk_s": overtalk,
        "overtalk_ratio": round(overtalk / duration, 4) if overtalk is not None and duration else None,
        "repeat": bool(repeat.get("is_repeat")) if isinstance(repeat, dict) else bool(repeat is True),
        **qa_figures(_mapping(analysis.get("qa"))),
        "repeat_of": repeat.get("previous_id") if isinstance(repeat, dict) and repeat.get("is_repeat") else None,
        "known_customer": row.customer_hash is not None,
    }


QA_LETTERS = {"yes": "y", "no": "n", "n/a": "a"}


def qa_figures(qa: dict[str, Any]) -> dict[str, Any]:
    """The QA score and the answers as one pattern, a letter per question in the form's order (`QA_LETTERS`)."""
    answers = qa.get("answers") if isinstance(qa.get("answers"), list) else []
    pattern = "".join(QA_LETTERS.get(str(a.get("answer")), "a") for a in answers if isinstance(a, dict))
    return {
        "qa_score": _number(qa, "score"),
        "qa_form": f"{qa.get('form')}:{qa.get('version')}" if qa.get("form") else None,
        "qa_pattern": pattern[:100] or None,
    }


def contact_text(row: Interaction) -> str:
    """What search reads: the stored (redacted) turns."""
    return "\n".join(str(t.get("text") or "") for t in row.turns or [] if isinstance(t, dict))


def index_contact(session: Session, row: Interaction) -> None:
    """Write (or replace) the contact's report row, categories and search document; the caller commits."""
    index_contacts(session, [row])


def index_contacts(session: Session, rows: Sequence[Interaction]) -> None:
    """`index_contact` for many contacts in a few statements (reindexing, bulk imports); the caller commits."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    ids = [row.id for row in rows]
    outcomes = {
        r[0]: r[1:]
        for r in session.execute(
            sa.select(Outcome.interaction_id, Outcome.handle_time_s, Outcome.resolution, Outcome.queue).where(
                Outcome.interaction_id.in_(ids)
            )
        )
    }
    params = []
    for row in rows:
        figures = contact_figures(row)
        figures["actual_s"], figures["resolution"], figures["outcome_queue"] = outcomes.get(row.id, (None, None, None))
        names = sorted({str(n)[:100] for n in row.categories or [] if n})
        figures["categories"] = "|" + "|".join(names) + "|" if names else None
        params.append({**figures, "body": contact_text(row)})
    columns = FIGURE_COLUMNS
    values: dict[str, Any] = {c: sa.bindparam(c) for c in columns}
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(report_contacts).values(values)
    updates = {c: insert.excluded[c] for c in values if c != "interaction_id"}
    session.execute(insert.on_conflict_do_update(index_elements=["interaction_id"], set_=updates), params)
    if dialect == "postgresql":
        document = sa.func.to_tsvector(SEARCH_CONFIG, sa.cast(sa.bindparam("body"), sa.Text))
        insert = postgresql.insert(search_documents).values(
            interaction_id=sa.bindparam("interaction_id"), document=document
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["interaction_id"], set_={"document": insert.excluded.document}
        )
        session.execute(upsert, [{"interaction_id": p["interaction_id"], "body": p["body"]} for p in params])
    else:
        rowids = dict(
            session.execute(
                sa.select(report_contacts.c.interaction_id, sa.literal_column("report_contacts.rowid")).where(
                    report_contacts.c.interaction_id.in_(ids)
                )
            ).all()
        )
        session.execute(sa.text("DELETE FROM report_search WHERE rowid = :r"), [{"r": rowids[i]} for i in ids])
        session.execute(
            sa.text("INSERT INTO report_search (rowid, body) VALUES (:r, :b)"),
            [{"r": rowids[p["interaction_id"]], "b": p["body"]} for p in params],
        )


def reindex(session: Session, *, tenant: str | None = None, batch: int = 1000) -> int:
    """Index every analyzed contact again (after upgrading to this index); commits per batch."""
    query = sa.select(Interaction.id).where(Interaction.status == "done").order_by(Interaction.id)
    if tenant:
        query = query.where(Interaction.tenant == tenant)
    ids = list(session.scalars(query))
    for start in range(0, len(ids), batch):
        rows = list(session.scalars(sa.select(Interaction).where(Interaction.id.in_(ids[start : start + batch]))))
        index_contacts(session, rows)
        session.commit()
        session.expunge_all()
    return len(ids)


_TOKEN = re.compile(r'-?"[^"]*"|\S+')


MAX_SEARCH_TERMS = 32  # words and phrases in one search: more is refused (422), never a slow or failing query


def search_terms(text: str) -> int:
    """How many words and phrases a search holds (its `or`s not counted)."""
    return sum(1 for token in _TOKEN.findall(text) if token.lower() != "or" and re.search(r"\w", token))


def fts5_query(text: str) -> str | None:
    """Web-search syntax (words, "phrases", -excluded, or) as a safe FTS5 query; None when nothing is searched.
    Alternatives are one flat group ("(a OR b OR c)"), however many: FTS5's parser has a small stack."""
    positive: list[list[str]] = []
    negative: list[str] = []
    join_or = False
    for token in _TOKEN.findall(text):
        if token.lower() == "or" and positive:
            join_or = True
            continue
        excluded = token.startswith("-") and len(token) > 1
        words = re.findall(r"\w+", token)
        if not words:
            continue
        quoted = '"' + " ".join(words) + '"'
        if excluded:
            negative.append(quoted)
        elif join_or:
            positive[-1].append(quoted)
        else:
            positive.append([quoted])
        join_or = False
    if not positive:
        return None
    groups = [group[0] if len(group) == 1 else "(" + " OR ".join(group) + ")" for group in positive]
    return " AND ".join(groups) + "".join(f" NOT {n}" for n in negative)


def search_condition(dialect: str, query: str) -> sa.ColumnElement[bool]:
    """A WHERE clause on `report_contacts` that keeps the contacts matching `query` (combine with any filter)."""
    if dialect == "postgresql":
        query_vector = sa.func.websearch_to_tsquery(SEARCH_CONFIG, query)
        matches = sa.select(search_documents.c.interaction_id).where(search_documents.c.document.op("@@")(query_vector))
        return report_contacts.c.interaction_id.in_(matches)
    fts = fts5_query(query)
    if fts is None:
        return sa.false()
    matches = sa.select(sa.literal_column("rowid")).select_from(sa.table("report_search"))
    matches = matches.where(sa.literal_column("report_search").op("MATCH")(fts))
    return sa.literal_column("report_contacts.rowid").in_(matches)


def search_ids(session: Session, tenant: str, query: str, *, limit: int = 100) -> list[str]:
    """Ids of the tenant's contacts whose redacted turns match `query`, newest first."""
    dialect = session.get_bind().dialect.name
    rows = session.scalars(
        sa.select(report_contacts.c.interaction_id)
        .where(report_contacts.c.tenant == tenant, search_condition(dialect, query))
        .order_by(report_contacts.c.created_at.desc())
        .limit(limit)
    )
    return list(rows)
