"""Crosstalk suppression for dual-channel calls: a word heard on both channels belongs to the louder side.

Call recorders put each side on its own channel, but a side's channel also carries the other voice faintly
(headset pickup of the earpiece, line echo, a summing bridge). Whisper transcribes that faint copy too, so
without a guard each of the other side's words appears twice, once under the wrong speaker. The guard compares
the two channels' levels over each word's time span, each channel measured against its own speech level (the
two sides are often recorded at different gains): a word that is far quieter on its channel than the same
moment is on the other channel is the other voice leaking in, and is dropped. Overtalk keeps both sides' words:
each voice is loud on its own channel.

The guard only acts on a channel that does carry the other voice (`coupling`: while the other side talks, this
channel is at most 35 dB below it). Word timestamps are sometimes off by a word, and on a clean channel a real
word placed in the other side's turn would otherwise be dropped (1 word in 100 on the bench's clean calls).

Whatever the coupling, two more kinds of word are dropped: one no louder than its channel's noise floor (its
quietest frames; Whisper writes whole sentences over a channel that carries only hiss, hum or comfort noise), and
one no louder than the other side's leak makes that moment (`is_echo`: a channel carrying only the other side's
echo, even 40 dB down).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from callscope.contacts import Turn

FRAME_S = 0.01
SAMPLE_RATE = 16_000
_FRAME = int(FRAME_S * SAMPLE_RATE)
SILENCE_DB = -100.0
MARGIN_DB = 10.0  # a real word sits within ~10 dB of its side's speech level while the other side is silent
SPEECH_PERCENTILE = 95  # a channel's speech level: loud frames, whatever share of the call the side talks
COUPLED_DB = -35.0  # the other voice heard this loud (or louder) on a channel: that channel has crosstalk
AUDIBLE_DB = -60.0  # the other voice this loud on a channel is a leak Whisper may write down (it does at -40 dB)
EXPLAINED_DB = 10.0  # a word no louder than the other side's leak makes it (their level + coupling + this) is the leak
FLOOR_PERCENTILE = 5  # a channel's noise floor: its quietest frames (pauses, whichever side talks)
SNR_DB = 6.0  # a word within this of its channel's noise floor is line noise (hiss, hum, comfort noise), not speech
DIGITAL_SILENCE_DB = -90.0  # a floor below this is digital silence: no noise to mistake for speech, so no floor test

Word = tuple[float, float, str]  # start, end (seconds from the call's start), text as Whisper wrote it


class Levels:
    """One channel's frame levels (dB, 10 ms frames), gathered window by window (bounded: 6 kB per minute)."""

    def __init__(self) -> None:
        self._pieces: list[tuple[int, np.ndarray]] = []

    def add(self, offset_s: float, audio: np.ndarray) -> None:
        n = audio.size // _FRAME
        frames = audio[: n * _FRAME].reshape(n, _FRAME).astype(np.float64)
        power = (frames**2).mean(axis=1)
        self._pieces.append((int(round(offset_s / FRAME_S)), 10 * np.log10(np.maximum(power, 1e-10))))

    def array(self) -> np.ndarray:
        size = max((start + len(db) for start, db in self._pieces), default=0)
        out = np.full(size, SILENCE_DB)
        for start, db in self._pieces:
            out[start : start + len(db)] = db
        return out


def span_level(levels: np.ndarray, start: float, end: float) -> float:
    """The level (dB of mean power) of a time span; SILENCE_DB outside the recording."""
    a, b = int(start / FRAME_S), max(int(np.ceil(end / FRAME_S)), int(start / FRAME_S) + 1)
    span = levels[a:b]
    if not span.size:
        return SILENCE_DB
    return float(10 * np.log10(np.mean(10 ** (span / 10))))


def speech_level(levels: np.ndarray) -> float:
    return float(np.percentile(levels, SPEECH_PERCENTILE)) if levels.size else 0.0


def coupling(own: np.ndarray, other: np.ndarray) -> float:
    """How loud this channel is, in dB against the other, while the other side clearly talks (median)."""
    n = min(own.size, other.size)
    own, other = own[:n], other[:n]
    talking = other > speech_level(other) - 6
    return float(np.median(own[talking] - other[talking])) if talking.any() else SILENCE_DB


def noise_floor(levels: np.ndarray) -> float:
    return float(np.percentile(levels, FLOOR_PERCENTILE)) if levels.size else SILENCE_DB


def is_leak(own: np.ndarray, other: np.ndarray, own_ref: float, other_ref: float, word: Word) -> bool:
    """The word is far quieter on its own channel, for that channel, than the same moment is on the other."""
    start, end, _ = word
    return span_level(own, start, end) - own_ref < span_level(other, start, end) - other_ref - MARGIN_DB


def is_echo(own: np.ndarray, other: np.ndarray, coupled_db: float, word: Word) -> bool:
    """The word is no louder than the other side's voice leaking in at the channel's coupling makes it. This catches
    a channel with no voice of its own (a customer on hold or muted): there the leak is the loudest thing, so the
    channel's own speech level is the leak's and `is_leak` cannot see it; Whisper writes an echo 40 dB down word
    for word. On a clean channel (no audible coupling) nothing is explained by a leak, so nothing is dropped."""
    start, end, _ = word
    explained = span_level(other, start, end) + coupled_db + EXPLAINED_DB
    return coupled_db >= AUDIBLE_DB and span_level(own, start, end) <= explained


def is_noise(own: np.ndarray, floor_db: float, word: Word) -> bool:
    """The word is no louder than its channel's noise floor: Whisper wrote words for line noise. (Over digital
    silence there is no noise floor to test against, and a word timed a little off its speech must stay.)"""
    return floor_db > DIGITAL_SILENCE_DB and span_level(own, word[0], word[1]) < floor_db + SNR_DB


def suppress(
    tracks: Sequence[list[Turn]], words: Sequence[list[list[Word]]], levels: Sequence[np.ndarray]
) -> list[list[Turn]]:
    """Both tracks' turns without the other side's leaked words; a turn left without words is dropped.

    `words[k][i]` are the timed words of `tracks[k][i]` (empty: no word timings, the turn is kept as it is).
    """
    refs = [speech_level(x) for x in levels]
    out: list[list[Turn]] = [[], []]
    for k, (turns, turn_words) in enumerate(zip(tracks, words, strict=True)):
        o = 1 - k
        coupled_db = coupling(levels[k], levels[o])
        coupled, floor_db = coupled_db >= COUPLED_DB, noise_floor(levels[k])
        for turn, timed in zip(turns, turn_words, strict=True):
            if not timed:
                out[k].append(turn)
                continue
            kept = [
                w for w in timed
                if not is_noise(levels[k], floor_db, w) and not is_echo(levels[k], levels[o], coupled_db, w)
                and not (coupled and is_leak(levels[k], levels[o], refs[k], refs[o], w))
            ]  # fmt: skip
            text = "".join(w[2] for w in kept).strip()
            if len(kept) == len(timed):
                out[k].append(turn)
            elif text:
                update = {"start": round(kept[0][0], 3), "end": round(kept[-1][1], 3), "text": text, "words": kept}
                out[k].append(turn.model_copy(update=update))
    return out
