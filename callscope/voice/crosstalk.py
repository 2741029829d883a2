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
NOISE_MEAN_DB = 3.0  # a line's noise sits about this far over its quietest frames (hiss varies frame to frame)
DIGITAL_SILENCE_DB = -90.0  # a floor below this is digital silence: no noise to mistake for speech, so no floor test
SMOOTH_FRAMES = 5  # a word's loudness: its loudest 50 ms, as a running median of 10 ms frames (a click is one frame)
PAD_S = 0.3  # Whisper times a segment's last word into the pause after it: the noise test looks this far around it
# (the leak tests do not: a leaked word next to the channel's own speech would pass for it; -20 dB crosstalk calls
# kept 17 more leaked words with it)

Word = tuple[float, float, str]  # start, end (seconds from the call's start), text as Whisper wrote it


class Levels:
    """One channel's frame levels (dB, 10 ms frames), gathered window by window (bounded: 6 kB per minute)."""

    def __init__(self) -> None:
        self._pieces: list[tuple[int, np.ndarray]] = []

    def add(self, offset_s: float, audio: np.ndarray) -> np.ndarray:
        """Keep a window's frame levels (returned too: the caller may judge the window's line by them)."""
        n = audio.size // _FRAME
        frames = audio[: n * _FRAME].reshape(n, _FRAME).astype(np.float64)
        db = 10 * np.log10(np.maximum((frames**2).mean(axis=1), 1e-10))
        self._pieces.append((int(round(offset_s / FRAME_S)), db))
        return db

    def array(self) -> np.ndarray:
        size = max((start + len(db) for start, db in self._pieces), default=0)
        out = np.full(size, SILENCE_DB)
        for start, db in self._pieces:
            out[start : start + len(db)] = db
        return out


def smoothed(levels: np.ndarray) -> np.ndarray:
    """Running median over `SMOOTH_FRAMES` frames: a syllable stays, a click (hum spike, line tick) goes."""
    if levels.size < SMOOTH_FRAMES:
        return levels
    half = SMOOTH_FRAMES // 2
    padded = np.pad(levels, half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, SMOOTH_FRAMES), axis=1)


def span_peak(smooth: np.ndarray, start: float, end: float, pad: float) -> float:
    """The loudest 50 ms of a time span widened by `pad` each side (`smoothed` levels), so a word counts as loud
    wherever near its span Whisper's timing put the speech (a segment's first word often starts in the pause
    before it, its last word in the pause after it)."""
    a = max(int((start - pad) / FRAME_S), 0)
    b = max(int(np.ceil((end + pad) / FRAME_S)), a + 1)
    span = smooth[a:b]
    return float(span.max()) if span.size else SILENCE_DB


def speech_level(levels: np.ndarray) -> float:
    return float(np.percentile(levels, SPEECH_PERCENTILE)) if levels.size else 0.0


def coupling(own: np.ndarray, other: np.ndarray) -> float:
    """How loud the other voice is on this channel, in dB against the other channel, while the other side clearly
    talks (median). What the channel carries anyway (its noise, `NOISE_MEAN_DB` over its floor) is taken off first:
    a line's hiss and hum under the other side's talk is not their voice leaking in."""
    n = min(own.size, other.size)
    own, other = own[:n], other[:n]
    talking = other > speech_level(other) - 6
    if not talking.any():
        return SILENCE_DB
    excess = 10 ** (own[talking] / 10) - 10 ** ((noise_floor(own) + NOISE_MEAN_DB) / 10)
    leak_db = 10 * np.log10(np.maximum(excess, 10 ** (SILENCE_DB / 10)))
    return float(max(np.median(leak_db - other[talking]), SILENCE_DB))


def noise_floor(levels: np.ndarray) -> float:
    return float(np.percentile(levels, FLOOR_PERCENTILE)) if levels.size else SILENCE_DB


def repeated_at_a_seam(turn_words: Sequence[list[Word]]) -> set[tuple[int, int]]:
    """(turn, word) of each word written twice where two decoded chunks of one channel meet: the earlier chunk ends
    with the start of the word the next one begins with ("He" / "He was not"), so the two overlap in time."""
    repeated, last = set(), None
    for i, timed in enumerate(turn_words):
        if timed and last is not None:
            j, w = last
            if turn_words[j][w][1] > timed[0][0] and _bare(turn_words[j][w][2]) == _bare(timed[0][2]):
                repeated.add((j, w))
        if timed:
            last = (i, len(timed) - 1)
    return repeated


def _bare(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def is_leak(own: np.ndarray, other: np.ndarray, own_ref: float, other_ref: float, word: Word) -> bool:
    """The word is far quieter on its own channel, for that channel, than the same moment is on the other
    (`own`, `other`: `smoothed` levels)."""
    start, end, _ = word
    return span_peak(own, start, end, 0.0) - own_ref < span_peak(other, start, end, 0.0) - other_ref - MARGIN_DB


def is_echo(own: np.ndarray, other: np.ndarray, coupled_db: float, word: Word) -> bool:
    """The word is no louder than the other side's voice leaking in at the channel's coupling makes it. This catches
    a channel with no voice of its own (a customer on hold or muted): there the leak is the loudest thing, so the
    channel's own speech level is the leak's and `is_leak` cannot see it; Whisper writes an echo 40 dB down word
    for word. On a clean channel (no audible coupling) nothing is explained by a leak, so nothing is dropped."""
    start, end, _ = word
    explained = span_peak(other, start, end, 0.0) + coupled_db + EXPLAINED_DB
    return coupled_db >= AUDIBLE_DB and span_peak(own, start, end, 0.0) <= explained


def is_noise(own: np.ndarray, floor_db: float, word: Word) -> bool:
    """Nothing at or around the word is louder than its channel's noise floor: Whisper wrote words for line noise.
    (Over digital silence there is no noise floor to test against, and a word timed a little off its speech must
    stay.)"""
    return floor_db > DIGITAL_SILENCE_DB and span_peak(own, word[0], word[1], PAD_S) < floor_db + SNR_DB


def suppress(
    tracks: Sequence[list[Turn]], words: Sequence[list[list[Word]]], levels: Sequence[np.ndarray]
) -> list[list[Turn]]:
    """Both tracks' turns without the other side's leaked words; a turn left without words is dropped.

    `words[k][i]` are the timed words of `tracks[k][i]` (empty: no word timings, the turn is kept as it is).
    """
    refs = [speech_level(x) for x in levels]
    smooth = [smoothed(x) for x in levels]
    out: list[list[Turn]] = [[], []]
    for k, (turns, turn_words) in enumerate(zip(tracks, words, strict=True)):
        o = 1 - k
        coupled_db = coupling(levels[k], levels[o])
        coupled, floor_db = coupled_db >= COUPLED_DB, noise_floor(levels[k])
        repeated = repeated_at_a_seam(turn_words)
        for i, (turn, timed) in enumerate(zip(turns, turn_words, strict=True)):
            if not timed:
                out[k].append(turn)
                continue
            kept = [
                w for n, w in enumerate(timed)
                if (i, n) not in repeated
                and not is_noise(smooth[k], floor_db, w) and not is_echo(smooth[k], smooth[o], coupled_db, w)
                and not (coupled and is_leak(smooth[k], smooth[o], refs[k], refs[o], w))
            ]  # fmt: skip
            text = "".join(w[2] for w in kept).strip()
            if len(kept) == len(timed):
                out[k].append(turn)
            elif text:
                update = {"start": round(kept[0][0], 3), "end": round(kept[-1][1], 3), "text": text, "words": kept}
                out[k].append(turn.model_copy(update=update))
    return out
