"""The events a live contact sends (start, turn, audio, end), validated, and the error event that answers a bad one."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from callscope.contacts import ContactMeta, Speaker


class LiveInputError(ValueError):
    """A bad event: answered with an error event; the session goes on unless `fatal`."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class StartEvent(ContactMeta):
    type: Literal["start"]
    channel: Literal["chat", "sms", "voice"] = "chat"
    identity_verified: bool = Field(default=False, description="the customer was verified before the contact")


class TurnEvent(BaseModel):
    type: Literal["turn"]
    speaker: Speaker
    text: str = Field(min_length=1, max_length=20_000)


class AudioEvent(BaseModel):
    type: Literal["audio"]
    speaker: Literal["agent", "customer", "unknown"]
    sample_rate: Literal[8000, 16000]
    pcm16: str = Field(min_length=1, description="base64 of 16-bit little-endian mono PCM")


class EndEvent(BaseModel):
    type: Literal["end"]


EVENTS: dict[str, type[BaseModel]] = {"start": StartEvent, "turn": TurnEvent, "audio": AudioEvent, "end": EndEvent}


Event = StartEvent | TurnEvent | AudioEvent | EndEvent


def parse_event(data: Any) -> Event:
    """Validate one client event; the error says which field is wrong and what was expected."""
    if not isinstance(data, dict):
        raise LiveInputError("an event must be a JSON object with a `type`")
    kind = data.get("type")
    if kind == "auth":
        raise LiveInputError("already authenticated: `auth` is only accepted as the first message")
    model = EVENTS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise LiveInputError(f"unknown event type {kind!r}: expected one of {', '.join(EVENTS)}")
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc'])) or kind}: {e['msg']}" for e in exc.errors()[:3])
        raise LiveInputError(f"invalid {kind} event: {where}") from exc


def error_event(message: str, *, event: str | None = None, fatal: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {"type": "error", "error": message, "event": event}
    if fatal:
        answer["fatal"] = True
    return answer
