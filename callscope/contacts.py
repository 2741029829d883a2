"""Every channel becomes the same record: a list of turns (speaker, start, end, text).

SMS threads and web chats arrive as JSON (the API's body format) or as a plain-text transcript;
recordings become turns in `callscope.voice.transcribe`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from callscope.errors import InvalidInput

# Every kind of PII placeholder redaction writes (`[CARD]`, ...): the one table of them
SpanType = Literal["CARD", "ACCOUNT", "IBAN", "SORT_CODE", "SSN", "PHONE", "EMAIL", "PERSON", "NUMBER", "PIN"]
PII_KINDS: tuple[str, ...] = get_args(SpanType)
NerLabel = Literal["ORG", "DATE"]
NER_LABELS: tuple[str, ...] = get_args(NerLabel)
NerSpan = tuple[int, int, NerLabel]  # (start, end, label) in a turn's redacted text
Speaker = Literal["agent", "customer", "bot", "unknown"]
Channel = Literal["voice", "sms", "chat"]
TEXT_CHANNELS = ("sms", "chat")


@dataclass(frozen=True)
class RedactedSpan:
    """One placeholder: its type and offsets in the *redacted* text; `last4` only for cards."""

    type: SpanType
    start: int
    end: int
    last4: str | None = None


class Turn(BaseModel):
    """One utterance; times are seconds from the start of the contact."""

    speaker: Speaker
    start: float = 0.0
    end: float = 0.0
    text: str
    redactions: list[RedactedSpan] = Field(default_factory=list, description="PII placeholders in `text`")
    # organisations and dates the NER read in `text` when it was redacted (`understanding.redact`): stored with the
    # turn so the analysis does not read it again; never returned (exclude). None: not read (an older stored turn)
    ner: SkipJsonSchema[list[NerSpan] | None] = Field(default=None, exclude=True, repr=False)
    # (start, end, word) as the recognizer timed the words of `text`, before redaction: they locate the PII in the
    # audio (callscope.voice.audio_redaction) and are never stored, serialized or returned (exclude)
    words: list[tuple[float, float, str]] = Field(default_factory=list, exclude=True, repr=False)
    # the same speech heard again with the decoder primed for digits (callscope.voice.number_pass): for redaction only
    digit_words: list[tuple[float, float, str]] = Field(default_factory=list, exclude=True, repr=False)


def public_turns(stored: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Stored turns as the API returns them: without what is kept for the analysis alone (`Turn.ner`)."""
    return [{k: v for k, v in turn.items() if k != "ner"} for turn in stored or []]


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


MAX_JSON_DEPTH = 32  # no body Callscope reads nests deeper than a few levels


def _reject_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not a JSON number Callscope accepts (only finite numbers)", 422)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput(f"the number {text[:40]} is out of range", 422)
    return value


def _big_int(text: str) -> int:
    if len(text.lstrip("-")) > 20:  # 64-bit integers and a little more; nothing stored is larger
        raise InvalidInput(f"the number {text[:40]}... is out of range", 422)
    return int(text)


def check_text(value: str, *, where: str = "text") -> str:
    """Text Callscope can store and answer with: no NUL byte (PostgreSQL refuses them) and no lone UTF-16
    surrogate (no UTF-8 encoding exists for one)."""
    if "\x00" in value:
        raise InvalidInput(f"{where}: NUL bytes are not allowed in text", 422)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"{where}: a lone surrogate (\\ud800-\\udfff) is not text", 422) from exc
    return value


def load_json(raw: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON document any route or event may send, or InvalidInput (400): no NaN or Infinity, no number out of
    range, no nesting deeper than `max_depth`, no NUL byte or lone surrogate in any string or key."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite, parse_int=_big_int)
    except RecursionError as exc:
        raise InvalidInput(f"JSON nested deeper than {max_depth} levels", 422) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"malformed JSON: {str(exc)[:200]}", 400) from exc
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list) and depth > max_depth:
            raise InvalidInput(f"JSON nested deeper than {max_depth} levels", 422)
        if isinstance(node, dict):
            for key, value in node.items():
                check_text(key, where="a JSON key")
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
        elif isinstance(node, str):
            check_text(node, where="a JSON string")
    return data


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
