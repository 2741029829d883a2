"""Routing, handling time and contact-level intent (the real intent model and routing table)."""

import dataclasses

import pytest

from callscope.contacts import Turn
from callscope.interactions.analysis import Resources, analyze_turns, contact_intents, no_outcomes
from callscope.prediction.handletime import load_priors, predict_handle_time
from callscope.prediction.routing import load_routing_table, route
from callscope.settings import get_settings
from callscope.understanding.intent import Fallback, IntentModel


@pytest.fixture(scope="module")
def resources():
    return Resources.from_settings(get_settings())


def test_every_intent_the_model_knows_has_a_configured_queue(resources):
    table = resources.routing_table
    assert sorted(resources.intent_model.labels) == sorted(table["by_intent"])


def test_lost_card_goes_to_security_at_top_priority_with_reasons(resources):
    hint = route(resources.routing_table, intent="lost_or_stolen_card", confidence=0.9)
    assert (hint.queue, hint.priority, hint.escalate) == ("security", 1, True)
    assert any("fraud" in r for r in hint.reasons)


def test_low_confidence_goes_to_a_generalist(resources):
    hint = route(resources.routing_table, intent="exchange_rate", confidence=0.2)
    assert hint.queue == "general"
    assert any("unclear" in r for r in hint.reasons)


def test_account_closure_goes_to_retention(resources):
    hint = route(resources.routing_table, intent="terminate_account", confidence=0.9)
    assert (hint.queue, hint.priority) == ("retention", 2)


def test_handle_time_prior_then_stored_outcomes(resources):
    priors = load_priors(get_settings().handle_time_priors)
    cold = predict_handle_time(priors, channel="voice", queue="cards", intent="card_arrival", same_channel=[],
                               any_channel=[], min_outcomes=5)  # fmt: skip
    assert (cold.p50_s, cold.p90_s) == (113, 412)
    assert "prior" in cold.basis
    warm = predict_handle_time(priors, channel="voice", queue="cards", intent="card_arrival",
                               same_channel=[100, 200, 300, 400, 500], any_channel=[], min_outcomes=5)  # fmt: skip
    assert warm.p50_s == 300 and warm.p90_s == 460 and warm.n_outcomes == 5
    other = predict_handle_time(priors, channel="sms", queue="cards", intent="card_arrival", same_channel=[1],
                                any_channel=[10] * 6, min_outcomes=5)  # fmt: skip
    assert other.p50_s == 10 and "all channels" in other.basis


def test_contact_intent_comes_from_the_customer_not_the_agent(resources):
    turns = [
        Turn(speaker="agent", text="Would you like to change your PIN or order a spare card?"),
        Turn(speaker="customer", text="Thanks"),
        Turn(speaker="customer", text="My card still has not arrived and it has been two weeks"),
    ]
    assert contact_intents(resources.intent_model, turns)[0].label in ("card_arrival", "card_delivery_estimate")


def test_analysis_of_a_stolen_card_chat(resources):
    turns = [Turn(speaker="customer", text="Someone stole my wallet with my card in it")]
    result = analyze_turns(turns, channel="chat", resources=resources, outcomes=no_outcomes)
    assert result.intent.label == "lost_or_stolen_card"
    assert result.routing.queue == "security"
    assert result.handle_time.p50_s == pytest.approx(300 * 1.6)


def test_calls_are_answered_with_the_fallback_chosen_for_transcripts(resources, monkeypatch):
    nlp = resources.intent_model.nlp
    monkeypatch.setitem(nlp.meta, "callscope_fallback_spoken", {"threshold": 0.0, "ambiguity": 0.0})
    strict = dataclasses.replace(resources, intent_model=IntentModel(nlp, Fallback(threshold=1.0)))
    turns = [Turn(speaker="customer", text="Someone stole my wallet with my card in it")]
    typed = analyze_turns(turns, channel="chat", resources=strict, outcomes=no_outcomes)
    call = analyze_turns(turns, channel="voice", resources=strict, outcomes=no_outcomes)
    assert typed.intent.label == "other" and typed.intents == []
    assert call.intent.label == "lost_or_stolen_card" and call.intents[0]["label"] == "lost_or_stolen_card"


def test_no_customer_words_means_no_intent(resources):
    result = analyze_turns([], channel="chat", resources=resources, outcomes=no_outcomes)
    assert result.intent.label is None and result.routing.queue == "general"


def test_routing_table_setting_is_honoured(tmp_path):
    custom = tmp_path / "routing.yaml"
    custom.write_text("default: {queue: everyone, priority: 4}\nqueues: {}\n")
    hint = route(load_routing_table(custom), intent="card_arrival", confidence=0.9)
    assert (hint.queue, hint.priority) == ("everyone", 4)
