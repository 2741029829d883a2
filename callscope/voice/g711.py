"""G.711 mu-law, the telephone network's 8 kHz codec, as contact-center platforms stream it (AudioHook's PCMU,
Twilio's audio/x-mulaw): a 256-entry table, so a frame decodes in one numpy lookup."""

from __future__ import annotations

import numpy as np


def _mulaw_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent, mantissa = (codes >> 4) & 0x07, codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(codes & 0x80, -magnitude, magnitude).astype(np.int16)


MULAW_TO_PCM16 = _mulaw_table()


def mulaw_decode(data: bytes) -> np.ndarray:
    """16-bit linear samples of mu-law bytes."""
    return MULAW_TO_PCM16[np.frombuffer(data, dtype=np.uint8)]


def mulaw_encode(samples: np.ndarray) -> bytes:
    """Mu-law bytes of 16-bit samples (the nearest code: for test clients and simulators)."""
    order = np.argsort(MULAW_TO_PCM16)
    sorted_values = MULAW_TO_PCM16[order].astype(np.int32)
    at = np.clip(np.searchsorted(sorted_values, samples.astype(np.int32)), 1, 255)
    nearer_left = np.abs(samples - sorted_values[at - 1]) <= np.abs(samples - sorted_values[at])
    return order[np.where(nearer_left, at - 1, at)].astype(np.uint8).tobytes()
