"""The Twilio Media Streams protocol without a socket: start, media per track on its timestamps, bad streams."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callscope.live.twilio import StreamError, TwilioStream
from callscope.voice.g711 import mulaw_encode

START = {
    "event": "start",
    "sequenceNumber": "1",
    "streamSid": "MZ1",
    "start": {
        "streamSid": "MZ1",
        "callSid": "CA1",
        "accountSid": "AC1",
        "tracks": ["inbound", "outbound"],
        "customParameters": {"queue": "cards"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    },
}


def media(track: str, timestamp_ms: int, samples: np.ndarray) -> str:
    payload = base64.b64encode(mulaw_encode(samples)).decode()
    return json.dumps(
        {"event": "media", "media": {"track": track, "chunk": "1", "timestamp": str(timestamp_ms), "payload": payload}}
    )


def started() -> TwilioStream:
    stream = TwilioStream()
    stream.start(stream.read(json.dumps(START)))
    return stream


def test_tracks_are_the_customer_and_the_agent_placed_by_their_timestamps() -> None:
    stream = started()
    assert (stream.call_sid, stream.tracks, stream.parameters) == ("CA1", ("inbound", "outbound"), {"queue": "cards"})
    speaker, pcm, at = stream.media(stream.read(media("inbound", 0, np.full(160, 500, np.int16))))
    assert (speaker, pcm.size, at) == ("customer", 160, 0.0)
    speaker, _, at = stream.media(stream.read(media("outbound", 1000, np.zeros(160, np.int16))))
    assert (speaker, at) == ("agent", 1.0)


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (
            {**START, "start": {**START["start"], "mediaFormat": {"encoding": "audio/l16", "sampleRate": 16000}}},
            "mulaw",
        ),
        ({**START, "start": {**START["start"], "tracks": ["both"]}}, "tracks"),
        ({"event": "hello"}, "unknown event"),
    ],
)
def test_a_start_the_server_cannot_serve_is_refused(event: dict[str, Any], why: str) -> None:
    stream = TwilioStream()
    with pytest.raises(StreamError, match=why):
        stream.start(stream.read(json.dumps(event)))


def test_media_before_start_bad_payloads_and_far_future_timestamps_are_refused() -> None:
    with pytest.raises(StreamError, match="before 'start'"):
        TwilioStream().read(media("inbound", 0, np.zeros(160, np.int16)))
    stream = started()
    bad = json.loads(media("inbound", 0, np.zeros(160, np.int16)))
    for payload, why in (("!!", "not base64"), ("A" * 40_000, "at most 2 s"), ("", "base64 mu-law")):
        bad["media"]["payload"] = payload
        with pytest.raises(StreamError, match=why):
            stream.media(bad)
    with pytest.raises(StreamError, match="ahead"):
        stream.media(stream.read(media("inbound", 3_600_000, np.zeros(160, np.int16))))


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.dictionaries(
            st.sampled_from(["event", "media", "start", "x"]), st.text(max_size=10) | st.integers(), max_size=4
        ).map(json.dumps),
    )
)
def test_any_message_is_read_or_refused_with_a_stream_error(raw: str) -> None:
    stream = started()
    try:
        event = stream.read(raw)
        if event["event"] == "media":
            stream.media(event)
    except StreamError:
        pass
