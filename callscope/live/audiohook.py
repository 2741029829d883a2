"""Genesys Cloud AudioHook (protocol version 2), the server side, as a state machine without I/O.

The platform opens a WebSocket, sends `open` (the server answers `opened` with one of the offered media formats)
and then binary frames of PCMU 8 kHz audio (stereo interleaved: the channels in the order the chosen format names
them; `external` is the customer, `internal` the agent) and text messages: `ping`, `paused`, `resumed`,
`discarded`, `update`, `error`, `close`. Every message carries `seq`; client messages say the last server `seq`
they saw (`serverseq`) and their `position` on the audio timeline, which counts audio the client paused or
discarded and never sent: transcript offsets are on that timeline. The adapter (`api/audiohook.py`) feeds this
class what arrives and sends what it returns; a `ProtocolError` ends the session with `disconnect`.
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from callscope.live.platform import Utterance, load_message, redacted_words
from callscope.voice.g711 import mulaw_decode

VERSION = "2"
MAX_TEXT_CHARS = 65_535  # the protocol's limit for a text message
MAX_FRAME_SECONDS = 2.0  # Genesys sends 100-200 ms frames; a longer one is refused
RATE = 8000
CHANNEL_SPEAKERS = {"external": "customer", "internal": "agent"}
SUPPORTED_LANGUAGES = ["en-US", "en-GB", "en-AU", "en-CA", "en-IE", "en-IN", "en-NZ", "en-ZA"]  # English models
POSITION_TOLERANCE_S = 0.05  # a client position this far past the audio received is a gap, not rounding
DURATION = re.compile(r"PT(\d{1,9}(?:\.\d{1,9})?)S")
CLIENT_TYPES = ("open", "close", "discarded", "error", "ping", "update", "paused", "resumed")
State = Literal["preparing", "active", "paused", "closing", "closed", "disconnected"]


class ProtocolError(ValueError):
    """The client broke the protocol: the session ends with `disconnect` (reason `error`) and this as its info."""


def to_duration(seconds: float) -> str:
    return "PT" + (f"{max(0.0, seconds):.3f}".rstrip("0").rstrip(".") or "0") + "S"


def from_duration(text: Any) -> float:
    match = DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ProtocolError(f"{str(text)[:40]!r} is not a duration like PT1.5S")
    return float(match.group(1))


class MediaFormat(BaseModel):
    type: Literal["audio"]
    format: str
    channels: list[Literal["external", "internal"]] = Field(min_length=1, max_length=2)
    rate: int


class Participant(BaseModel):
    id: str = ""
    ani: str = ""
    aniName: str = ""  # noqa: N815 - the protocol's spelling
    dnis: str = ""


class OpenParameters(BaseModel):
    organizationId: str  # noqa: N815
    conversationId: str  # noqa: N815
    participant: Participant = Field(default_factory=Participant)
    media: list[MediaFormat] = Field(max_length=20)
    language: str | None = Field(default=None, max_length=50)
    supportedLanguages: bool = False  # noqa: N815
    customConfig: dict[str, Any] | None = None  # noqa: N815


@dataclass
class AudioHookProtocol:
    """One AudioHook session's protocol state: sequence numbers, state, chosen media and the audio timeline."""

    session_id: str
    organization_id: str
    state: State = "preparing"
    seq: int = 0  # the last server message's number
    clientseq: int = 0  # the last client message's number
    channels: tuple[str, ...] = ()
    language: str | None = None
    received: int = 0  # samples per channel received
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (received s, seconds not sent) on the timeline

    # server messages

    def message(self, kind: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
        """The next server message, numbered."""
        self.seq += 1
        return {"version": VERSION, "id": self.session_id, "type": kind, "seq": self.seq,
                "clientseq": self.clientseq, "parameters": parameters or {}}  # fmt: skip

    def disconnect(self, info: str, reason: str = "error") -> dict[str, Any]:
        message = self.message("disconnect", {"reason": reason, "info": info[:500]})
        self.state = "disconnected"
        return message

    # client messages

    def read(self, raw: str) -> dict[str, Any]:
        """A client text message, checked against the protocol's bookkeeping (not yet acted on)."""
        message = load_message(raw, max_chars=MAX_TEXT_CHARS, error=ProtocolError)
        if not isinstance(message.get("parameters"), dict):
            raise ProtocolError("message is not a JSON object with parameters")
        kind, seq, serverseq = message.get("type"), message.get("seq"), message.get("serverseq")
        if message.get("version") != VERSION:
            raise ProtocolError(f"protocol version {str(message.get('version'))[:10]!r} is not supported (2 is)")
        if kind not in CLIENT_TYPES:
            raise ProtocolError(f"{str(kind)[:40]!r} is not a client message type")
        if type(seq) is not int or seq != self.clientseq + 1:
            raise ProtocolError(f"seq {str(seq)[:20]} is out of order: expected {self.clientseq + 1}")
        if type(serverseq) is not int or not 0 <= serverseq <= self.seq:
            raise ProtocolError(f"serverseq {str(serverseq)[:20]} is not a server message seq sent so far")
        if message.get("id") != self.session_id:
            raise ProtocolError("message id is not this session's id (the audiohook-session-id header)")
        position = from_duration(message.get("position"))
        self.clientseq = seq
        if kind != "open" and self.state == "preparing":
            raise ProtocolError(f"'{kind}' before 'open'")
        message["position_s"] = position
        return message

    def open(self, message: dict[str, Any]) -> OpenParameters:
        """Validate `open` and choose the media: the first offered PCMU 8 kHz format, stereo before mono."""
        if self.state != "preparing":
            raise ProtocolError("'open' sent twice")
        try:
            params = OpenParameters.model_validate(message["parameters"])
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ProtocolError(f"invalid open parameters: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
        if params.organizationId != self.organization_id:
            raise ProtocolError("organizationId does not match the audiohook-organization-id header")
        usable = [
            m for m in params.media if m.format == "PCMU" and m.rate == RATE and len(set(m.channels)) == len(m.channels)
        ]
        usable.sort(key=lambda m: -len(m.channels))
        if not usable:
            raise ProtocolError("no offered media format is PCMU at 8000 Hz")
        self.channels = tuple(usable[0].channels)
        self.language = params.language
        return params

    def opened(self, params: OpenParameters) -> dict[str, Any]:
        chosen = {"type": "audio", "format": "PCMU", "channels": list(self.channels), "rate": RATE}
        answer: dict[str, Any] = {"media": [chosen], "startPaused": False}
        if params.supportedLanguages:
            answer["supportedLanguages"] = SUPPORTED_LANGUAGES
        self.state = "active"
        return self.message("opened", answer)

    def audio(self, data: bytes) -> dict[str, np.ndarray]:
        """One binary frame: 16-bit samples per speaker."""
        if self.state != "active":
            raise ProtocolError(
                f"audio frame received while {self.state}" + (" (before opened)" if self.state == "preparing" else "")
            )
        width = len(self.channels)
        if not data or len(data) % width:
            raise ProtocolError(f"audio frame of {len(data)} bytes is not whole samples of {width} channel(s)")
        if len(data) > MAX_FRAME_SECONDS * RATE * width:
            raise ProtocolError(f"audio frame over {MAX_FRAME_SECONDS:g} s")
        pcm = mulaw_decode(data)
        self.received += len(data) // width
        return {CHANNEL_SPEAKERS[name]: pcm[i::width] for i, name in enumerate(self.channels)}

    @property
    def position_s(self) -> float:
        """Where the stream is on the client's timeline: audio received plus audio paused or discarded."""
        return self.received / RATE + sum(gap for _, gap in self.gaps)

    def note_position(self, position_s: float) -> float:
        """A `discarded` or `resumed` says where the client's timeline is now: what it did not send is a gap."""
        gap = position_s - self.position_s
        if gap > POSITION_TOLERANCE_S:
            self.gaps.append((self.received / RATE, gap))
            return gap
        return 0.0

    def on_timeline(self, stream_s: float) -> float:
        """A time in the audio received (a transcriber's stream) on the client's timeline."""
        return stream_s + sum(gap for at, gap in self.gaps if at <= stream_s + 1e-9)

    # transcripts and agent assist

    def channel_id(self, speaker: str) -> int:
        names = [CHANNEL_SPEAKERS[c] for c in self.channels]
        return names.index(speaker) if speaker in names else 0

    def _span(self, utterance: Utterance) -> tuple[float, float]:
        """The utterance's start and duration on the client's timeline."""
        start = self.on_timeline(utterance.start)
        return start, max(0.0, self.on_timeline(utterance.end) - start)

    def transcript(self, utterance: Utterance, redact: Any) -> dict[str, Any]:
        """A final transcript event for one utterance (Transcription Connector), redacted, on the timeline."""
        text, tokens = redacted_words(utterance.words, redact)
        start, duration = self._span(utterance)
        seen: set[str] = set()
        token_list = []
        for t_start, t_end, value in tokens:
            offset = to_duration(self.on_timeline(t_start))
            while offset in seen:  # offsets are unique within an interpretation
                offset = to_duration(from_duration(offset) + 0.001)
            seen.add(offset)
            token_list.append({"type": "word", "value": value, "confidence": utterance.confidence, "offset": offset,
                               "duration": to_duration(max(0.0, t_end - t_start))})  # fmt: skip
        language = self.language or "en-US"
        data = {
            "id": str(uuid.uuid4()),
            "channelId": self.channel_id(utterance.speaker),
            "isFinal": True,
            "offset": to_duration(start),
            "duration": to_duration(duration),
            "alternatives": [{"confidence": utterance.confidence, "languages": [language], "interpretations": [
                {"type": "display", "transcript": text, "tokens": token_list}]}],
        }  # fmt: skip
        return self.message("event", {"entities": [{"type": "transcript", "data": data}]})

    def agent_assist(self, utterance: Utterance, redact: Any, suggestions: list[dict[str, Any]]) -> dict[str, Any]:
        """The utterance and the panel's suggestions as an `agentassist` event, for Genesys's agent desktop."""
        text, _ = redacted_words(utterance.words, redact)
        start, duration = self._span(utterance)
        channel = self.channels[self.channel_id(utterance.speaker)]
        said = {"id": str(uuid.uuid4()), "position": to_duration(start), "duration": to_duration(duration),
                "text": text,
                "language": self.language or "en-US", "confidence": utterance.confidence, "channel": channel,
                "isFinal": True}  # fmt: skip
        items = [_suggestion(s, position=to_duration(start)) for s in suggestions]
        data = {"id": str(uuid.uuid4()), "utterances": [said], "suggestions": items}
        return self.message("event", {"entities": [{"type": "agentassist", "data": data}]})


def _suggestion(suggestion: dict[str, Any], *, position: str) -> dict[str, Any]:
    """A panel suggestion as AudioHook's: articles as `article`, reminders and next actions as `faq`."""
    confidence = round(min(1.0, max(0.0, float(suggestion.get("score") or 0.5))), 3)
    ident = str(
        uuid.uuid5(
            uuid.NAMESPACE_URL, f"callscope:{suggestion.get('kind')}:{suggestion.get('ref') or suggestion.get('title')}"
        )
    )
    if suggestion.get("kind") == "article":
        return {"type": "article", "id": ident, "confidence": confidence, "position": position,
                "title": suggestion.get("title", ""),
                "excerpts": [suggestion.get("snippet") or suggestion.get("reason", "")],
                "documentUri": f"callscope:kb/{suggestion.get('ref') or ''}"}  # fmt: skip
    return {"type": "faq", "id": ident, "confidence": confidence, "position": position,
            "question": suggestion.get("title", ""), "answer": html.escape(suggestion.get("reason", ""))}  # fmt: skip
