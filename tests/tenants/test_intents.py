import uuid

import pytest

from callscope.prediction.routing import load_routing_table, route, with_tenant_intents
from callscope.settings import get_settings
from callscope.tenants import intents as tenant_intents
from callscope.understanding.custom_intents import read_examples
from tests.conftest import SAMPLES

EXAMPLES: dict[str, list[str]] = {}
for _text, _intent in read_examples(SAMPLES / "custom_intents.csv"):
    EXAMPLES.setdefault(_intent, []).append(_text)


def define(session, tenant, name, examples):
    return tenant_intents.put_intent(session, tenant=tenant, name=name, examples=examples, queue="general",
                                     priority=3, escalate=False)  # fmt: skip


def test_a_version_answers_only_when_it_is_not_worse_and_a_repeat_fit_is_answered_at_once(session):
    tenant = f"bank-{uuid.uuid4().hex[:8]}"
    assert tenant_intents.fit_version(session, tenant=tenant)["status"] == "skipped"
    for name, texts in EXAMPLES.items():
        define(session, tenant, name, texts)
    first = tenant_intents.fit_version(session, tenant=tenant)
    assert first["status"] == "activated" and first["metrics"]["cv_accuracy"] >= 0.8
    assert tenant_intents.fit_version(session, tenant=tenant) == {"status": "up to date", "version": first["version"]}
    # update_address now says what check_balance says: the same intents, told apart less well
    define(session, tenant, "update_address", [f"{t}, it is urgent" for t in EXAMPLES["check_balance"]])
    worse = tenant_intents.fit_version(session, tenant=tenant)
    assert worse["status"] == "kept inactive", worse
    assert worse["metrics"]["cv_accuracy"] < first["metrics"]["cv_accuracy"]
    assert tenant_intents.active_version(session, tenant=tenant).version == first["version"]
    assert tenant_intents.delete_intent(session, tenant=tenant, name="update_address")
    fewer = tenant_intents.fit_version(session, tenant=tenant)  # other intents: the new version answers
    assert fewer["status"] == "activated" and "update_address" not in fewer["metrics"]["labels"]
    model, intents = tenant_intents.active_model(session, tenant=tenant)
    assert model.labels == sorted(i.name for i in intents) == fewer["metrics"]["labels"]
    assert model.predict(["can I borrow money for a car"])[0].label == "apply_for_loan"
    with pytest.raises(ValueError, match="5 different examples"):
        define(session, tenant, "open_isa", ["open an isa"] * 5)


def test_a_tenants_intents_route_to_their_queues_and_may_escalate():
    routes = [("apply_for_loan", "lending", 2, False), ("complaint", "retention", 1, True)]
    table = with_tenant_intents(load_routing_table(get_settings().routing_table), routes)
    loan = route(table, intent="apply_for_loan", confidence=0.9)
    assert (loan.queue, loan.priority, loan.escalate) == ("lending", 2, False)
    complaint = route(table, intent="complaint", confidence=0.9)
    assert complaint.queue == "retention" and complaint.escalate and "escalates" in complaint.reasons[-1]
    assert route(table, intent="card_arrival", confidence=0.9).queue == "cards"  # Banking77's routes stay
