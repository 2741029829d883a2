"""Contacts in local files, for the CLI: read (SMS/chat JSON, a plain-text chat, a recording) and analyzed the way a
posted contact is (`analyze.analyze_snippet`), without a server or database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from callscope.contacts import Turn, parse_plain_transcript, parse_text_body, turns_from_body
from callscope.errors import CallscopeError
from callscope.interactions.analyze import Batch, analyze_snippet
from callscope.interactions.options import transcribe_file
from callscope.settings import Settings
from callscope.understanding.custom_intents import CustomIntentModel
from callscope.understanding.intent import IntentModel, load_intent_model
from callscope.voice.transcribe import Progress


def read_contact(
    path: Path, *, settings: Settings, on_progress: Progress | None = None
) -> tuple[str, list[Turn], float | None]:
    """A local file as (channel, turns, duration)."""
    if not path.is_file():
        raise CallscopeError(f"no such file: {path}")
    if path.suffix.lower() == ".json":
        try:
            body = parse_text_body(json.loads(path.read_text()))
        except ValueError as exc:
            raise CallscopeError(f"malformed JSON: {exc}") from exc
        return body.channel, turns_from_body(body), None
    if path.suffix.lower() == ".txt":
        return "chat", parse_plain_transcript(path.read_text()), None
    result = transcribe_file(path.read_bytes(), settings=settings, on_progress=on_progress)
    return "voice", result.turns, result.duration


def analyze_file(
    path: Path, *, settings: Settings, batch: Batch, on_progress: Progress | None = None
) -> dict[str, Any]:
    """One file's redacted turns and analysis (the shipped resources and priors: no tenant, no database)."""
    channel, turns, duration = read_contact(path, settings=settings, on_progress=on_progress)
    row, analysis = analyze_snippet(
        None, tenant="local", channel=channel, turns=turns, batch=batch, duration_s=duration
    )
    return {
        "file": str(path),
        "channel": channel,
        "duration_s": duration,
        "turns": row.turns,
        "intent": analysis.intent.label,
        "confidence": analysis.intent.confidence,
        "routing": analysis.routing.model_dump(),
        "handle_time": analysis.handle_time.model_dump(),
        **analysis.details(),
    }


def intent_classifier(settings: Settings, model_dir: Path | None = None) -> IntentModel | CustomIntentModel:
    """The shipped intent model, or a custom one (`callscope intents fit`), for `callscope classify`."""
    return CustomIntentModel.load(model_dir) if model_dir else load_intent_model(settings.intent_model_dir)
