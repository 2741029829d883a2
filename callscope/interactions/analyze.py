"""The one place a contact is analyzed: the worker, the importer, `/v1/analyze`, the CLI's stored runs and the live
session's end all call `analyze_contact`, so the same conversation gets the same analysis however it arrived.

What it adds to the pure analysis (`interactions.analysis.analyze_turns`): the tenant's own resources (QA forms,
intent model and routes; loaded once per batch), its stored outcomes and trained handling-time model (predicted
once), the learned route preference, the repeat-contact link, category tags and the search index.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callscope.contacts import Turn
from callscope.interactions.analysis import Analysis, Memo, Resources, analyze_turns, no_outcomes
from callscope.interactions.intake import redact_turns
from callscope.prediction.routing import RoutingHint, with_tenant_intents
from callscope.settings import Settings
from callscope.storage import search
from callscope.storage.db import Interaction, Outcome, utcnow
from callscope.storage.store import outcome_durations, previous_contact
from callscope.tenants import categories, learning, scorecards
from callscope.tenants import intents as tenant_intents
from callscope.understanding.intent import IntentModel, heard

T = TypeVar("T")


def tenant_resources(session: Session, resources: Resources, *, tenant: str) -> Resources:
    """The resources with the tenant's QA forms and its own intent model and routes, when it has fitted one, else
    the shipped model at the tenant's point on its trade-off curve."""
    resources = replace(resources, qa_forms=scorecards.tenant_forms(session, tenant=tenant))
    found = tenant_intents.active_model(session, tenant=tenant)
    if found is None:
        if not isinstance(resources.intent_model, IntentModel):
            return resources
        typed, spoken = tenant_intents.thresholds(session, tenant=tenant)
        return replace(resources, intent_model=resources.intent_model.with_thresholds(typed, spoken))
    model, intents = found
    routes = [(i.name, i.queue, i.priority, i.escalate) for i in intents]
    return replace(resources, intent_model=model, routing_table=with_tenant_intents(resources.routing_table, routes))


@dataclass
class Batch:
    """What a run of contacts shares: the process's resources, each tenant's loaded once (`tenant_resources`)."""

    resources: Resources
    repeat_window_days: int
    by_tenant: dict[str, Resources] = field(default_factory=dict)
    memo: Memo = field(default_factory=Memo)
    lookups: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, resources: Resources | None = None) -> Batch:
        return cls(resources or Resources.from_settings(settings), repeat_window_days=settings.repeat_window_days)

    def prepare(self, session: Session, interaction_ids: Sequence[str]) -> None:
        """Classify the intent units and read the turns of every stored contact of the batch in one pass each
        (`analysis.Memo`); each contact's analysis then finds them done."""
        rows = session.scalars(select(Interaction).where(Interaction.id.in_(interaction_ids))).all()
        contacts = []
        for row in rows:
            if row.turns is None or row.status in ("done", "failed"):
                continue
            model = self.for_tenant(session, row.tenant).intent_model
            contacts.append(
                (heard(model) if row.channel == "voice" else model, [Turn.model_validate(t) for t in row.turns])
            )
        self.memo.remember(contacts)

    def once(self, key: tuple[Any, ...], look: Callable[[], T]) -> T:
        """A tenant's stored figures read once per batch (outcomes per intent, its active handling-time model, its
        category rules, its learned routes): a batch lasts seconds, and they change on a scale of minutes."""
        if key not in self.lookups:
            self.lookups[key] = look()
        return self.lookups[key]  # type: ignore[no-any-return]

    def restart(self) -> None:
        """Forget what was read and memoized (a long import starts each of its batches afresh)."""
        self.memo, self.lookups = Memo(), {}

    def for_tenant(self, session: Session, tenant: str) -> Resources:
        if tenant not in self.by_tenant:
            self.by_tenant[tenant] = tenant_resources(session, self.resources, tenant=tenant)
        return self.by_tenant[tenant]


