import json

import pytest

from callscope.contacts import parse_plain_transcript, parse_text_body, turns_from_body
from callscope.errors import InvalidInput
from tests.conftest import SAMPLES


def test_sms_thread_becomes_turns_with_offsets_from_timestamps():
    body = parse_text_body(json.loads((SAMPLES / "sms_thread.json").read_text()))
    turns = turns_from_body(body)
    assert [t.speaker for t in turns] == ["customer", "agent", "customer", "agent"]
    assert turns[0].start == 0.0
    assert turns[1].start == 150.0  # 09:14:00 -> 09:16:30
    assert body.external_id == "sms-1001"


def test_single_sms_message_is_a_one_turn_thread():
    body = parse_text_body({"channel": "sms", "direction": "inbound", "text": "my card has not arrived"})
    assert [(t.speaker, t.text) for t in turns_from_body(body)] == [("customer", "my card has not arrived")]


def test_chat_roles_and_order_are_kept():
    body = parse_text_body(json.loads((SAMPLES / "web_chat.json").read_text()))
    assert [t.speaker for t in turns_from_body(body)] == ["bot", "customer", "agent", "customer", "agent"]


def test_plain_text_transcript_joins_continuation_lines():
    turns = parse_plain_transcript((SAMPLES / "chat_transcript.txt").read_text())
    assert [t.speaker for t in turns] == ["agent", "customer", "agent", "customer"]
    assert (
        turns[1].text == "My card payment was declined at a shop this morning but I have plenty of money in my account."
    )


def test_chat_body_with_a_transcript():
    body = parse_text_body({"channel": "chat", "transcript": "Customer: hello\nAgent: hi"})
    assert [t.speaker for t in turns_from_body(body)] == ["customer", "agent"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"channel": "fax", "messages": []}, "unknown channel 'fax'"),
        ({"messages": []}, "unknown channel None"),
        ([1, 2], "must be a JSON object"),
        ({"channel": "sms", "messages": []}, "messages"),
        ({"channel": "sms", "messages": [{"direction": "sideways", "text": "x"}]}, "direction"),
        ({"channel": "chat", "messages": [{"role": "customer"}]}, "text"),
        ({"channel": "chat"}, "exactly one of"),
        ({"channel": "voice"}, "multipart"),
    ],
)
def test_bad_bodies_get_a_reason(body, reason):
    with pytest.raises(InvalidInput, match=reason):
        parse_text_body(body)


def test_plain_transcript_without_prefix_is_rejected():
    with pytest.raises(InvalidInput, match="must start with"):
        parse_plain_transcript("hello there\nAgent: hi")
