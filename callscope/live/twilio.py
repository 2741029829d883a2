"""Twilio Media Streams (also spoken by SignalWire, Talkdesk and others), the receiving side, without I/O.

Twilio opens a WebSocket (its upgrade signed with `X-Twilio-Signature`: HMAC-SHA1 of the URL with the account's
auth token) and sends JSON events: `connected`, `start` (stream and call ids, `tracks`, `mediaFormat`
audio/x-mulaw 8000 mono, `customParameters` from TwiML's `<Parameter>`), `media` (`track` inbound = the customer,
outbound = the agent; `chunk`, `timestamp` in ms from the stream's start, base64 `payload`), `mark`, `dtmf` and
`stop`. Numbers arrive as JSON strings. A `StreamError` ends the stream (close code 1008 with the reason).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from callscope.live.platform import load_message
from callscope.voice.g711 import mulaw_decode

TRACK_SPEAKERS = {"inbound": "customer", "outbound": "agent"}
RATE = 8000
MAX_MESSAGE_CHARS = 64_000
MAX_CHUNK_SECONDS = 2.0  # Twilio sends 20 ms chunks
AHEAD_S = 10.0  # a timestamp this far ahead of the audio received is refused (no silence is made for it)
EVENTS = ("connected", "start", "media", "mark", "dtmf", "stop")


class StreamError(ValueError):
    """The stream broke the protocol: it is closed with this reason; what was heard so far is kept."""


@dataclass
class TwilioStream:
    """One Media Stream: its ids, parameters and the audio received per track."""

    started: bool = False
    stopped: bool = False
    stream_sid: str = ""
    call_sid: str = ""
    tracks: tuple[str, ...] = ()
    parameters: dict[str, str] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)  # samples per speaker

    def read(self, raw: str) -> dict[str, Any]:
        message = load_message(raw, max_chars=MAX_MESSAGE_CHARS, error=StreamError)
        if message.get("event") not in EVENTS:
            raise StreamError(f"unknown event {str(message.get('event'))[:30]!r}")
        if self.stopped:
            raise StreamError("event after stop")
        if message["event"] in ("media", "mark", "dtmf", "stop") and not self.started:
            raise StreamError(f"'{message['event']}' before 'start'")
        return message

    def start(self, message: dict[str, Any]) -> None:
        if self.started:
            raise StreamError("'start' sent twice")
        start = message.get("start")
        if not isinstance(start, dict):
            raise StreamError("'start' has no start object")
        media = start.get("mediaFormat") or {}
        if (media.get("encoding"), _int(media.get("sampleRate")), _int(media.get("channels", 1))) != (
            "audio/x-mulaw",
            RATE,
            1,
        ):
            raise StreamError("mediaFormat must be audio/x-mulaw, 8000 Hz, one channel")
        tracks = start.get("tracks") or ["inbound"]
        if not isinstance(tracks, list) or not tracks or any(t not in TRACK_SPEAKERS for t in tracks):
            raise StreamError("tracks must be inbound and/or outbound")
        params = start.get("customParameters") or {}
        if not isinstance(params, dict):
            raise StreamError("customParameters must be an object")
        self.tracks = tuple(dict.fromkeys(tracks))
        self.parameters = {str(k)[:50]: str(v)[:200] for k, v in list(params.items())[:20]}
        self.stream_sid = str(start.get("streamSid") or message.get("streamSid") or "")[:64]
        self.call_sid = str(start.get("callSid") or "")[:64]
        self.started = True

    def media(self, message: dict[str, Any]) -> tuple[str, np.ndarray, float]:
        """One chunk: (speaker, 16-bit samples, where it belongs in seconds from the stream's start)."""
        media = message.get("media")
        if not isinstance(media, dict) or media.get("track") not in self.tracks:
            raise StreamError(f"media track must be one of {', '.join(self.tracks)}")
        payload = media.get("payload")
        if not isinstance(payload, str) or not payload or len(payload) > MAX_CHUNK_SECONDS * RATE * 4 / 3 + 4:
            raise StreamError("media payload must be base64 mu-law of at most 2 s")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise StreamError("media payload is not base64") from exc
        if not data:
            raise StreamError("media payload is empty")
        speaker = TRACK_SPEAKERS[media["track"]]
        have = self.received.get(speaker, 0)
        at = _int(media.get("timestamp"))
        at_s = have / RATE if at is None else at / 1000
        if at_s > have / RATE + AHEAD_S:
            raise StreamError(f"media timestamp {at} ms is more than {AHEAD_S:g} s ahead of the audio received")
        pcm = mulaw_decode(data)
        self.received[speaker] = max(have, int(round(at_s * RATE))) + pcm.size
        return speaker, pcm, at_s


def _int(value: Any) -> int | None:
    """Twilio sends numbers as strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 16:
        return int(value)
    return None
