"""Every channel becomes the same record: a list of turns (speaker, start, end, text).

SMS threads and web chats arrive as JSON (the API's body format) or as a plain-text transcript;
recordings become turns in `callscope.voice.transcribe`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from callscope.errors import InvalidInput

Speaker = Literal["agent", "customer", "bot", "unknown"]
Channel = Literal["voice", "sms", "chat"]
TEXT_CHANNELS = ("sms", "chat")


class Turn(BaseModel):
    """One utterance; times are seconds from the start of the contact."""

    speaker: Speaker
    start: float = 0.0
    end: float = 0.0
    text: str
    redactions: list[dict[str, Any]] = Field(default_factory=list, description="PII placeholders in `text`")
    # (start, end, word) as the recognizer timed the words of `text`, before redaction: they locate the PII in the
    # audio (callscope.voice.audio_redaction) and are never stored, serialized or returned (exclude)
    words: list[tuple[float, float, str]] = Field(default_factory=list, exclude=True, repr=False)
    # the same speech heard again with the decoder primed for digits (callscope.voice.number_pass): for redaction only
    digit_words: list[tuple[float, float, str]] = Field(default_factory=list, exclude=True, repr=False)


class ContactMeta(BaseModel):
    """Optional fields every body may carry."""

    external_id: str | None = Field(default=None, max_length=200)
    customer_ref: str | None = Field(default=None, max_length=200)
    queue: str | None = Field(default=None, max_length=100)
    agent: str | None = Field(default=None, max_length=100)


class SmsMessage(BaseModel):
    direction: Literal["inbound", "outbound"]
    text: str = Field(max_length=20_000)
    timestamp: datetime | None = None


class ChatMessage(BaseModel):
    role: Literal["customer", "agent", "bot"]
    text: str = Field(max_length=20_000)
    timestamp: datetime | None = None


class SmsBody(ContactMeta):
    channel: Literal["sms"]
    messages: list[SmsMessage] = Field(min_length=1, max_length=5_000)

    @model_validator(mode="before")
    @classmethod
    def _single_message(cls, data: Any) -> Any:
        """Accept a single message (`message`, or `text` + `direction`) as a one-message thread."""
        if isinstance(data, dict) and "messages" not in data:
            single = data.get("message") or (
                {k: data[k] for k in ("direction", "text", "timestamp") if k in data} if "text" in data else None
            )
            if single is not None:
                data = {**data, "messages": [single]}
        return data


class ChatBody(ContactMeta):
    channel: Literal["chat"]
    messages: list[ChatMessage] | None = Field(default=None, max_length=5_000)
    transcript: str | None = Field(default=None, max_length=200_000)

    @field_validator("messages")
    @classmethod
    def _not_empty(cls, value: list[ChatMessage] | None) -> list[ChatMessage] | None:
        if value is not None and not value:
            raise ValueError("messages must not be empty")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ChatBody:
        if (self.messages is None) == (self.transcript is None):
            raise ValueError("a chat needs exactly one of `messages` or `transcript`")
        return self


TextBody = SmsBody | ChatBody


def parse_text_body(data: Any) -> SmsBody | ChatBody:
    """Validate a JSON body; unknown channels and malformed bodies raise InvalidInput with the reason."""
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    channel = data.get("channel")
    model: type[SmsBody] | type[ChatBody]
    if channel == "sms":
        model = SmsBody
    elif channel == "chat":
        model = ChatBody
    elif channel == "voice":
        raise InvalidInput("voice contacts are posted as multipart audio uploads (field `file`)")
    else:
        raise InvalidInput(f"unknown channel {channel!r}: expected 'sms' or 'chat' (or a multipart audio upload)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _offsets(stamps: list[datetime | None]) -> list[float]:
    """Seconds since the first timestamp; contacts without timestamps count one second per message."""
    if stamps and all(s is not None for s in stamps):
        first = stamps[0]
        return [max(0.0, (s - first).total_seconds()) for s in stamps]  # type: ignore[operator]
    return [float(i) for i in range(len(stamps))]


def turns_from_body(body: SmsBody | ChatBody) -> list[Turn]:
    """The body's messages as turns, in order."""
    if isinstance(body, ChatBody) and body.transcript is not None:
        return parse_plain_transcript(body.transcript)
    if isinstance(body, SmsBody):
        pairs = [("customer" if m.direction == "inbound" else "agent", m.text, m.timestamp) for m in body.messages]
    else:
        pairs = [(m.role, m.text, m.timestamp) for m in body.messages or []]
    starts = _offsets([p[2] for p in pairs])
    return [
        Turn(speaker=speaker, start=start, end=start, text=text.strip())  # type: ignore[arg-type]
        for (speaker, text, _), start in zip(pairs, starts, strict=True)
        if text.strip()
    ]


_PREFIX = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?(agent|customer|bot|caller|client|advisor)\s*:\s*(.*)$", re.IGNORECASE)
_ALIASES = {"caller": "customer", "client": "customer", "advisor": "agent"}


def parse_plain_transcript(text: str) -> list[Turn]:
    """`Agent:` / `Customer:` prefixed lines; unprefixed lines continue the previous turn."""
    turns: list[Turn] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _PREFIX.match(line)
        if match:
            role = match.group(1).lower()
            speaker = _ALIASES.get(role, role)
            turns.append(
                Turn(speaker=speaker, start=float(len(turns)), end=float(len(turns)), text=match.group(2).strip())
            )  # type: ignore[arg-type]
        elif turns:
            turns[-1].text = f"{turns[-1].text} {line.strip()}".strip()
        else:
            raise InvalidInput("a plain-text transcript must start with an `Agent:` or `Customer:` line")
    turns = [t for t in turns if t.text]
    if not turns:
        raise InvalidInput("the transcript has no turns")
    return turns
