"""Spoken PII cut out of the recording itself, not only out of its transcript.

A redacted transcript is not enough: the recording is evidence that supervisors replay, and PCI DSS keeps card
numbers out of storage in any form. Each placeholder that came from speech is located in the audio by the word
timings of its turn (the words the recognizer heard, kept in memory only), widened by a safety margin, and the
speaker's channel is replaced there by silence or a tone. Spans on one channel that touch are one span, so digits
the recognizer split oddly ("four five three nine, one four eight eight") are cut as one.

The recording is rewritten frame by frame (PyAV), at its own sample rate and channel layout, as 16-bit WAV.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import numpy as np

from callscope.contacts import PII_KINDS, Turn
from callscope.errors import AudioError

if TYPE_CHECKING:  # spaCy stays unloaded where only audio is handled
    from callscope.understanding.redact import Redaction

Fill = Literal["silence", "tone"]
SPEECH_KINDS = frozenset(PII_KINDS) - {"PERSON"}
TONE_HZ = 1000.0
TONE_LEVEL = 0.1  # -20 dBFS: plainly a bleep, not loud


@dataclass(frozen=True)
class AudioSpan:
    """A stretch of one channel (None: every channel of a mono recording) that was replaced."""

    start: float
    end: float
    kinds: tuple[str, ...]
    channel: int | None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "start": round(self.start, 3), "end": round(self.end, 3), "kinds": list(self.kinds)}


def word_offsets(text: str, words: Sequence[tuple[float, float, str]]) -> list[tuple[int, int, float, float]]:
    """(char start, char end, time start, time end) of each word in `text`; empty when the words do not spell it."""
    joined = "".join(w for _, _, w in words)
    if joined.strip() != text:
        return []
    pos, out = -(len(joined) - len(joined.lstrip())), []
    for start, end, word in words:
        out.append((pos, pos + len(word), start, end))
        pos += len(word)
    return out


def pii_spans(
    turns: Sequence[Turn],
    redactions: Sequence[Redaction],
    *,
    channel_of: Callable[[Turn], int | None],
    kinds: frozenset[str] = SPEECH_KINDS,
    margin_s: float = 0.25,
    duration_s: float | None = None,
) -> list[AudioSpan]:
    """Where each redacted placeholder of `kinds` was spoken, widened by `margin_s`, merged per channel."""
    found: list[AudioSpan] = []
    for turn, redaction in zip(turns, redactions, strict=True):
        offsets = word_offsets(turn.text, turn.words)
        for span, (a, b) in zip(redaction.spans, redaction.sources, strict=True):
            if span.type not in kinds:
                continue
            hit = [(s, e) for ca, cb, s, e in offsets if ca < b and cb > a]
            start, end = (hit[0][0], hit[-1][1]) if hit else (turn.start, turn.end)  # no timings: the whole turn
            found.append(AudioSpan(max(0.0, start - margin_s), end + margin_s, (span.type,), channel_of(turn)))
    merged: list[AudioSpan] = []
    for span in sorted(found, key=lambda s: (s.channel is None, s.channel or 0, s.start)):
        last = merged[-1] if merged else None
        if last and last.channel == span.channel and span.start <= last.end:
            kinds_seen = tuple(dict.fromkeys([*last.kinds, *span.kinds]))
            merged[-1] = AudioSpan(last.start, max(last.end, span.end), kinds_seen, span.channel)
        else:
            merged.append(span)
    if duration_s is not None:
        merged = [AudioSpan(s.start, min(s.end, duration_s), s.kinds, s.channel) for s in merged]
    return sorted(merged, key=lambda s: (s.start, s.channel or 0))


def _fill(frame: np.ndarray, first: int, rate: int, spans: Sequence[AudioSpan], fill: Fill) -> None:
    """Overwrite, in place, the samples of (samples, channels) `frame` that fall in a span; `first`: its index."""
    count, channels = frame.shape
    for span in spans:
        lo, hi = max(first, int(span.start * rate)), min(first + count, int(np.ceil(span.end * rate)))
        if lo >= hi:
            continue
        cols = range(channels) if span.channel is None or span.channel >= channels else [span.channel]
        for col in cols:
            if fill == "tone":
                t = np.arange(lo, hi) / rate
                frame[lo - first : hi - first, col] = (TONE_LEVEL * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype(
                    np.int16
                )
            else:
                frame[lo - first : hi - first, col] = 0


def redact_audio(
    source: bytes | Path, spans: Sequence[AudioSpan], *, fill: Fill = "silence", into: BinaryIO | None = None
) -> bytes | None:
    """The recording with every span replaced (16-bit WAV, same rate and channels), read and written frame by frame:
    written to `into` (a file: an hour-long call stays out of memory), else returned."""
    import av

    try:
        container = av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source))
    except av.error.FFmpegError as exc:
        raise AudioError(f"the recording cannot be decoded: {exc}", status_code=415) from exc
    out = into if into is not None else io.BytesIO()
    with container:
        stream = container.streams.audio[0]
        rate, layout = stream.rate, stream.layout.name
        channels = stream.channels
        resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
        with av.open(out, "w", format="wav") as target:
            encoder = target.add_stream("pcm_s16le", rate=rate, layout=layout)
            done = 0

            def write(frames: list[Any]) -> None:
                nonlocal done
                for frame in frames:
                    samples = frame.to_ndarray().reshape(-1, channels).copy()  # packed s16: (1, n * channels)
                    _fill(samples, done, rate, spans, fill)
                    cleaned = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout=layout)
                    cleaned.sample_rate = rate
                    for packet in encoder.encode(cleaned):
                        target.mux(packet)
                    done += samples.shape[0]

            for frame in container.decode(stream):
                write(resampler.resample(frame))
            write(resampler.resample(None))
            for packet in encoder.encode(None):
                target.mux(packet)
    return out.getvalue() if isinstance(out, io.BytesIO) else None
