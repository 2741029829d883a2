"""Audio fixtures: the bundled sample call re-encoded with PyAV, and calls spoken by espeak-ng (`tests.speech`)."""

from __future__ import annotations

import numpy as np

from callscope.voice.transcribe import decode
from tests.conftest import SAMPLES
from tests.speech import encode, speak, spoken_call

__all__ = ["encode", "line_noise", "long_call", "speak", "spoken_call"]


def long_call(repeats: int) -> bytes:
    """The sample call said `repeats` times in a row: a longer dual-channel recording."""
    left, right = decode(SAMPLES / "call_dual_channel.wav")
    return encode(np.tile(np.stack([left, right]), repeats), rate=16000, fmt="wav", codec="pcm_s16le")


def line_noise(speech: np.ndarray, *, echo_db: float | None = -30.0, seed: int = 7) -> np.ndarray:
    """What a silent side's channel of a phone call carries (16 kHz): hiss, 50 Hz hum with its harmonics, clicks,
    comfort noise whose level steps every half second, and the other side's `speech` as a faint, 40 ms late echo
    (`echo_db` below it; None: no echo). Nothing in it is a word."""
    rng = np.random.default_rng(seed)
    n, rate = speech.size, 16_000
    t = np.arange(n) / rate
    out = 10 ** (-48 / 20) * rng.standard_normal(n)  # hiss
    out += sum(10 ** (-42 / 20) / k * np.sin(2 * np.pi * 50 * k * t) for k in (1, 2, 3))  # hum
    steps = np.repeat(10 ** (rng.uniform(-2, 2, n // (rate // 2) + 1) / 20), rate // 2)[:n]
    out += 10 ** (-52 / 20) * steps * rng.standard_normal(n)  # comfort noise
    for at in rng.integers(0, n - 64, max(1, n // rate)):  # about one click a second
        out[at : at + 64] += 10 ** (-14 / 20) * rng.choice([-1, 1]) * np.exp(-np.arange(64) / 8)
    if echo_db is not None:
        delay = int(0.04 * rate)
        out += 10 ** (echo_db / 20) * np.concatenate([np.zeros(delay), speech[: n - delay]])
    return out.astype(np.float32)
