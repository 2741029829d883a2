"""The AudioHook protocol state machine, without a socket: bookkeeping, media choice, timeline, bad peers."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callscope.live.audiohook import AudioHookProtocol, ProtocolError, from_duration, to_duration
from callscope.live.platform import Utterance
from callscope.live.streaming import Word
from callscope.voice.g711 import mulaw_encode

SESSION, ORG = "e160e428-53e2-487c-977d-96989bf5c99d", "d7934305-0972-4844-938e-9060eef73d05"


def message(proto: AudioHookProtocol, kind: str, parameters: dict[str, Any] | None = None, **override: Any) -> str:
    body = {
        "version": "2",
        "id": SESSION,
        "type": kind,
        "seq": proto.clientseq + 1,
        "serverseq": proto.seq,
        "position": "PT0S",
        "parameters": parameters or {},
        **override,
    }
    return json.dumps(body)


def open_params(*formats: tuple[str, ...], fmt: str = "PCMU", rate: int = 8000) -> dict[str, Any]:
    return {
        "organizationId": ORG,
        "conversationId": "c0nv",
        "participant": {"id": "p", "ani": "+15551234", "aniName": "", "dnis": ""},
        "language": "en-US",
        "media": [{"type": "audio", "format": fmt, "channels": list(c), "rate": rate} for c in formats],
    }


def opened(*formats: tuple[str, ...]) -> AudioHookProtocol:
    proto = AudioHookProtocol(SESSION, ORG)
    params = proto.open(proto.read(message(proto, "open", open_params(*formats))))
    proto.opened(params)
    return proto


def test_the_server_chooses_the_first_stereo_pcmu_format_exactly_as_offered() -> None:
    proto = AudioHookProtocol(SESSION, ORG)
    params = proto.open(proto.read(message(proto, "open", open_params(("internal",), ("internal", "external")))))
    answer = proto.opened(params)
    assert answer["parameters"]["media"] == [
        {"type": "audio", "format": "PCMU", "channels": ["internal", "external"], "rate": 8000}
    ]
    assert (answer["seq"], answer["clientseq"], answer["id"], proto.state) == (1, 1, SESSION, "active")


def test_a_frame_is_split_into_the_channels_it_was_opened_with() -> None:
    proto = opened(("internal", "external"))
    agent, customer = np.full(160, 1000, np.int16), np.full(160, -8000, np.int16)
    frame = mulaw_encode(np.stack([agent, customer], axis=1).reshape(-1))
    audio = proto.audio(frame)
    assert abs(int(audio["agent"][0]) - 1000) < 40 and abs(int(audio["customer"][0]) + 8000) < 300
    assert proto.position_s == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("params", "why"),
    [
        (open_params(("external", "internal"), fmt="L16"), "PCMU"),
        (open_params(("external", "internal"), rate=16000), "PCMU"),
        ({**open_params(("external",)), "organizationId": "another"}, "organizationId"),
        ({"media": "PCMU"}, "invalid open parameters"),
    ],
)
def test_an_open_the_server_cannot_serve_is_a_protocol_error(params: dict[str, Any], why: str) -> None:
    proto = AudioHookProtocol(SESSION, ORG)
    with pytest.raises(ProtocolError, match=why):
        proto.open(proto.read(message(proto, "open", params)))


@pytest.mark.parametrize(
    ("override", "why"),
    [
        ({"seq": 3}, "out of order"),
        ({"serverseq": 9}, "serverseq"),
        ({"id": "another-session"}, "session's id"),
        ({"version": "1"}, "version"),
        ({"type": "opened"}, "not a client message"),
        ({"position": "1.5"}, "duration"),
    ],
)
def test_messages_out_of_order_or_malformed_are_protocol_errors(override: dict[str, Any], why: str) -> None:
    proto = opened(("external", "internal"))
    with pytest.raises(ProtocolError, match=why):
        proto.read(message(proto, "ping", **override))


def test_audio_before_opened_while_paused_or_malformed_is_refused() -> None:
    proto = AudioHookProtocol(SESSION, ORG)
    with pytest.raises(ProtocolError, match="before opened"):
        proto.audio(b"\xff" * 320)
    proto = opened(("external", "internal"))
    with pytest.raises(ProtocolError, match="whole samples"):
        proto.audio(b"\xff" * 321)
    with pytest.raises(ProtocolError, match="over 2 s"):
        proto.audio(b"\xff" * 8000 * 2 * 3)
    proto.state = "paused"
    with pytest.raises(ProtocolError, match="paused"):
        proto.audio(b"\xff" * 320)


def test_audio_the_client_did_not_send_keeps_transcripts_on_its_timeline() -> None:
    """10 s received, then the client discards 5 s (its position jumps to 15 s): a word heard at 12 s of audio
    received was said at 17 s of the call."""
    proto = opened(("external", "internal"))
    for _ in range(50):
        proto.audio(b"\xff" * 3200)
    assert proto.note_position(15.0) == pytest.approx(5.0)
    assert proto.note_position(15.0) == 0.0  # said twice, counted once
    assert proto.on_timeline(4.0) == pytest.approx(4.0)
    assert proto.on_timeline(12.0) == pytest.approx(17.0)
    words = [Word(12.0, 12.4, " Hello"), Word(12.5, 12.9, " there.", 0.5)]
    event = proto.transcript(Utterance("agent", words), redact=lambda text: text)
    data = event["parameters"]["entities"][0]["data"]
    assert (data["offset"], data["duration"], data["channelId"], data["isFinal"]) == ("PT17S", "PT0.9S", 1, True)
    tokens = data["alternatives"][0]["interpretations"][0]["tokens"]
    assert [(t["value"], t["offset"]) for t in tokens] == [("Hello", "PT17S"), ("there.", "PT17.5S")]
    assert data["alternatives"][0]["confidence"] == 0.75


def test_no_card_digit_leaves_in_a_transcript_event() -> None:
    from callscope.understanding.redact import redact

    said = ["", "my", "card", "number", "is", "4111", "1111", "1111", "1111", "thanks"][1:]
    words = [Word(1.0 + i * 0.3, 1.2 + i * 0.3, " " + w) for i, w in enumerate(said)]
    event = opened(("external", "internal")).transcript(Utterance("customer", words), redact=redact)
    text = json.dumps(event)
    assert "1111" not in text and "4111" not in text
    tokens = event["parameters"]["entities"][0]["data"]["alternatives"][0]["interpretations"][0]["tokens"]
    offsets = [from_duration(t["offset"]) for t in tokens]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    assert tokens[-1]["value"] == "thanks"


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
        st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=20), max_size=8).map(json.dumps),
    )
)
def test_any_text_message_is_read_or_refused_with_a_protocol_error(raw: str) -> None:
    proto = opened(("external", "internal"))
    with contextlib.suppress(ProtocolError):
        proto.read(raw)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_durations_round_trip(seconds: float) -> None:
    assert from_duration(to_duration(seconds)) == pytest.approx(seconds, abs=0.0006)
