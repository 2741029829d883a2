"""Audio fixtures: the bundled sample call re-encoded with PyAV, and calls spoken by espeak-ng (`tests.speech`)."""

from __future__ import annotations

import numpy as np

from callscope.voice.transcribe import decode
from tests.conftest import SAMPLES
from tests.speech import encode, speak, spoken_call

__all__ = ["encode", "long_call", "speak", "spoken_call"]


def long_call(repeats: int) -> bytes:
    """The sample call said `repeats` times in a row: a longer dual-channel recording."""
    left, right = decode(SAMPLES / "call_dual_channel.wav")
    return encode(np.tile(np.stack([left, right]), repeats), rate=16000, fmt="wav", codec="pcm_s16le")
