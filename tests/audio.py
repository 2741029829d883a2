"""Audio fixtures made from the bundled sample call with PyAV (no extra tools needed)."""

from __future__ import annotations

import io

import av
import numpy as np

from callscope.voice.transcribe import decode
from tests.conftest import SAMPLES


def encode(samples: np.ndarray, *, rate: int, fmt: str, codec: str) -> bytes:
    """Encode float32 (2, n) audio into a container, as a call recorder would export it."""
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout="stereo")
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)  # packed s16
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="stereo")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:  # PyAV converts to the codec's format
            container.mux(packet)
    return out.getvalue()


def long_call(repeats: int) -> bytes:
    """The sample call said `repeats` times in a row: a longer dual-channel recording."""
    left, right = decode(SAMPLES / "call_dual_channel.wav")
    return encode(np.tile(np.stack([left, right]), repeats), rate=16000, fmt="wav", codec="pcm_s16le")