def analyze_contact(session: Session | None, row: Interaction, *, batch: Batch, store: bool = True) -> Analysis:
    """Analyze a contact whose (redacted) turns are on `row` and put the result on it, marked done.

    `store=False` (a snippet sent to `/v1/analyze`): the row is not indexed and no outcome is touched; the caller
    does not add it to the session. No session (`callscope analyze` on local files): the shipped resources and
    priors only. The caller commits."""
    resources = batch.for_tenant(session, row.tenant) if session is not None else batch.resources
    turns = [Turn.model_validate(t) for t in row.turns or []]
    tenant = row.tenant
    if session is not None:
        active = batch.once(("model", tenant), lambda: learning.active_model(session, tenant=tenant))
    analysis = analyze_turns(
        turns,
        channel=row.channel,
        resources=resources,
        outcomes=(
            lambda intent: batch.once(("outcomes", tenant, intent),
                                      lambda: outcome_durations(session, tenant=tenant, intent=intent))
        ) if session else no_outcomes,
        duration_s=row.duration_s,
        learned=(lambda intent, queue: learning.predict(active, row, intent=intent, queue=queue)) if session else None,
        memo=batch.memo,
    )  # fmt: skip
    if session is not None:
        prefer_learned_route(session, batch, tenant, analysis.intent.label, analysis.routing,
                             min_outcomes=resources.min_outcomes)  # fmt: skip
    apply_analysis(row, analysis)
    row.analysis = {
        **(row.analysis or {}),
        "repeat_contact": repeat_contact(session, row, window_days=batch.repeat_window_days),
    }
    if session is None:
        return analysis
    rules = batch.once(("rules", tenant), lambda: categories.rules_for(session, tenant=tenant))
    categories.tag(session, row, rules=rules)
    if store:
        # an outcome reported before the analysis finished learns the intent now
        session.execute(update(Outcome).where(Outcome.interaction_id == row.id).values(intent=row.intent_label))
        search.index_contact(session, row)
    return analysis


def prefer_learned_route(
    session: Session, batch: Batch, tenant: str, intent: str | None, routing: RoutingHint, *, min_outcomes: int
) -> None:
    """Add what the tenant's outcomes teach about this intent's fastest queue to the routing hint."""
    preference = batch.once(
        ("route", tenant, intent, routing.queue),
        lambda: learning.learned_routing(session, tenant=tenant, intent=intent, default_queue=routing.queue,
                                         min_outcomes=min_outcomes),
    )  # fmt: skip
    if preference is None:
        return
    routing.learned = preference
    best = preference["preferred_queue"]
    if best:
        evidence = preference["evidence"][best]
        routing.reasons.append(
            f"history: {best} handles {intent} in a median {evidence['median_s']:.0f} s over {evidence['n']} "
            f"outcomes, about {preference['expected_saving_s']:.0f} s less than {preference['compared_with']}"
        )


def repeat_contact(session: Session | None, row: Interaction, *, window_days: int) -> dict[str, Any]:
    """Whether the same customer (by hashed reference) got in touch within the configured window before this."""
    if not row.customer_hash or session is None:
        return {"is_repeat": False, "known_customer": False}
    earlier = previous_contact(
        session, tenant=row.tenant, customer_hash=row.customer_hash, before=row.created_at,
        window_days=window_days, exclude=row.id,
    )  # fmt: skip
    if earlier is None:
        return {"is_repeat": False, "known_customer": True, "window_days": window_days}
    gap_h = (row.created_at - earlier.created_at).total_seconds() / 3600
    return {
        "is_repeat": True,
        "known_customer": True,
        "window_days": window_days,
        "previous_id": earlier.id,
        "previous_intent": earlier.intent_label,
        "hours_since": round(gap_h, 1),
    }


def apply_analysis(row: Interaction, analysis: Analysis) -> None:
    """Store an analysis on its contact and mark it done."""
    row.intent_label = analysis.intent.label
    row.intent_confidence = analysis.intent.confidence
    row.routing = analysis.routing.model_dump()
    row.handle_time = analysis.handle_time.model_dump()
    row.analysis = {**(row.analysis or {}), **analysis.details()}  # keeps what transcription found (roles)
    row.status, row.error, row.finished_at, row.progress = "done", None, utcnow(), 1.0


def analyze_snippet(
    session: Session | None,
    *,
    tenant: str,
    channel: str,
    turns: list[Turn],
    batch: Batch,
    duration_s: float | None = None,
) -> tuple[Interaction, Analysis]:
    """A contact analyzed and answered without being stored (`/v1/analyze`, `callscope analyze` on local files):
    redacted (`intake`) and analyzed like a posted one; the row is never added to the session."""
    row = Interaction(id=f"snippet-{uuid.uuid4()}", tenant=tenant, channel=channel, created_at=utcnow(), analysis={},
                      turns=redact_turns(turns), duration_s=duration_s)  # fmt: skip
    return row, analyze_contact(session, row, batch=batch, store=False)
