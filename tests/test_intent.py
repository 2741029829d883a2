"""Behavioural tests for the committed intent model (models/intent/model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callscope.intent import (
    DEFAULT_INTENT_MODEL_DIR,
    IntentModel,
    IntentPrediction,
    load_intent_model,
    normalize_text,
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


def test_normalize_text_lowercases_maps_digits_and_collapses_whitespace() -> None:
    assert normalize_text("  My Card  £25\n\tARRIVED 2 days ago ") == "my card £00 arrived 0 days ago"
    assert normalize_text("") == ""
    assert normalize_text(" \n\t ") == ""


def test_labels_are_the_77_banking77_intents(model: IntentModel) -> None:
    labels = model.labels
    assert len(labels) == N_LABELS
    assert len(set(labels)) == N_LABELS
    assert set(labels) >= KNOWN_LABELS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I lost my card, someone may have stolen it", {"lost_or_stolen_card"}),
        ("my card has still not arrived", {"card_arrival"}),
        ("how do I top up with apple pay", {"apple_pay_or_google_pay", "top_up_by_card_charge"}),
        ("My PIN is blocked after too many wrong attempts", {"pin_blocked"}),
        ("What is the minimum age to open an account?", {"age_limit"}),
    ],
)
def test_obvious_texts_get_the_right_intent(model: IntentModel, text: str, expected: set[str]) -> None:
    [prediction] = model.predict([text])
    assert prediction.label in expected


def test_predictions_are_one_per_input_in_order(model: IntentModel) -> None:
    texts = ["my card has still not arrived", "I lost my card, someone may have stolen it"] * 3
    predictions = model.predict(texts, batch_size=2)
    assert len(predictions) == len(texts)
    assert all(isinstance(prediction, IntentPrediction) for prediction in predictions)
    assert [prediction.label for prediction in predictions] == ["card_arrival", "lost_or_stolen_card"] * 3
    assert model.predict([]) == []


def test_confidences_are_probabilities(model: IntentModel) -> None:
    predictions = model.predict(["how much does a transfer cost", "where is my money", "hello"])
    assert all(0.0 <= prediction.confidence <= 1.0 for prediction in predictions)
    assert all(prediction.label in model.labels for prediction in predictions)


def test_empty_and_whitespace_texts_do_not_crash(model: IntentModel) -> None:
    predictions = model.predict(["", "   \n"])
    assert len(predictions) == 2
    assert all(prediction.label in model.labels for prediction in predictions)
    assert all(0.0 <= prediction.confidence <= 1.0 for prediction in predictions)


def test_empty_text_inside_a_batch_does_not_crash(model: IntentModel) -> None:
    # a zero-token doc next to normal docs used to break spaCy's n-gram layer for the whole batch
    predictions = model.predict(["my card has still not arrived", "", " ", "I lost my card"])
    assert len(predictions) == 4
    assert predictions[0].label == "card_arrival"
    assert predictions[3].label == "lost_or_stolen_card"


def test_loading_is_cached_per_process() -> None:
    assert load_intent_model(DEFAULT_INTENT_MODEL_DIR) is load_intent_model(str(DEFAULT_INTENT_MODEL_DIR))


def test_missing_model_dir_raises_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        load_intent_model(missing)
