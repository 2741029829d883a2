"""The low cut before Whisper: hum and rumble out, the speech band kept, the same in pieces as whole, and only on a
line whose pauses hum."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callscope.interactions.options import whisper_options
from callscope.settings import Settings
from callscope.voice.speech_band import LISTEN_S, TELEPHONE_CUT_HZ, LowCut, hums
from callscope.voice.transcribe import decode
from tests.speech import encode
from tests.voice.test_crosstalk import line_noise
from tests.voice.test_wer import speech_corpus

RATE = 16_000


def tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    return (0.1 * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def gain_db(cut: float, hz: float) -> float:
    heard = LowCut(cut, gated=False)(tone(hz))[RATE // 2 :]  # after the filter has settled
    return float(20 * np.log10(np.std(heard) / np.std(tone(hz)[RATE // 2 :])))


def test_mains_hum_is_taken_out_and_the_speech_band_kept():
    for hum in (50.0, 60.0):
        assert gain_db(TELEPHONE_CUT_HZ, hum) < -55
    for speech in (500.0, 1000.0, 3400.0, 7000.0):
        assert gain_db(TELEPHONE_CUT_HZ, speech) > -0.1


def test_a_cut_of_zero_hands_the_samples_through():
    samples = tone(50.0) + tone(1000.0)
    assert np.array_equal(LowCut(0.0)(samples), samples)


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(0, 16_000), max_size=6), seed=st.integers(0, 2**16))
def test_a_stream_filtered_piece_by_piece_equals_it_filtered_whole(cuts, seed):
    """Windows of a recording and chunks of a live call are filtered one after another: no seam at the joins."""
    samples = np.random.default_rng(seed).standard_normal(16_000).astype(np.float32)
    whole = LowCut(TELEPHONE_CUT_HZ, gated=False)(samples)
    streamed = LowCut(TELEPHONE_CUT_HZ, gated=False)
    pieces = [streamed(piece) for piece in np.split(samples, sorted(cuts))]
    assert np.allclose(np.concatenate(pieces), whole, atol=1e-6)


def test_the_telephone_cut_is_the_default_and_a_deployment_can_turn_it_off():
    assert whisper_options(Settings()).low_cut_hz == TELEPHONE_CUT_HZ
    assert whisper_options(Settings(whisper_low_cut_hz=0.0)).low_cut_hz == 0.0
    with pytest.raises(ValueError):
        Settings(whisper_low_cut_hz=-1.0)


def speech_like(seconds: float, seed: int) -> np.ndarray:
    """Bursts of noise shaped like voiced speech (a 120-200 Hz buzz through the 300-3400 Hz band, about -24 dBFS),
    half a second on, a quarter off: what the gate must hear past to the pauses."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    pitch = rng.uniform(120, 200)
    buzz = np.sign(np.sin(2 * np.pi * pitch * np.arange(n) / RATE)) + 0.3 * rng.standard_normal(n)
    voiced = sosfilt(butter(4, [300, 3400], btype="bandpass", fs=RATE, output="sos"), buzz)
    on = (np.arange(n) % (RATE * 3 // 4)) < RATE // 2
    return (0.06 * voiced / np.std(voiced) * on).astype(np.float32)


def rumble(seconds: float, level_db: float, seed: int) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    noise = np.random.default_rng(seed).standard_normal(int(seconds * RATE))
    low = sosfilt(butter(4, 100, fs=RATE, output="sos"), noise)
    return (10 ** (level_db / 20) * low / np.std(low)).astype(np.float32)


def through_a_phone_line(samples: np.ndarray) -> np.ndarray:
    """The bench's telephone band (300-3400 Hz, 8 kHz) as mu-law WAV, decoded to 16 kHz as the pipeline hears it."""
    line = speech_corpus.telephone(samples)
    wav = encode(np.stack([line, line]), rate=8000, fmt="wav", codec="pcm_mulaw")  # a stereo call's one side
    return decode(wav)[0]


LINES = {  # what a line carries under the speech -> whether the cut comes in
    "50 Hz hum": (lambda s, seed: line_noise("hum", -45, s, seed), True),
    "60 Hz hum": (lambda s, seed: 10 ** (-45 / 20) * tone(60.0, s) / 0.1, True),
    "rumble": (lambda s, seed: rumble(s, -45, seed), True),
    "hiss": (lambda s, seed: line_noise("hiss", -50, s, seed), False),
    "comfort noise": (lambda s, seed: line_noise("comfort", -55, s, seed), False),
    "digital silence": (lambda s, seed: np.zeros(int(s * RATE), np.float32), False),
}


@settings(max_examples=30, deadline=None)
@given(line=st.sampled_from(sorted(LINES)), seed=st.integers(0, 999), seconds=st.floats(3.0, 20.0))
def test_the_gate_opens_on_hum_and_rumble_under_speech_and_on_nothing_else(line, seed, seconds):
    make, expected = LINES[line]
    samples = speech_like(seconds, seed) + make(seconds, seed)
    assert hums(samples) is expected
    assert hums(through_a_phone_line(samples)) is False  # the telephone band has no hum left to cut


def test_a_line_that_hums_is_cut_and_one_that_does_not_is_handed_through():
    speech = speech_like(12.0, 3)
    quiet_line = speech + line_noise("hiss", -50, 12.0, 3)
    assert np.array_equal(LowCut(TELEPHONE_CUT_HZ)(quiet_line), quiet_line)
    humming = speech + line_noise("hum", -40, 12.0, 3)
    heard = LowCut(TELEPHONE_CUT_HZ)(humming)
    assert np.allclose(heard, LowCut(TELEPHONE_CUT_HZ, gated=False)(humming), atol=1e-6)


def test_a_live_line_is_judged_on_its_first_seconds_and_the_judgement_is_kept():
    """Chunk by chunk, the decision is re-made until LISTEN_S seconds are heard, then kept: hum that starts later
    does not switch the cut on mid-call, and the filter's state ran all along (no seam when it comes in)."""
    chunk = RATE // 10
    humming = speech_like(LISTEN_S + 4, 5) + line_noise("hum", -40, LISTEN_S + 4, 5)
    live = LowCut(TELEPHONE_CUT_HZ)
    heard = np.concatenate([live(humming[i : i + chunk]) for i in range(0, humming.size, chunk)])
    assert live.cutting is True
    whole = LowCut(TELEPHONE_CUT_HZ, gated=False)(humming)
    assert np.allclose(heard[-RATE * 4 :], whole[-RATE * 4 :], atol=1e-6)

    quiet_first = np.concatenate([speech_like(LISTEN_S, 6), speech_like(4, 7) + line_noise("hum", -40, 4, 7)])
    live = LowCut(TELEPHONE_CUT_HZ)
    heard = np.concatenate([live(quiet_first[i : i + chunk]) for i in range(0, quiet_first.size, chunk)])
    assert live.cutting is False
    assert np.array_equal(heard, quiet_first)
