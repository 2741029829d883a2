"""A second hearing of the turns that may hold a spoken number, with the decoder primed for digits.

Whisper hears a read-out number on a phone line as words as often as digits ("the account is made time for 8,
level 1, 3, 1"), and no text rule can tell those words from speech. Decoded again with a prompt of written
numbers, the same audio comes back as digits far more often ("Account number 8-481131"). That second hearing is
used for redaction only: what it finds to be a card, account, phone or other number is located by its word times
and the words the first hearing wrote there are redacted too (`number_regions`). The stored text stays the first
hearing's, whose words are better away from the numbers (the prompt also makes the decoder echo it: "Call me on").

Only turns that hold digits, digit words or a number cue are heard again, so the cost is a small share of the
call's decoding (bench/RESULTS.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from callscope.contacts import Turn
from callscope.understanding.vocabulary import LONE_DIGIT_WORDS, REPEATS, SPOKEN_DIGITS, alternation
from callscope.voice.audio_redaction import SPEECH_KINDS, word_offsets
from callscope.voice.audio_windows import SAMPLE_RATE

DIGIT_PROMPT = (  # chosen on the first 12 numbers of each kind (bench/RESULTS.md); the echoes it causes are not stored
    "My card number is 4539 1488 0343 6467. Call me on 07700 900123. Account number 12345678, sort code 20-00-00."
)
PAD_S = 0.3  # audio kept around the turn: its first and last digit
LONGEST_S = 30.0  # one Whisper window: a longer turn is heard again in its first 30 s only
WINDOW_S = 28.0  # turns heard together: their clips and the gaps between them fill at most this much of a window
GAP_S = 1.0  # silence between two turns heard together: Whisper ends a segment there
TOKENS_PER_S = 10  # speech is 4-6 tokens a second: a decoder stuck in a loop ("5-5-5-5 ...") is stopped there
TIME_SLACK_S = 0.05  # a first-hearing word counts as inside a number when its middle is this close to it
Word = tuple[float, float, str]  # (start, end, word) in seconds of the call, as Whisper spelled the word

_DIGIT_WORD = alternation([*LONE_DIGIT_WORDS, *REPEATS])  # a word that alone says a digit (never "oh")
_TOKENS = re.compile(rf"\d+|\b(?:{_DIGIT_WORD})\b", re.IGNORECASE)
_CUES = re.compile(
    r"\bnumber\b|\bmobile\b|\bphone\b|\b(?:call|reach|ring)\s+me\s+(?:on|at)\b|\bsort\s*code\b|\bdigits\b|\biban\b"
    r"|\ba\s+count\b",
    re.IGNORECASE,
)


def may_hold_number(text: str) -> bool:
    """Two digit tokens ("8, level 1"), three digits ("824") or a number cue ("my mobile ...")."""
    tokens = _TOKENS.findall(text)
    return len(tokens) >= 2 or sum(c.isdigit() for c in text) >= 3 or bool(_CUES.search(text))


def hear_digits(model: Any, audio: np.ndarray, turns: list[Turn], offset: float, decode_kwargs: dict) -> list[Turn]:
    """`turns` (decoded from `audio`, which starts at `offset` s) with `digit_words` set on those that may hold a
    number: their audio decoded again with the digit prompt (`hear_clips`)."""
    wanted = {i: max(0.0, t.start - offset - PAD_S) for i, t in enumerate(turns) if t.words and may_hold_number(t.text)}
    clips = []
    for i, first in wanted.items():
        last = min(audio.size / SAMPLE_RATE, turns[i].end - offset + PAD_S, first + LONGEST_S)
        clips.append((audio[int(first * SAMPLE_RATE) : int(last * SAMPLE_RATE)], offset + first))
    heard = dict(zip(wanted, hear_clips(model, clips, decode_kwargs), strict=True))
    return [t.model_copy(update={"digit_words": heard[i]}) if heard.get(i) else t for i, t in enumerate(turns)]


def hear_clips(model: Any, clips: Sequence[tuple[np.ndarray, float]], decode_kwargs: dict) -> list[list[Word]]:
    """The words of each clip (its audio and where it starts, in seconds) decoded with the digit prompt, timed as the
    clip is. Clips are heard together, as many as fit in one Whisper window with a second of silence between them:
    a window costs the same for 3 s of speech as for 28."""
    heard: list[list[Word]] = [[] for _ in clips]
    for group in _windows([(k, audio.size / SAMPLE_RATE) for k, (audio, _) in enumerate(clips)]):
        pieces, placed, at = [], [], 0.0  # placed: (clip, its start and end in the joined audio)
        for k, seconds in group:
            if placed:
                pieces.append(np.zeros(int(GAP_S * SAMPLE_RATE), np.float32))
                at += GAP_S
            pieces.append(clips[k][0])
            placed.append((k, at, at + seconds))
            at += seconds
        kwargs = {**decode_kwargs, "vad_filter": False, "initial_prompt": DIGIT_PROMPT,
                  "max_new_tokens": int(TOKENS_PER_S * at) + 16}  # fmt: skip
        kwargs.pop("vad_parameters", None)
        segments, _ = model.transcribe(np.concatenate(pieces), **kwargs)
        for word in (w for seg in segments for w in seg.words or []):
            middle = (word.start + word.end) / 2
            k, a, _ = min(placed, key=lambda p: max(p[1] - middle, middle - p[2], 0.0))  # the clip it is in
            shift = clips[k][1] - a
            heard[k].append((word.start + shift, word.end + shift, word.word))
    return heard


def _windows(clips: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    """Consecutive (clip, seconds) in groups whose joined length (with the gaps) fits one window."""
    groups: list[list[tuple[int, float]]] = []
    length = 0.0
    for clip in clips:
        if groups and length + GAP_S + clip[1] <= WINDOW_S:
            groups[-1].append(clip)
            length += GAP_S + clip[1]
        else:
            groups.append([clip])
            length = clip[1]
    return groups


def number_regions(turns: Sequence[Turn], speakers: Sequence[object]) -> list[list[tuple[int, int, str, str | None]]]:
    """Per turn, (start, end, kind, last4) of the stretches of its text that its digit hearing found a number in.

    The digit hearings are redacted as a contact (a card read over several turns stays one card; a number asked for
    is the kind asked for), then each number is located by its words' times among the first hearing's words."""
    from callscope.understanding.redact import primed_number, redact_many

    texts = ["".join(w for _, _, w in t.digit_words).strip() or t.text for t in turns]
    regions: list[list[tuple[int, int, str, str | None]]] = [[] for _ in turns]
    if not any(t.digit_words for t in turns):
        return regions
    for i, (turn, redaction) in enumerate(zip(turns, redact_many(texts, names=False, speakers=speakers), strict=True)):
        if not turn.digit_words:
            continue
        heard = word_offsets(texts[i], turn.digit_words)
        said = word_offsets(turn.text, turn.words)
        numbers = [(span.type, span.last4, a, b)
                   for span, (a, b) in zip(redaction.spans, redaction.sources, strict=True)]  # fmt: skip
        primed = primed_number(texts[i], [(a, b) for *_, a, b in numbers])
        if primed is not None:
            numbers.append((primed[2], None, primed[0], primed[1]))
        for kind, last4, a, b in numbers:
            times = [(s, e) for ca, cb, s, e in heard if ca < b and cb > a]
            if kind not in SPEECH_KINDS or not times:
                continue
            lo, hi = times[0][0] - TIME_SLACK_S, times[-1][1] + TIME_SLACK_S
            inside = [(ca, cb) for ca, cb, s, e in said if lo <= (s + e) / 2 <= hi]
            if inside:
                regions[i].append((*_whole_words(turn.text, inside[0][0], inside[-1][1]), kind, last4))
    return regions


_MORE_DIGITS = re.compile(rf"(?:[\s,.-]+(?:\d+|{alternation([*SPOKEN_DIGITS, *REPEATS])})\b)*", re.IGNORECASE)


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """`text[start:end]` grown to whole words ("Nero-Nero-Kamon246" is one, though Whisper timed its pieces apart:
    a number's last piece can fall outside the times) and over the digits right after it (its last digit, heard
    a little later: "number one, three, one"), without the spaces and punctuation at its ends."""
    start = max(0, start)
    start += len(text[start:end]) - len(text[start:end].lstrip())
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    end += len(re.match(r"\S*", text[end:]).group())  # type: ignore[union-attr]
    end += len(_MORE_DIGITS.match(text, end).group())  # type: ignore[union-attr]
    piece = re.search(r"\w(?:.*\w)?", text[start:end], re.DOTALL)
    return (start + piece.start(), start + piece.end()) if piece else (start, end)
