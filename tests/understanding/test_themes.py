from collections import Counter
from pathlib import Path

import pytest

from callscope.understanding import custom_intents, themes

EXAMPLES = custom_intents.read_examples(Path(__file__).parents[2] / "samples" / "custom_intents.csv")


def test_requests_nobody_named_fall_into_their_groups_with_names_from_their_words():
    texts = [text for text, _ in EXAMPLES] + ["", "   "]
    found, unassigned = themes.find_themes(texts, min_size=4)
    assert 5 <= len(found) <= 7  # six intents in the file; the number is found, not given
    assert {36, 37} <= set(unassigned)  # empty lines are never a theme
    intents = [intent for _, intent in EXAMPLES]
    right = sum(Counter(intents[m] for m in theme.members).most_common(1)[0][1] for theme in found)
    assert right / len(EXAMPLES) >= 0.8
    cheques = next(t for t in found if Counter(intents[m] for m in t.members).most_common(1)[0][0] == "order_cheques")
    assert "cheque" in cheques.name and cheques.size == len(cheques.members) >= 4
    assert all(example in texts for example in cheques.examples) and len(cheques.examples) == 3
    assert [t.size for t in found] == sorted((t.size for t in found), reverse=True)


def test_too_few_texts_make_no_theme():
    assert themes.find_themes(["my balance", "what's my balance"], min_size=5) == ([], [0, 1])
    with pytest.raises(ValueError, match="at least 2"):
        themes.find_themes(["a"], min_size=1)
