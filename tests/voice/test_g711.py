"""Mu-law as the platforms stream it: decoded exactly as FFmpeg (PyAV) decodes a mu-law WAV."""

from __future__ import annotations

import io

import av
import numpy as np

from callscope.voice.g711 import mulaw_decode, mulaw_encode
from tests.speech import encode


def test_every_mulaw_code_decodes_as_ffmpeg_decodes_it() -> None:
    ramp = np.linspace(-1, 1, 8000, dtype=np.float32)
    wav = encode(np.stack([ramp, -ramp]), rate=8000, fmt="wav", codec="pcm_mulaw")
    data = wav[wav.index(b"data") + 8 :]
    with av.open(io.BytesIO(wav)) as container:
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert np.array_equal(mulaw_decode(data), decoded)
    assert len(set(data)) > 200  # most of the 256 codes were checked


def test_encoding_then_decoding_keeps_a_signal_within_mulaws_step() -> None:
    x = np.arange(-32000, 32000, 13).astype(np.int16)
    y = mulaw_decode(mulaw_encode(x)).astype(int)
    assert np.all(np.abs(y - x) <= np.abs(x) / 16 + 8)
