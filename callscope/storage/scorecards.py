"""QA scorecards in storage: tenants' forms (versioned), each contact's answers, supervisors' overrides."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from callscope.errors import NotFound
from callscope.storage import search
from callscope.storage.db import Interaction, QaAnswer, QaForm, TenantSettings, utcnow
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


def save_answers(session: Session, row: Interaction) -> None:
    """Write the contact's automatic answers (kept for reports); answers a supervisor overrode stay theirs."""
    scored = (row.analysis or {}).get("qa")
    if not scored:
        return
    kept = {
        a.question: a
        for a in session.scalars(sa.select(QaAnswer).where(QaAnswer.interaction_id == row.id))
    }  # fmt: skip
    for answer in scored["answers"]:
        found = kept.pop(answer["question"], None)
        automatic = answer.get("automatic", answer["answer"])
        if found is None:
            session.add(QaAnswer(interaction_id=row.id, question=answer["question"], tenant=row.tenant,
                                 form_id=scored["form"], automatic=automatic, answer=answer["answer"]))  # fmt: skip
        else:
            found.form_id, found.automatic = scored["form"], automatic
            found.answer = found.answer if found.override_by else answer["answer"]
    for stale in kept.values():  # questions of an earlier form
        session.delete(stale)


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
    save_answers(session, row)
    session.flush()
    session.execute(
        sa.update(QaAnswer).where(QaAnswer.interaction_id == row.id, QaAnswer.question == question)
        .values(answer=answer, override_by=by, override_at=at)
    )  # fmt: skip
    search.index_contact(session, row)
    session.commit()
    return updated


def agents_see_own_qa(session: Session, *, tenant: str) -> bool:
    settings = session.get(TenantSettings, tenant)
    return bool(settings and settings.agents_see_own_qa)


def set_agents_see_own_qa(session: Session, *, tenant: str, allow: bool) -> None:
    settings = session.get(TenantSettings, tenant) or TenantSettings(tenant=tenant)
    settings.agents_see_own_qa = allow
    session.add(settings)
    session.commit()
