"""Spoken PII located by word timings and cut from the recording, on the channel that spoke it."""

import io

import av
import numpy as np

from callscope.contacts import Turn
from callscope.understanding.redact import redact_many
from callscope.voice.audio_redaction import AudioSpan, pii_spans, redact_audio
from tests.audio import encode


def timed(text_words: list[str], start: float, step: float = 0.4) -> list[tuple[float, float, str]]:
    return [(start + i * step, start + i * step + 0.3, w) for i, w in enumerate(text_words)]


def test_each_placeholder_becomes_a_span_on_the_speakers_channel_with_a_margin():
    words = timed([" My", " card", " is", " 4539", " 1488", " 0343", " 6467", " thanks"], start=10.0)
    said = Turn(speaker="customer", start=10.0, end=13.1, text="My card is 4539 1488 0343 6467 thanks", words=words)
    agent = Turn(speaker="agent", start=14.0, end=15.0, text="Thank you", words=timed([" Thank", " you"], 14.0))
    turns = [said, agent]
    spans = pii_spans(turns, redact_many([t.text for t in turns]), channel_of=lambda t: 1 if t.speaker == "customer"
                      else 0, margin_s=0.25)  # fmt: skip
    # "4539" starts at 11.2, "6467" ends at 12.7
    assert [s.as_dict() for s in spans] == [{"start": 10.95, "end": 12.95, "kinds": ["CARD"], "channel": 1}]


def test_digits_read_over_turns_are_one_span_when_they_touch_and_names_only_when_asked():
    turns = [Turn(speaker="customer", start=0.0, end=0.7, text="4539 1488", words=timed([" 4539", " 1488"], 0.0)),
             Turn(speaker="customer", start=0.9, end=1.6, text="0343 6467", words=timed([" 0343", " 6467"], 0.9)),
             Turn(speaker="customer", start=5.0, end=6.0, text="I'm Anna Smith here",
                  words=timed([" I'm", " Anna", " Smith", " here"], 5.0))]  # fmt: skip
    redactions = redact_many([t.text for t in turns], speakers=["c"] * 3)
    spans = pii_spans(turns, redactions, channel_of=lambda t: None)
    assert [(s.start, s.end, s.kinds) for s in spans] == [(0.0, 1.85, ("CARD",))]
    named = pii_spans(turns, redactions, channel_of=lambda t: None, kinds=frozenset({"CARD", "PERSON"}))
    assert [s.kinds for s in named] == [("CARD",), ("PERSON",)] and named[1].start == 5.15


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray().reshape(-1, stream.channels) for f in container.decode(stream)]
        return np.concatenate(frames).astype(np.float32) / 32767, stream.rate


def test_the_recording_is_cut_on_one_channel_only_at_its_own_rate():
    rate = 8000
    t = np.arange(3 * rate) / rate
    voice = 0.5 * np.sin(2 * np.pi * 300 * t).astype(np.float32)
    original = encode(np.stack([voice, voice]), rate=rate, fmt="wav", codec="pcm_mulaw")
    silenced, out_rate = _decode(redact_audio(original, [AudioSpan(1.0, 2.0, ("CARD",), 1)]))
    assert out_rate == rate and silenced.shape == (3 * rate, 2)
    assert np.abs(silenced[rate + 10 : 2 * rate - 10, 1]).max() == 0  # the customer's channel, cut
    assert np.abs(silenced[rate + 10 : 2 * rate - 10, 0]).max() > 0.4  # the agent's, untouched
    assert np.abs(silenced[: rate - 10, 1]).max() > 0.4 and np.abs(silenced[2 * rate + 10 :, 1]).max() > 0.4
    toned, _ = _decode(redact_audio(original, [AudioSpan(1.0, 2.0, ("CARD",), None)], fill="tone"))
    cut = toned[rate : 2 * rate, 0]
    spectrum = np.abs(np.fft.rfft(cut))
    assert abs(np.argmax(spectrum) * rate / cut.size - 1000) < 5 and 0.05 < np.abs(cut).max() < 0.2  # a bleep
