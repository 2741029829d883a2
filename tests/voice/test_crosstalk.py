"""Crosstalk suppression: the other side's voice leaking into a channel is not transcribed twice."""

from __future__ import annotations

import numpy as np

from callscope.contacts import Turn
from callscope.voice.crosstalk import Levels, coupling, suppress

RATE = 16_000


def tone_bursts(spans: list[tuple[float, float]], seconds: float, amplitude: float = 0.3) -> np.ndarray:
    """A 'voice': noise bursts at the given times, silence elsewhere."""
    rng = np.random.default_rng(0)
    audio = np.zeros(int(seconds * RATE), np.float32)
    for start, end in spans:
        a, b = int(start * RATE), int(end * RATE)
        audio[a:b] = amplitude * rng.standard_normal(b - a).astype(np.float32)
    return audio


def levels_of(audio: np.ndarray, window_s: float = 4.0) -> np.ndarray:
    """Gathered window by window, as transcription streams a call."""
    levels = Levels()
    step = int(window_s * RATE)
    for i in range(0, audio.size, step):
        levels.add(i / RATE, audio[i : i + step])
    return levels.array()


AGENT_TALKS = [(0.0, 2.0), (5.0, 6.0)]
CUSTOMER_TALKS = [(2.5, 4.5), (5.5, 7.0)]  # overtalk at 5.5-6.0


def call(bleed: float) -> tuple[np.ndarray, np.ndarray]:
    agent, customer = tone_bursts(AGENT_TALKS, 8.0), tone_bursts(CUSTOMER_TALKS, 8.0, amplitude=0.15)
    return agent + bleed * customer, customer + bleed * agent  # the customer is recorded 6 dB quieter


def words_and_turns() -> tuple[list[list[Turn]], list[list[list[tuple[float, float, str]]]]]:
    agent_words = [(0.2, 0.6, " Hello,"), (0.7, 1.5, " Callscope"), (3.0, 3.5, " my"), (3.6, 4.2, " card"),
                   (5.1, 5.9, " sure")]  # fmt: skip
    customer_words = [(0.3, 0.9, " Hello,"), (2.6, 3.4, " my"), (3.6, 4.4, " card"), (5.6, 6.2, " thanks")]
    tracks = [
        [Turn(speaker="unknown", start=0.2, end=4.2, text="Hello, Callscope my card"),
         Turn(speaker="unknown", start=5.1, end=5.9, text="sure")],
        [Turn(speaker="unknown", start=0.3, end=0.9, text="Hello,"),
         Turn(speaker="unknown", start=2.6, end=6.2, text="my card thanks")],
    ]  # fmt: skip
    return tracks, [[agent_words[:4], agent_words[4:]], [customer_words[:1], customer_words[1:]]]


def test_leaked_words_are_dropped_and_overtalk_is_kept():
    agent, customer = call(bleed=0.1)
    tracks, words = words_and_turns()
    out = suppress(tracks, words, [levels_of(agent), levels_of(customer)])
    assert [t.text for t in out[0]] == ["Hello, Callscope", "sure"]  # "my card" was the customer's voice
    assert out[0][0].end == 1.5
    assert [t.text for t in out[1]] == ["my card thanks"]  # the agent's "Hello," leaked; "thanks" is overtalk


def test_a_clean_channel_keeps_every_word_even_when_timed_into_the_other_turn():
    agent, customer = call(bleed=0.0)
    tracks, words = words_and_turns()
    levels = [levels_of(agent), levels_of(customer)]
    assert coupling(levels[0], levels[1]) < -35 and coupling(levels[1], levels[0]) < -35
    assert suppress(tracks, words, levels) == tracks


def test_coupling_measures_the_bleed_level():
    agent, customer = call(bleed=0.1)
    levels = [levels_of(agent), levels_of(customer)]
    assert abs(coupling(levels[1], levels[0]) - (-20)) < 1.5  # the agent heard at -20 dB on the customer's channel
    assert abs(coupling(levels[0], levels[1]) - (-20)) < 1.5  # and the other way round, whatever the gains
