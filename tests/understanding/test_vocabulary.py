"""One table per vocabulary: the spoken digits are written once and every step reads the same words."""

from __future__ import annotations

import re

from callscope.understanding import entities, redact
from callscope.understanding.vocabulary import DIGIT_ONLY_IN_RUNS, LONE_DIGIT_WORDS, SPOKEN_DIGITS, alternation
from callscope.voice import number_pass
from tests.test_architecture import ROOT

DIGIT_TABLE = re.compile(r'"(?:zero|nought|seven)"\s*:\s*"\d"|nought\||\|nought')


def test_spoken_digits_are_written_once() -> None:
    copies = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "callscope").rglob("*.py")
        if path.name != "vocabulary.py" and DIGIT_TABLE.search(path.read_text())
    ]
    assert not copies, f"a second table of spoken digits: {copies}"


def test_every_step_reads_every_spoken_digit() -> None:
    """Redaction and entities hear each word as its digit; the number pass wakes on each but the everyday ones."""
    for word, digit in SPOKEN_DIGITS.items():
        assert redact.redact_with_spans(f"my card number is four one {word} {word} seven seven", names=False).spans
        assert entities._digits(f"{word} one two three") == f"{digit}123"
    for word in LONE_DIGIT_WORDS:
        assert number_pass.may_hold_number(f"{word} and {word}")
    for word in DIGIT_ONLY_IN_RUNS:
        assert not number_pass.may_hold_number(f"{word}, I see, {word} right")


def test_the_alternation_tries_the_longer_word_first() -> None:
    assert re.fullmatch(alternation(["o", "oh", "one"]), "oh")
    assert alternation(["o", "oh", "one"]).split("|") == ["one", "oh", "o"]
