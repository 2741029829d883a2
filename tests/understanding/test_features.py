import pytest

from callscope.contacts import Turn
from callscope.understanding.features import conversation_features


def t(speaker, start, end, text="word"):
    return Turn(speaker=speaker, start=start, end=end, text=text)


# A 30 s call: an overlap the agent causes (0.5 s, an interruption), a short "okay" over the agent (0.1 s, not one),
# a 5.9 s hold, and 3 s of trailing silence before the recording ends.
CALL = [
    t("agent", 0.0, 5.0, "Hello thanks for calling how can I help"),  # 8 words
    t("customer", 6.0, 10.0, "my card was declined yesterday"),  # 5
    t("agent", 9.5, 14.0, "let me check that for you"),  # 6
    t("customer", 13.9, 14.1, "okay"),  # 1
    t("agent", 20.0, 24.0, "thanks for holding it is fixed"),  # 6
    t("customer", 26.0, 27.0, "great thank you"),  # 3
]


def test_voice_features_match_hand_computed_values():
    f = conversation_features(CALL, channel="voice", duration_s=30.0)
    assert f["channel"] == "voice" and f["duration_s"] == 30.0
    assert f["talk_time_s"] == {"agent": 13.5, "customer": 5.2}  # 5 + 4.5 + 4; 4 + 0.2 + 1
    # nobody talks: 5-6, 14.1-20, 24-26, 27-30 -> 1 + 5.9 + 2 + 3
    assert f["silence_s"] == pytest.approx(11.9)
    assert f["longest_silence_s"] == pytest.approx(5.9)
    assert f["overtalk_s"] == pytest.approx(0.6)  # 9.5-10 and 13.9-14.0
    assert f["interruptions"] == 1
    assert f["interruptions_by_speaker"] == {"agent": 1, "customer": 0}
    assert f["turns"] == {"agent": 3, "customer": 3}
    assert f["words"] == {"agent": 20, "customer": 9}
    assert f["speaking_rate_wpm"]["agent"] == pytest.approx(20 / 13.5 * 60, abs=1e-3)
    assert f["speaking_rate_wpm"]["customer"] == pytest.approx(9 / 5.2 * 60, abs=1e-3)
    # agent end -> next customer start: 5.0 -> 6.0 (1.0), 14.0 -> 13.9 (negative, skipped), 24.0 -> 26.0 (2.0)
    assert f["customer_response_latency_s"] == {"mean": 1.5, "median": 1.5, "count": 2}
    # customer end -> next agent start: 10.0 -> 9.5 (skipped), 14.1 -> 20.0 (5.9)
    assert f["agent_response_latency_s"] == {"mean": 5.9, "median": 5.9, "count": 1}


def test_the_recording_length_bounds_the_call_and_clips_turns():
    turns = [t("agent", 1.0, 5.0), t("customer", 6.0, 10.0)]
    f = conversation_features(turns, channel="voice", duration_s=8.0)
    assert f["talk_time_s"] == {"agent": 4.0, "customer": 2.0}
    assert f["silence_s"] == pytest.approx(2.0)  # 0-1 and 5-6
    assert f["longest_silence_s"] == pytest.approx(1.0)
    unbounded = conversation_features(turns, channel="voice", duration_s=None)
    assert unbounded["duration_s"] == 10.0 and unbounded["silence_s"] == pytest.approx(2.0)


def test_touching_turns_and_same_speaker_overlaps_are_not_overtalk():
    turns = [t("agent", 0.0, 2.0), t("customer", 2.0, 4.0), t("customer", 3.0, 5.0)]
    f = conversation_features(turns, channel="voice", duration_s=5.0)
    assert f["overtalk_s"] == 0.0 and f["interruptions"] == 0
    assert f["talk_time_s"] == {"agent": 2.0, "customer": 3.0}
    assert f["customer_response_latency_s"] == {"mean": None, "median": None, "count": 0}


def test_an_empty_call_is_all_silence():
    f = conversation_features([], channel="voice", duration_s=10.0)
    assert f["silence_s"] == 10.0 and f["longest_silence_s"] == 10.0 and f["talk_time_s"] == {}


def test_text_features_count_messages_and_reply_gaps():
    chat = [
        t("customer", 0, 0, "hi my card is blocked"),
        t("customer", 30, 30, "hello?"),  # still waiting since 0
        t("agent", 90, 90, "sorry for the wait"),  # gap 90
        t("customer", 120, 120, "no worries"),
        t("bot", 130, 130, "a bot is not an agent reply"),
        t("agent", 300, 300, "done"),  # gap 180
    ]
    f = conversation_features(chat, channel="chat", duration_s=None)
    assert f == {
        "channel": "chat",
        "messages": {"agent": 2, "bot": 1, "customer": 3},
        "words": {"agent": 5, "bot": 7, "customer": 8},
        "response_gap_s": {"mean": 135.0, "max": 180.0, "count": 2},
        "first_response_s": 90.0,
        "span_s": 300.0,
    }


def test_an_unanswered_sms_has_no_reply_gap():
    f = conversation_features([t("customer", 0, 0, "hello")], channel="sms", duration_s=None)
    assert f["response_gap_s"] == {"mean": None, "max": None, "count": 0}
    assert f["first_response_s"] is None and f["span_s"] == 0.0


def test_unknown_channel_is_rejected():
    with pytest.raises(ValueError, match="unknown channel"):
        conversation_features([], channel="fax", duration_s=None)
