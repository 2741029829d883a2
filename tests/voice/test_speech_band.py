"""The low cut before Whisper: hum and rumble out, the speech band kept, the same in pieces as whole."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callscope.interactions.options import whisper_options
from callscope.settings import Settings
from callscope.voice.speech_band import HUM_CUT_HZ, TELEPHONE_CUT_HZ, LowCut

RATE = 16_000


def tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    return (0.1 * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def gain_db(cut: float, hz: float) -> float:
    heard = LowCut(cut)(tone(hz))[RATE // 2 :]  # after the filter has settled
    return float(20 * np.log10(np.std(heard) / np.std(tone(hz)[RATE // 2 :])))


@pytest.mark.parametrize("cut", [HUM_CUT_HZ, TELEPHONE_CUT_HZ])
def test_mains_hum_is_taken_out_and_the_speech_band_kept(cut):
    for hum in (50.0, 60.0):
        assert gain_db(cut, hum) < (-20 if cut == HUM_CUT_HZ else -55)
    for speech in (500.0, 1000.0, 3400.0, 7000.0):
        assert gain_db(cut, speech) > -0.1


def test_a_cut_of_zero_hands_the_samples_through():
    samples = tone(50.0) + tone(1000.0)
    assert np.array_equal(LowCut(0.0)(samples), samples)


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(0, 16_000), max_size=6), seed=st.integers(0, 2**16))
def test_a_stream_filtered_piece_by_piece_equals_it_filtered_whole(cuts, seed):
    """Windows of a recording and chunks of a live call are filtered one after another: no seam at the joins."""
    samples = np.random.default_rng(seed).standard_normal(16_000).astype(np.float32)
    whole = LowCut(TELEPHONE_CUT_HZ)(samples)
    streamed = LowCut(TELEPHONE_CUT_HZ)
    pieces = [streamed(piece) for piece in np.split(samples, sorted(cuts))]
    assert np.allclose(np.concatenate(pieces), whole, atol=1e-6)


def test_the_cut_is_off_unless_a_deployment_sets_it():
    assert whisper_options(Settings()).low_cut_hz == 0.0
    assert whisper_options(Settings(whisper_low_cut_hz=TELEPHONE_CUT_HZ)).low_cut_hz == TELEPHONE_CUT_HZ
    with pytest.raises(ValueError):
        Settings(whisper_low_cut_hz=-1.0)
