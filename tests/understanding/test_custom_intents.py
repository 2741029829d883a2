import numpy as np
import pytest

from callscope.understanding import custom_intents
from tests.conftest import SAMPLES

EXAMPLES = custom_intents.read_examples(SAMPLES / "custom_intents.csv")


@pytest.mark.parametrize(
    ("turn", "asked"),
    [
        ("yeah hi, um, so I was hoping to borrow money?", "I was hoping to borrow money?"),
        ("Hello, good morning, what's my balance, thanks", "what's my balance"),
        ("thanks", "thanks"),  # nothing but small talk: kept whole
    ],
)
def test_small_talk_at_the_edges_is_cut(turn, asked):
    assert custom_intents.strip_small_talk(turn) == asked


def test_examples_need_two_intents_and_five_each(tmp_path):
    with pytest.raises(ValueError, match="at least 5 examples: too few for order_cheques"):
        custom_intents.check_examples([*EXAMPLES[:12], *EXAMPLES[18:22]])
    with pytest.raises(ValueError, match="at least two intents"):
        custom_intents.check_examples(EXAMPLES[:6])
    bad = tmp_path / "bad.csv"
    bad.write_text("text,intent\nhello,greet\n,greet\n")
    with pytest.raises(ValueError, match="line 3: text and intent must both be given"):
        custom_intents.read_examples(bad)
    bad.write_text("utterance,label\nhello,greet\n")
    with pytest.raises(ValueError, match="columns text,intent"):
        custom_intents.read_examples(bad)


def test_a_fitted_model_is_stored_without_pickle_and_answers_the_same_when_loaded(tmp_path):
    model, report = custom_intents.fit(EXAMPLES)
    assert report.labels == sorted({intent for _, intent in EXAMPLES}) and report.examples == 36
    assert report.cv_accuracy is not None and report.cv_accuracy >= 0.8
    model.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["coef.npy", "intercept.npy", "meta.json"]
    loaded = custom_intents.CustomIntentModel.load(tmp_path / "model")
    turns = ["um, I need some more cheques, I've used them all up", "hi, what's in my account right now?"]
    np.testing.assert_allclose(loaded.probabilities(turns), model.probabilities(turns), atol=1e-5)
    assert [p.label for p in loaded.predict(turns)] == ["order_cheques", "check_balance"]
    with pytest.raises(FileNotFoundError, match="callscope intents fit"):
        custom_intents.CustomIntentModel.load(tmp_path)
