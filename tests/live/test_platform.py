"""A platform's call whatever its protocol: the recording on the call's timeline, utterances, redacted tokens."""

from __future__ import annotations

import wave

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from callscope.live.platform import CallRecorder, PlatformCall, redacted_words
from callscope.live.streaming import Word


def test_the_recording_is_stereo_customer_left_with_gaps_as_silence() -> None:
    recorder = CallRecorder(max_seconds=60)
    recorder.write("customer", np.full(8000, 100, np.int16), at_s=0.0)
    recorder.write("agent", np.full(8000, -100, np.int16), at_s=0.0)
    recorder.write("customer", np.full(4000, 200, np.int16), at_s=3.0)  # 2 s the platform did not send
    with recorder.wav() as f, wave.open(f) as w:  # type: ignore[union-attr]
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (2, 8000, 3 * 8000 + 4000)
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    assert pcm[0].tolist() == [100, -100]
    assert pcm[2 * 8000].tolist() == [0, 0]
    assert pcm[3 * 8000 + 10].tolist() == [200, 0]
    directory = recorder.dir
    recorder.close()
    assert not directory.exists()


def test_a_recording_stops_at_its_limit_and_one_speaker_is_mono() -> None:
    recorder = CallRecorder(max_seconds=1)
    recorder.write("agent", np.ones(6000, np.int16))
    recorder.write("agent", np.ones(6000, np.int16), at_s=5.0)  # past the limit: cut, not grown
    with recorder.wav() as f, wave.open(f) as w:  # type: ignore[union-attr]
        assert (w.getnchannels(), w.getnframes()) == (1, 8000)
    assert recorder.truncated
    recorder.close()


class FakeTranscriber:
    def __init__(self) -> None:
        self.committed: list[Word] = []
        self.pending: list[Word] = []
        self.in_turn = True

    def flush(self) -> None:
        self.committed += self.pending
        self.pending, self.in_turn = [], False


class FakeLive:
    def __init__(self) -> None:
        self.transcribers = {"customer": FakeTranscriber()}


def test_utterances_end_at_a_pause_at_the_end_of_a_turn_or_at_a_flush() -> None:
    live = FakeLive()
    call = PlatformCall(live, CallRecorder(max_seconds=1))  # type: ignore[arg-type]
    words = live.transcribers["customer"].committed
    words += [Word(0.0, 0.3, " Hi."), Word(0.9, 1.2, " My"), Word(1.25, 1.5, " card")]
    assert [u.text for u in call._utterances(closing=False)] == ["Hi."]  # a 0.6 s pause ended it
    live.transcribers["customer"].pending = [Word(1.6, 1.9, " broke.")]
    assert call._utterances(closing=False) == []  # still speaking
    assert [u.text for u in call.flush()] == ["My card broke."]
    call.recorder.close()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["my", "card", "4111", "1111", "five", "six", "account", "is", "12345678", "ok"]),
                min_size=1, max_size=20))  # fmt: skip
def test_redacted_tokens_keep_their_order_and_times_within_the_utterance(said: list[str]) -> None:
    from callscope.understanding.redact import redact

    words = [Word(i * 0.5, i * 0.5 + 0.4, " " + w) for i, w in enumerate(said)]
    text, tokens = redacted_words(words, redact)
    assert [t[2] for t in tokens] == text.split()
    starts = [t[0] for t in tokens]
    assert starts == sorted(starts)
    assert all(words[0].start <= a <= b <= words[-1].end for a, b, _ in tokens)
    if text == " ".join(said):  # nothing redacted: the tokens are the words, with their own times
        assert tokens == [(w.start, w.end, w.text.strip()) for w in words]
