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
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Session

from callscope.storage.db import Interaction, Outcome
from callscope.understanding.figures import contact_figures

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
