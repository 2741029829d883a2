"""QA scorecards in storage: tenants' forms (versioned), each contact's answers, supervisors' overrides."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from callscope.errors import NotFound
from callscope.storage import search
from callscope.storage.db import Interaction, QaAnswer, QaForm, TenantSettings, utcnow
from callscope.storage.store import update_tenant_settings
from callscope.understanding import qa


def put_form(session: Session, *, tenant: str, form: qa.Form) -> QaForm:
    """Store the form as the next version of its id; contacts analyzed from now on are scored with it."""
    last = session.scalar(
        sa.select(sa.func.max(QaForm.version)).where(QaForm.tenant == tenant, QaForm.form_id == form.id)
    )
    version = (last or 0) + 1
    definition = form.model_copy(update={"version": version}).model_dump(mode="json")
    session.execute(sa.update(QaForm).where(QaForm.tenant == tenant, QaForm.form_id == form.id).values(active=False))
    row = QaForm(tenant=tenant, form_id=form.id, version=version, definition=definition, active=True)
    session.add(row)
    session.commit()
    return row


def active_forms(session: Session, *, tenant: str) -> list[QaForm]:
    """The tenant's forms in force (the newest version of each), newest first."""
    query = sa.select(QaForm).where(QaForm.tenant == tenant, QaForm.active.is_(True)).order_by(QaForm.id.desc())
    return list(session.scalars(query))


def tenant_forms(session: Session, *, tenant: str) -> tuple[qa.Form, ...]:
    """The forms an analysis scores the tenant's contacts with (`qa.form_for` picks one per channel)."""
    return tuple(qa.Form.model_validate(row.definition) for row in active_forms(session, tenant=tenant))


def question_ids(session: Session, *, tenant: str, form_key: str) -> list[str]:
    """The question ids, in order, of the form version "form_id:version" (report rows keep answers in that order)."""
    form_id, _, version = form_key.rpartition(":")
    shipped = qa.default_form()
    if form_id == shipped.id and version == str(shipped.version):
        return [q.id for q in shipped.questions]
    number = int(version) if version.isdigit() else 0
    definition = session.scalar(
        sa.select(QaForm.definition).where(QaForm.tenant == tenant, QaForm.form_id == form_id, QaForm.version == number)
    )
    return [q["id"] for q in (definition or {}).get("questions", [])]


def delete_form(session: Session, *, tenant: str, form_id: str) -> None:
    """Retire a form (its versions stay, so scores already given still name them)."""
    retired = session.execute(
        sa.update(QaForm).where(QaForm.tenant == tenant, QaForm.form_id == form_id, QaForm.active.is_(True))
        .values(active=False)
    )  # fmt: skip
    if not retired.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"no QA form {form_id!r}")
    session.commit()


def override_answer(
    session: Session, *, tenant: str, interaction_id: str, question: str, answer: str, by: str
) -> dict[str, Any]:
    """A supervisor's answer replaces the automatic one; the contact's score and report row follow."""
    row = session.scalar(sa.select(Interaction).where(Interaction.id == interaction_id, Interaction.tenant == tenant))
    if row is None:
        raise NotFound(f"interaction {interaction_id} not found")
    scored = (row.analysis or {}).get("qa")
    if not scored:
        raise NotFound(f"interaction {interaction_id} has no QA answers yet (status {row.status})")
    at = utcnow()
    updated = qa.override(scored, question=question, answer=answer, by=by, at=at.isoformat())
    row.analysis = {**(row.analysis or {}), "qa": updated}
    automatic = next(a["automatic"] for a in updated["answers"] if a["question"] == question)
    review = session.get(QaAnswer, (row.id, question)) or QaAnswer(interaction_id=row.id, question=question)
    review.tenant, review.form_id, review.automatic = tenant, updated["form"], automatic
    review.answer, review.override_by, review.override_at = answer, by, at
    session.add(review)  # one row per reviewed answer: what the agreement rate reads
    search.index_contact(session, row)
    session.commit()
    return updated


def agents_see_own_qa(session: Session, *, tenant: str) -> bool:
    settings = session.get(TenantSettings, tenant)
    return bool(settings and settings.agents_see_own_qa)


def set_agents_see_own_qa(session: Session, *, tenant: str, allow: bool) -> None:
    update_tenant_settings(session, tenant=tenant, agents_see_own_qa=allow)


def form_schema() -> dict[str, Any]:
    """The JSON schema of a form, for the API's documentation."""
    return qa.Form.model_json_schema()


def shipped_form() -> dict[str, Any]:
    """The form a contact is scored with when its tenant has none for its channel."""
    return qa.default_form().model_dump(mode="json")


def read_form(raw: bytes, *, form_id: str) -> qa.Form:
    """A form sent as JSON or YAML (aliases refused, sizes capped: `qa.load_form_data`), under the id of its URL."""
    data = qa.load_form_data(raw)
    if isinstance(data, dict):
        data = {**data, "id": form_id}
    return qa.parse_form(data)
