"""A tenant's categories: stored rules (`understanding.categories` evaluates them) and the tags they set on contacts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from callscope.errors import InvalidInput, NotFound
from callscope.storage.db import Category, Interaction, Outcome, utcnow
from callscope.storage.search import index_contact
from callscope.understanding.categories import CategoryIn, Rule, contact_facts, evaluate, matching

__all__ = [
    "CategoryIn",
    "Rule",
    "evaluate",
    "matching",
    "create_category",
    "update_category",
    "delete_category",
    "list_categories",
    "retag",
    "tag",
]


def rules_for(session: Session, *, tenant: str) -> dict[str, Rule]:
    rows = session.scalars(select(Category).where(Category.tenant == tenant).order_by(Category.name))
    rules: dict[str, Rule] = {}
    for row in rows:
        try:
            rules[row.name] = Rule.model_validate(row.rule)
        except ValidationError:  # a rule stored by an older version: skip rather than fail analysis
            continue
    return rules


def tag(session: Session, row: Interaction, *, rules: dict[str, Rule] | None = None) -> list[str]:
    """Set `row.categories` from the tenant's rules (at analysis time, and again once an outcome arrives);
    `rules`: the tenant's, when the caller read them already (`rules_for`, once per batch)."""
    actual = session.scalar(select(Outcome.handle_time_s).where(Outcome.interaction_id == row.id))
    rules = rules if rules is not None else rules_for(session, tenant=row.tenant)
    names = matching(rules, contact_facts(row, actual=actual))
    row.categories = names
    return names


def category_view(row: Category) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "rule": row.rule,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def list_categories(session: Session, *, tenant: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(Category).where(Category.tenant == tenant).order_by(Category.name))
    return [category_view(r) for r in rows]


def _get(session: Session, *, tenant: str, category_id: int) -> Category:
    row = session.get(Category, category_id)
    if row is None or row.tenant != tenant:
        raise NotFound(f"category {category_id} not found")
    return row


def _check_unique(session: Session, *, tenant: str, name: str, other_than: int | None = None) -> None:
    clash = session.scalar(select(Category).where(Category.tenant == tenant, Category.name == name))
    if clash is not None and clash.id != other_than:
        raise InvalidInput(f"a category named {name!r} exists already", 409)


def create_category(session: Session, *, tenant: str, body: CategoryIn) -> dict[str, Any]:
    _check_unique(session, tenant=tenant, name=body.name)
    row = Category(tenant=tenant, name=body.name, rule=body.rule.model_dump(exclude_defaults=True), created_at=utcnow())
    session.add(row)
    session.commit()
    return category_view(row)


def update_category(session: Session, *, tenant: str, category_id: int, body: CategoryIn) -> dict[str, Any]:
    """New rules tag contacts analyzed from now on (`search.reindex` after `retag` applies them to older ones)."""
    row = _get(session, tenant=tenant, category_id=category_id)
    _check_unique(session, tenant=tenant, name=body.name, other_than=row.id)
    row.name, row.rule = body.name, body.rule.model_dump(exclude_defaults=True)
    session.commit()
    return category_view(row)


def delete_category(session: Session, *, tenant: str, category_id: int) -> None:
    session.delete(_get(session, tenant=tenant, category_id=category_id))
    session.commit()


def retag(session: Session, *, tenant: str, ids: Sequence[str]) -> None:
    """Apply the current rules to stored contacts (then index them again); the caller commits."""
    for row in session.scalars(select(Interaction).where(Interaction.tenant == tenant, Interaction.id.in_(ids))):
        tag(session, row)
        index_contact(session, row)
