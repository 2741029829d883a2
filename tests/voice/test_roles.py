"""Agent/customer roles from what each side says, hallucination guards on silent and music-only channels."""

import numpy as np

from callscope.voice.roles import decide
from callscope.voice.transcribe import WhisperOptions, decode, transcribe
from tests.audio import encode
from tests.conftest import SAMPLES

AGENT = ["Thank you for calling Northwind Bank, my name is Sarah, how can I help?", "I will block the card now."]
CUSTOMER = ["Hi, I lost my card yesterday and I think someone stole it.", "Please block it."]


def test_roles_follow_what_each_side_says_not_who_speaks_first():
    assert decide(AGENT, CUSTOMER, left_first=False).agent_channel == "left"
    swapped = decide(CUSTOMER, AGENT, left_first=True)  # the customer spoke first (a callback)
    assert swapped.agent_channel == "right" and swapped.confidence > 0.7 and swapped.method == "what each side says"
    tie = decide(["hello"], ["hello"], left_first=False)
    assert tie.agent_channel == "right" and tie.confidence == 0.5


def test_swapped_channels_without_a_channel_map_are_labelled_right():
    left, right = decode(SAMPLES / "call_dual_channel.wav")
    swapped = encode(np.stack([right, left]), rate=16000, fmt="wav", codec="pcm_s16le")  # agent now on the right
    result = transcribe(swapped, options=WhisperOptions(), agent_channel="auto")
    assert result.roles["agent_channel"] == "right" and result.roles["confidence"] > 0.6
    agent_text = " ".join(t.text for t in result.turns if t.speaker == "agent").lower()
    assert "calling" in agent_text and "lost my card" not in agent_text


def _hold_music(seconds: float, rate: int = 16000) -> np.ndarray:
    """Chords that change every half second, like a hold loop: tonal, loud, no speech."""
    t = np.arange(int(seconds * rate)) / rate
    roots = np.array([220.0, 261.6, 329.6, 392.0])[(t * 2).astype(int) % 4]
    music = sum(np.sin(2 * np.pi * roots * ratio * t) for ratio in (1, 1.25, 1.5))
    return (0.2 * music / 3).astype(np.float32)


def test_no_text_is_invented_for_a_silent_or_music_only_channel():
    left, _ = decode(SAMPLES / "call_dual_channel.wav")
    silent = encode(np.stack([left, np.zeros_like(left)]), rate=16000, fmt="wav", codec="pcm_s16le")
    result = transcribe(silent, options=WhisperOptions(), agent_channel="left")
    assert {t.speaker for t in result.turns} == {"agent"}
    music = encode(np.stack([left, _hold_music(left.size / 16000)]), rate=16000, fmt="wav", codec="pcm_s16le")
    result = transcribe(music, options=WhisperOptions(), agent_channel="left")
    assert [t.text for t in result.turns if t.speaker == "customer"] == []


def test_hotwords_reach_the_model():
    result = transcribe((SAMPLES / "call_dual_channel.wav").read_bytes(),
                        options=WhisperOptions(hotwords="Northwind Bank"), agent_channel="left")  # fmt: skip
    assert "Northwind" in result.text
