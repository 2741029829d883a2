"""What every report is narrowed by (tenant, dates, channel, intent, queue, agent, category, full-text search),
as SQL conditions over the report index `report_contacts`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from callscope.contacts import check_text
from callscope.errors import InvalidInput
from callscope.storage.db import Category, Outcome
from callscope.storage.search import MAX_SEARCH_TERMS, report_contacts, search_condition, search_terms, tagged

F = report_contacts  # reports read one table: the outcome's figures are copied into it (trigger on `outcomes`)
O = Outcome.__table__  # noqa: E741
queue_col = sa.func.coalesce(F.c.outcome_queue, F.c.queue)
actual_col = F.c.actual_s
UNKNOWN = "(unknown)"


@dataclass(frozen=True)
class Filters:
    """What every report can be narrowed by; `date_to` is inclusive, `q` is a full-text search."""

    date_from: date | None = None
    date_to: date | None = None
    channel: str | None = None
    intent: str | None = None
    queue: str | None = None
    agent: str | None = None
    category: str | None = None
    q: str | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidInput("date_from is after date_to")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str) and len(value) > 500:
                raise InvalidInput(f"{f.name} is too long")
            if isinstance(value, str):
                check_text(value, where=f.name)
        if self.q and search_terms(self.q) > MAX_SEARCH_TERMS:
            raise InvalidInput(f"a search holds at most {MAX_SEARCH_TERMS} words and phrases")

    def as_query(self) -> dict[str, str]:
        """The filters as query parameters (for links that keep them)."""
        return {k: str(v) for k, v in asdict(self).items() if v not in (None, "")}


def _tune(session: Session) -> None:
    """PostgreSQL, once per transaction: sort percentiles in memory, skip JIT (it costs more than it saves here)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    if transaction is not None and session.info.get("reports_tuned") == id(transaction):
        return
    session.execute(sa.text("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off"))
    session.info["reports_tuned"] = id(session.get_transaction())


def category_marks(marks: str | None) -> list[str]:
    """The category names in a `categories` value ("|a|b|")."""
    return [name for name in (marks or "").split("|") if name]


def category_names(session: Session, tenant: str) -> list[str]:
    """The tenant's defined categories (the dashboard's filter list)."""
    return sorted(session.scalars(sa.select(Category.name).where(Category.tenant == tenant)))


def where_clauses(session: Session, tenant: str, f: Filters) -> list[sa.ColumnElement[bool]]:
    _tune(session)
    conditions: list[sa.ColumnElement[bool]] = [F.c.tenant == tenant]
    if f.date_from:
        conditions.append(F.c.day >= f.date_from)
    if f.date_to:
        conditions.append(F.c.day <= f.date_to)
    for column, value in ((F.c.channel, f.channel), (F.c.intent, f.intent), (F.c.agent, f.agent)):
        if value:
            conditions.append(column.is_(None) if value == UNKNOWN else column == value)
    if f.queue:
        conditions.append(queue_col.is_(None) if f.queue == UNKNOWN else queue_col == f.queue)
    if f.category:
        conditions.append(tagged(f.category))
    if f.q and f.q.strip():
        conditions.append(search_condition(session.get_bind().dialect.name, f.q.strip()))
    return conditions
