"""Word tables that several steps read, written once: redaction, entities, QA checks and the number pass import them.

`SPOKEN_DIGITS`: how people say a digit ("oh", "nought" and "nil" for 0 included). Three of them are also everyday
words ("oh, one more thing"), so they count as digits only beside other digits: a step that decides from a single
word whether a turn may hold a number leaves them out (`LONE_DIGIT_WORDS`).
"""

from __future__ import annotations

from collections.abc import Iterable

SPOKEN_DIGITS = {
    "zero": "0", "oh": "0", "o": "0", "nought": "0", "nil": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
DIGIT_ONLY_IN_RUNS = frozenset({"oh", "o", "nil"})
LONE_DIGIT_WORDS = tuple(w for w in SPOKEN_DIGITS if w not in DIGIT_ONLY_IN_RUNS)
REPEATS = {"double": 2, "triple": 3}  # "double five" = 55


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of `words`, longest first (so "oh" is tried before "o")."""
    return "|".join(sorted(words, key=lambda w: (-len(w), w)))
