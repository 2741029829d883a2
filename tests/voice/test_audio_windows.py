"""Long recordings are read window by window: the windows add up to the whole decode, cut in quiet places,
and the memory they need does not grow with the length of the call."""

import tracemalloc
import wave

import numpy as np
from faster_whisper import decode_audio

from callscope.voice.audio_windows import SAMPLE_RATE, stream_info, windows
from tests.conftest import SAMPLES

CALL = SAMPLES / "call_dual_channel.wav"


def test_windows_add_up_to_the_whole_channel_sample_for_sample():
    left, right = decode_audio(str(CALL), split_stereo=True)
    for channel, expected in ((0, left), (1, right)):
        parts = list(windows(CALL.read_bytes(), channel, window_s=6))
        assert len(parts) > 2
        assert np.array_equal(np.concatenate([a for _, a in parts]), expected)
        offsets = [offset for offset, _ in parts]
        assert offsets == sorted(offsets) and offsets[0] == 0


def _bursty_call(path, minutes: float) -> None:
    """Stereo 16 kHz: a loud tone burst every second (0.7 s on, 0.3 s quiet), as speech and pauses alternate."""
    second = np.zeros(SAMPLE_RATE, dtype=np.int16)
    second[: int(0.7 * SAMPLE_RATE)] = (8000 * np.sin(np.arange(int(0.7 * SAMPLE_RATE)) * 0.3)).astype(np.int16)
    block = np.tile(second, 60)  # one minute
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        for _ in range(int(minutes)):
            out.writeframes(np.column_stack([block, block]).reshape(-1).tobytes())


def test_cuts_fall_in_pauses_and_memory_does_not_grow_with_the_call(tmp_path):
    peaks = {}
    for minutes in (4, 16):
        path = tmp_path / f"call-{minutes}.wav"
        _bursty_call(path, minutes)
        assert stream_info(str(path)).channels == 2
        tracemalloc.start()
        total = 0
        for offset, audio in windows(str(path), 1, window_s=60):
            total += len(audio)
            cut = offset * SAMPLE_RATE
            if offset:  # every cut lands in the quiet 0.3 s of a second, never inside a burst
                assert cut % SAMPLE_RATE >= 0.7 * SAMPLE_RATE
        peaks[minutes] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert total == minutes * 60 * SAMPLE_RATE
    # four times the audio, about the same peak (a whole 16-minute channel would be 61 MB as float32)
    assert peaks[16] < 1.3 * peaks[4] and peaks[16] < 25_000_000
