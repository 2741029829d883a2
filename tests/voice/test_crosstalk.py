"""Crosstalk suppression: the other side's voice leaking into a channel is not transcribed twice."""

from __future__ import annotations

import numpy as np

from callscope.contacts import Turn
from callscope.voice.crosstalk import COUPLED_DB, PAD_S, Levels, coupling, suppress

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


# --- a channel with no voice of its own: line noise and the other side's echo yield no words ------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def line_noise(kind: str, level_db: float, seconds: float, seed: int) -> np.ndarray:
    """Noise a phone line carries between turns: hiss, mains hum, or comfort noise."""
    rng = np.random.default_rng(seed)
    n, amplitude = int(seconds * RATE), 10 ** (level_db / 20)
    if kind == "hiss":
        return (amplitude * rng.standard_normal(n)).astype(np.float32)
    if kind == "hum":
        t = np.arange(n) / RATE
        return (amplitude * sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 2, 3))).astype(np.float32)
    # comfort noise: the far end's background re-created, its level updated every half second (within 2 dB)
    steps = np.repeat(10 ** (rng.uniform(-2, 2, int(seconds * 2) + 1) / 20), RATE // 2)[:n]
    return (amplitude * steps * rng.standard_normal(n)).astype(np.float32)


def words_over(spans: list[tuple[float, float]]) -> tuple[list[Turn], list[list[tuple[float, float, str]]]]:
    timed = [[(a, b, " word")] for a, b in spans]
    return [Turn(speaker="unknown", start=a, end=b, text="word") for a, b in spans], timed


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["hiss", "hum", "comfort"]), level_db=st.floats(-65, -30), seed=st.integers(0, 99),
       starts=st.lists(st.floats(0.0, 7.0), min_size=1, max_size=5))  # fmt: skip
def test_words_over_line_noise_alone_are_dropped_and_speech_over_it_is_kept(kind, level_db, seed, starts):
    noise = line_noise(kind, level_db, 8.0, seed)
    agent = tone_bursts(AGENT_TALKS, 8.0)
    customer = noise + tone_bursts(CUSTOMER_TALKS, 8.0, amplitude=10 ** ((level_db + 20) / 20))  # 20 dB over it
    # a word timed within PAD_S of real speech may be that speech's word, timed off (Whisper does it): kept
    hallucinated = [(s, s + 0.4) for s in starts
                    if not any(a - 0.4 - PAD_S <= s <= b + PAD_S for a, b in CUSTOMER_TALKS)]
    real = [(2.7, 3.2), (3.5, 4.2)]  # inside the customer's speech
    turns, timed = words_over(hallucinated + real)
    out = suppress([[], turns], [[], timed], [levels_of(agent), levels_of(customer)])
    assert [(t.start, t.end) for t in out[1]] == real


@settings(max_examples=40, deadline=None)
@given(echo_db=st.floats(-45, -15), delay_ms=st.integers(0, 60), hiss_db=st.sampled_from([-100.0, -60.0, -50.0]))
def test_the_other_sides_echo_on_a_channel_with_no_voice_of_its_own_is_dropped(echo_db, delay_ms, hiss_db):
    """The customer on hold or muted: their channel carries only the agent's echo (and maybe hiss). Its loudest
    frames are the echo, so measured against that channel's own 'speech level' the echo looks like speech."""
    agent = tone_bursts(AGENT_TALKS, 8.0)
    shift = int(RATE * delay_ms / 1000)
    echo = np.concatenate([np.zeros(shift, np.float32), agent[: agent.size - shift]]) * 10 ** (echo_db / 20)
    customer = echo + line_noise("hiss", hiss_db, 8.0, 1)
    turns, timed = words_over([(0.2, 0.8), (1.0, 1.9), (5.1, 5.8)])  # where the agent talks
    assert suppress([[], turns], [[], timed], [levels_of(agent), levels_of(customer)]) == [[], []]


# --- a real call on a noisy line: the noise is not the other voice, and a word timed off its speech stays -----------
@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["hiss", "hum", "comfort"]), level_db=st.floats(-60, -40), seed=st.integers(0, 99))
def test_line_noise_under_the_other_sides_talk_is_not_read_as_their_voice_leaking_in(kind, level_db, seed):
    """Without the floor taken off, hiss 20-40 dB under the agent's talk read as a -25 dB coupling, and the leak
    tests then dropped the customer's own quieter words in overtalk."""
    agent = tone_bursts(AGENT_TALKS, 8.0)
    customer = tone_bursts(CUSTOMER_TALKS, 8.0, amplitude=0.15) + line_noise(kind, level_db, 8.0, seed)
    assert coupling(levels_of(customer), levels_of(agent)) < COUPLED_DB  # so the leak test stays off


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["hiss", "hum", "comfort"]), level_db=st.floats(-60, -40), seed=st.integers(0, 99),
       late=st.floats(0.0, PAD_S - 0.05), early=st.floats(0.0, 2.0), echo_db=st.sampled_from([None, -45.0, -40.0]))
def test_a_real_word_timed_off_its_speech_on_a_noisy_line_is_kept(kind, level_db, seed, late, early, echo_db):
    """Whisper places a segment's last word up to a few hundred ms into the pause after it, and stretches a first
    word back over the pause (and the other side's turn) before it; both words are the customer's own."""
    agent = tone_bursts(AGENT_TALKS, 8.0)
    echo = 0.0 if echo_db is None else agent * 10 ** (echo_db / 20)
    customer = tone_bursts(CUSTOMER_TALKS, 8.0, amplitude=0.15) + line_noise(kind, level_db, 8.0, seed) + echo
    last = (4.5 + late, 4.7 + late)  # the customer's talk ends at 4.5: "them." timed in the pause
    first = (5.5 - early, 5.7)  # their next talk starts at 5.5 (over the agent's 5.0-6.0): "He" stretched back
    turns, timed = words_over([last, first])
    timed = [[(*last, " them.")], [(*first, " He")]]
    out = suppress([[], turns], [[], timed], [levels_of(agent), levels_of(customer)])
    assert [(t.start, t.end) for t in out[1]] == [last, first]


def test_a_word_written_twice_where_two_chunks_meet_is_kept_once():
    """Batched decoding cuts a channel into chunks; the word at a seam came out at the end of one chunk and again at
    the start of the next ("He" / "He was not"), the two overlapping in time. Words that only follow each other
    (no overlap), or differ, are both kept."""
    agent = tone_bursts(AGENT_TALKS, 8.0)
    customer = tone_bursts(CUSTOMER_TALKS, 8.0, amplitude=0.15) + line_noise("hiss", -50, 8.0, 3)
    timed = [[(2.6, 3.0, " my"), (3.1, 3.5, " He")], [(3.4, 3.6, " he"), (3.6, 4.0, " was")],
             [(4.0, 4.2, " was"), (5.6, 5.9, " it")], [(5.8, 6.2, " so")]]  # fmt: skip
    turns = [Turn(speaker="unknown", start=w[0][0], end=w[-1][1], text="".join(x[2] for x in w).strip()) for w in timed]
    out = suppress([[], turns], [[], timed], [levels_of(agent), levels_of(customer)])
    assert [t.text for t in out[1]] == ["my", "he was", "was it", "so"]
