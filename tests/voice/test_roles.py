"""Agent/customer roles from what each side says, hallucination guards on silent and music-only channels."""

import numpy as np

from callscope.voice.roles import RoleDecision, decide, features
from callscope.voice.transcribe import WhisperOptions, decode, transcribe
from tests.audio import encode, spoken_call
from tests.conftest import SAMPLES

AGENT = ["Thank you for calling Northwind Bank, my name is Sarah, how can I help?", "I will block the card now."]
CUSTOMER = ["Hi, I lost my card yesterday and I think someone stole it.", "Please block it."]


def test_roles_follow_what_each_side_says_not_who_speaks_first():
    assert decide(AGENT, CUSTOMER, left_first=False).agent_channel == "left"
    swapped = decide(CUSTOMER, AGENT, left_first=True)  # the customer spoke first (a callback)
    assert swapped.agent_channel == "right" and swapped.confidence > 0.9
    assert swapped.method == "role model over what each side says"
    assert any(r.startswith("right:") and "agent" in r for r in swapped.reasons)
    assert any(r.startswith("left:") and "customer" in r for r in swapped.reasons)


def test_a_customer_who_opens_introduces_himself_and_says_goodbye_is_still_the_customer():
    """The call the regex cues got wrong: every customer phrase here was an agent cue, the agent matched none."""
    customer = ["Hello, is that customer service?", "Yes, my name is John Walker, I have a question about a payment.",
                "Thank you, have a nice day."]  # fmt: skip
    agent = ["Yes, well, can I help you?", "Okay, one moment.", "That payment is a subscription, I have stopped it."]
    for left_first in (True, False):
        made = decide(customer, agent, left_first=left_first)
        assert made.agent_channel == "right" and made.confidence > 0.8


def test_without_words_the_first_speaker_is_a_weak_guess():
    assert decide([], [], left_first=False) == RoleDecision("right", 0.5, "who spoke first (no words to go by)")
    tie = decide(["hello"], ["hello"], left_first=True)
    assert tie.agent_channel == "left" and tie.confidence < 0.6


def test_turn_features_are_the_training_features() -> None:
    assert features("I've paid £42 twice!") == ["i've", "paid", "0", "twice", "i've paid", "paid 0", "0 twice"]


def test_swapped_channels_without_a_channel_map_are_labelled_right():
    left, right = decode(SAMPLES / "call_dual_channel.wav")
    swapped = encode(np.stack([right, left]), rate=16000, fmt="wav", codec="pcm_s16le")  # agent now on the right
    result = transcribe(swapped, options=WhisperOptions(), agent_channel="auto")
    assert result.roles.agent_channel == "right" and result.roles.confidence > 0.6
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


def test_a_customer_first_stereo_call_without_a_channel_map_is_labelled_right():
    """Through the real Whisper model: the customer speaks first on the left channel, and thanks and says goodbye."""
    call = spoken_call(
        [("customer", "Hello, is that customer service? My name is John Walker."),
         ("agent", "Yes, speaking, how can I help you?"),
         ("customer", "I see two payments of eighty pounds that I did not make."),
         ("agent", "I am sorry to hear that. I will block the card and raise a dispute for both payments."),
         ("customer", "Thank you, have a nice day.")],
        agent_channel="right",
    )  # fmt: skip
    result = transcribe(call, options=WhisperOptions(), agent_channel="auto")
    assert result.roles.agent_channel == "right" and result.roles.confidence > 0.8, result.roles
    said = {who: " ".join(t.text for t in result.turns if t.speaker == who).lower() for who in ("agent", "customer")}
    assert result.turns[0].speaker == "customer" and "customer service" in said["customer"]
    assert "dispute" in said["agent"] and "dispute" not in said["customer"]
