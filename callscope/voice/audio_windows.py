"""Long recordings in bounded memory: one channel decoded as a stream and handed out window by window.

An hour of stereo audio is about 460 MB as float32 samples; a window of five minutes is about 20 MB, whatever
the call's length. Each window ends at the quietest 50 ms near its nominal end, so no word is cut in two.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from callscope.errors import AudioError

SAMPLE_RATE = 16_000
WINDOW_S = 300.0  # nominal window length
SEARCH_S = 10.0  # where to look for a quiet place to cut, before the nominal end
FRAME = SAMPLE_RATE // 20  # 50 ms energy frames

@dataclass(frozen=True)
class Decoded:
    """A recording decoded once to 16 kHz 16-bit interleaved stereo frames in a raw file (`decode_once`): the
    channel comparison and each channel's windows read it back instead of decoding the recording again."""

    path: Path


Source = str | Path | bytes | BinaryIO | Decoded


@dataclass(frozen=True)
class StreamInfo:
    channels: int
    duration_s: float | None  # from the container; None when the format does not say


def _open(source: str | Path | bytes | BinaryIO) -> av.container.InputContainer:
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    elif not isinstance(source, str | Path):
        source.seek(0)
    return av.open(source if not isinstance(source, Path) else str(source), metadata_errors="ignore")


def stream_info(source: str | Path | bytes | BinaryIO) -> StreamInfo:
    try:
        with _open(source) as container:
            if not container.streams.audio:
                raise AudioError("the upload has no audio stream", status_code=415)
            stream = container.streams.audio[0]
            duration = float(container.duration / 1_000_000) if container.duration else None
            return StreamInfo(channels=stream.channels, duration_s=duration)
    except AudioError:
        raise
    except Exception as exc:  # PyAV raises many error types for bad input
        raise AudioError(f"the recording cannot be decoded as audio: {exc.__class__.__name__}", 415) from exc


def decode_once(source: Source, into: Path) -> Decoded:
    """Decode a two-channel recording's audio once, as a stream, into the raw file `into` (disk, not memory)."""
    with into.open("wb") as out:
        for piece in _samples(source, "stereo"):
            out.write(piece.astype("<i2", copy=False).tobytes())
    return Decoded(into)


def _samples(source: Source, layout: str) -> Iterator[np.ndarray]:
    """16 kHz int16 samples as decoded, in frame-sized pieces (interleaved when `layout` is stereo)."""
    if isinstance(source, Decoded):
        if layout != "stereo":
            raise ValueError("a decoded recording is read back as its two channels")
        frames = np.memmap(source.path, dtype="<i2", mode="r") if source.path.stat().st_size else np.zeros(0, "<i2")
        step = 2 * SAMPLE_RATE  # a second of interleaved frames at a time
        yield from (np.array(frames[i : i + step]) for i in range(0, len(frames), step))
        return
    resampler = av.audio.resampler.AudioResampler(format="s16", layout=layout, rate=SAMPLE_RATE)
    try:
        with _open(source) as container:
            for packet_frame in container.decode(audio=0):
                yield from (f.to_ndarray().reshape(-1) for f in resampler.resample(packet_frame))
            yield from (f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except av.error.InvalidDataError:  # a damaged tail: keep what decoded, like faster-whisper's decoder
        return


def _quiet_cut(samples: np.ndarray, nominal: int) -> int:
    """The start of the quietest 50 ms frame in the SEARCH_S before `nominal`."""
    start = nominal - int(min(SEARCH_S, WINDOW_S / 2, nominal / SAMPLE_RATE / 2) * SAMPLE_RATE)
    region = samples[start:nominal].astype(np.float32)
    frames = region[: len(region) // FRAME * FRAME].reshape(-1, FRAME)
    if not len(frames):
        return nominal
    return start + int(np.argmin((frames**2).mean(axis=1))) * FRAME


def windows(source: Source, channel: int | None, window_s: float = WINDOW_S) -> Iterator[tuple[float, np.ndarray]]:
    """(offset in seconds, float32 samples) of one channel (0 left, 1 right; None: mono mix), window by window."""
    layout, pick = ("mono", None) if channel is None else ("stereo", channel)
    nominal = int(window_s * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    pending_len = 0
    offset = 0
    for piece in _samples(source, layout):
        piece = piece if pick is None else piece[pick::2]
        pending.append(piece)
        pending_len += len(piece)
        while pending_len >= nominal + FRAME:
            buffer = np.concatenate(pending)
            cut = _quiet_cut(buffer, nominal)
            yield offset / SAMPLE_RATE, buffer[:cut].astype(np.float32) / 32768.0
            offset += cut
            pending, pending_len = [buffer[cut:]], len(buffer) - cut
    if pending_len:
        yield offset / SAMPLE_RATE, np.concatenate(pending).astype(np.float32) / 32768.0
