"""Live agent assist: the state of a contact that is still going on, and the answer to each of its events.

Pure core (no web framework): `handle_message` / `handle_event` take one client event (a text turn, a
chunk of PCM audio, the end) and answer with the current intent(s), routing hint, remaining handling
time and suggestions (next best actions, knowledge-base articles, compliance reminders). Audio is
transcribed incrementally by `StreamingTranscriber` (the whisper_streaming pattern: buffer, VAD, commit
what two consecutive hypotheses agree on or what silence ended, trim the committed audio).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from callscope.contacts import ContactMeta, Turn, load_json
from callscope.errors import Conflict, InvalidInput
from callscope.interactions.analysis import OutcomeLookup, Resources, contact_intents, customer_texts, no_outcomes
from callscope.interactions.options import whisper_options
from callscope.live.events import (
    AudioEvent,
    LiveInputError,
    StartEvent,
    TurnEvent,
    error_event,
    parse_event,
)
from callscope.live.streaming import (
    StreamingTranscriber,
    Upsampler,
    WhisperWindowDecoder,
    WindowDecoder,
    speech_regions,
)
from callscope.prediction.handletime import predict_handle_time
from callscope.prediction.routing import route
from callscope.settings import Settings
from callscope.understanding import compliance
from callscope.understanding.intent import heard, intent_units, intents_from_predictions
from callscope.understanding.intent_components import torch_threads
from callscope.understanding.kb import KnowledgeBase, extract_entities, load_kb, suggest
from callscope.understanding.summary import summarize
from callscope.voice import number_pass
from callscope.voice.transcribe import SAMPLE_RATE, WhisperOptions, decode_kwargs, load_whisper, merge_turns

log = logging.getLogger("callscope.live")


# --- streaming transcription ----------------------------------------------------------------------------------------


@dataclass
class LiveResources:
    """What live sessions share in one process: analysis resources, the knowledge base, the Whisper decoder."""

    analysis: Resources
    kb: KnowledgeBase
    whisper: WhisperOptions
    settings: Settings
    _decoder: WindowDecoder | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveResources:
        # Live texts come one turn at a time: one torch thread per call leaves the other core to the next
        # session (text p95 55 -> 40-49 ms at 50 sessions); bulk classification keeps torch's default.
        torch_threads(1)
        analysis = Resources.from_settings(settings)
        analysis.intent_model.predict([""])  # an unsure text: loads the sentence encoder now, not mid-call
        return cls(
            analysis=analysis,
            kb=load_kb(settings.kb_dir, settings.next_actions),
            whisper=replace(whisper_options(settings), model=settings.live_whisper_model),
            settings=settings,
        )

    @property
    def decoder(self) -> WindowDecoder:
        """The process's Whisper model (loaded once, on the first audio) behind a window decoder."""
        with self._lock:
            if self._decoder is None:
                self._decoder = WhisperWindowDecoder(load_whisper(self.whisper), beam_size=self.settings.live_beam_size)
                speech_regions(np.zeros(SAMPLE_RATE, dtype=np.float32))  # loads the VAD model now, not mid-call
            return self._decoder


JOINED_WORDS = 400  # the "all customer turns together" candidate looks at the latest words only
CACHE_ITEMS = 512
_INTENT_LOCK = threading.Lock()  # one spaCy pipeline per process, shared by every session's thread


class TokenBucket:
    """At most `rate` events a second on average, bursts up to twice that."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate, self.capacity, self.clock = rate, rate * 2, clock
        self.tokens, self.at = self.capacity, clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class LiveSession:
    """One contact in progress: its turns so far, per-speaker transcribers and the last answer."""

    def __init__(
        self,
        session_id: str,
        resources: LiveResources,
        *,
        outcomes: OutcomeLookup = no_outcomes,
        clock: Callable[[], float] = time.monotonic,
        settings: Settings | None = None,
        analysis: Resources | None = None,  # the tenant's own intent model and routes (analyze.tenant_resources)
    ) -> None:
        self.session_id, self.resources, self.outcomes, self.clock = session_id, resources, outcomes, clock
        self.analysis = analysis or resources.analysis
        self.settings = settings or resources.settings
        self.silence_s = self.settings.live_silence_s  # a platform's call may end turns sooner (platform_silence_s)
        self.declared_channel = "chat"
        self.meta = ContactMeta()
        self.identity_verified = False
        self.text_turns: list[Turn] = []
        self.transcribers: dict[str, StreamingTranscriber] = {}
        self.upsamplers: dict[str, Upsampler] = {}
        self.started = clock()
        self.seq = 0
        self.events = 0
        self.dropped = 0
        self.ended = False
        self.last_answer: dict[str, Any] | None = None
        self.bucket = TokenBucket(self.settings.live_max_events_per_s, clock)
        self._predictions: dict[str, Any] = {}  # text -> IntentPrediction
        self._predicted_on = ""  # the channel the cached predictions were made for
        self._by_intent: dict[str | None, dict[str, list[float]]] = {}
        self._entities: dict[str, list[dict[str, str]]] = {}

    @property
    def elapsed_s(self) -> float:
        audio = max((t.stream_s for t in self.transcribers.values()), default=0.0)
        return max(self.clock() - self.started, audio)

    @property
    def channel(self) -> str:
        return "voice" if self.transcribers else self.declared_channel

    @property
    def intent_model(self) -> Any:
        """The tenant's intent model; on a call, with the fallback chosen for transcripts (`intent.heard`)."""
        return heard(self.analysis.intent_model) if self.channel == "voice" else self.analysis.intent_model

    def turns(self, *, partial: bool = True) -> list[Turn]:
        """Text turns and committed audio turns by time; with `partial`, each speaker's pending words too."""
        tracks = [self.text_turns, *(t.turns for t in self.transcribers.values())]
        if partial:
            tracks.append(
                [
                    Turn(speaker=t.speaker, start=t.pending[0].start, end=t.pending[-1].end, text=t.partial)  # type: ignore[arg-type]
                    for t in self.transcribers.values()
                    if t.pending
                ]
            )
        return merge_turns(tracks)

    # events

    def start(self, event: StartEvent) -> None:
        if self.seq or self.text_turns or self.transcribers:
            raise LiveInputError("`start` must be the first event of a session")
        self.declared_channel = event.channel
        self.identity_verified = event.identity_verified
        self.meta = ContactMeta.model_validate(event.model_dump())

    def add_turn(self, event: TurnEvent) -> None:
        if len(self.text_turns) >= self.settings.live_max_turns:
            raise LiveInputError(f"the session is over the limit of {self.settings.live_max_turns} turns")
        at = round(self.elapsed_s, 2)
        self.text_turns.append(Turn(speaker=event.speaker, start=at, end=at, text=event.text.strip()))

    def add_audio(self, event: AudioEvent) -> dict[str, Any]:
        """Decode, check and transcribe one chunk; returns the transcript part of the answer."""
        try:
            raw = base64.b64decode(event.pcm16, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise LiveInputError("audio.pcm16 is not valid base64") from exc
        if not raw or len(raw) % 2:
            raise LiveInputError("audio.pcm16 must hold 16-bit little-endian samples (an even, non-zero byte count)")
        seconds = len(raw) / 2 / event.sample_rate
        if seconds > self.settings.live_max_chunk_s:
            limit = self.settings.live_max_chunk_s
            raise LiveInputError(f"audio chunk of {seconds:.1f} s is over the limit of {limit:g} s")
        transcriber = self.transcribers.get(event.speaker)
        received = transcriber.stream_s if transcriber else 0.0
        allowed = (self.clock() - self.started) * self.settings.live_max_audio_speed + self.settings.live_max_chunk_s
        if received + seconds > allowed:
            raise LiveInputError(
                f"audio for {event.speaker} arrives faster than {self.settings.live_max_audio_speed:g}x real time: "
                "chunk dropped; send chunks as the call goes"
            )
        committed = self.hear(event.speaker, np.frombuffer(raw, dtype="<i2"), event.sample_rate)
        return self.transcript_update(committed, speaker=event.speaker)

    def hear(self, speaker: str, pcm16: np.ndarray, sample_rate: int) -> list[Turn]:
        """One speaker's next 16-bit samples (8 or 16 kHz) into its streaming transcriber; the turns it committed.
        Every way audio reaches a live session (this protocol's events, AudioHook, Twilio) comes through here."""
        samples = pcm16.astype(np.float32) / 32768.0
        if sample_rate == 8000:
            samples = self.upsamplers.setdefault(speaker, Upsampler())(samples)
        transcriber = self.transcribers.get(speaker)
        if transcriber is None:
            transcriber = self.transcribers[speaker] = StreamingTranscriber(
                self.resources.decoder,
                speaker=speaker,
                silence_s=self.silence_s,
                max_buffer_s=self.settings.live_max_buffer_s,
                keep_number_audio=self.resources.whisper.number_pass,
                low_cut_hz=self.resources.whisper.low_cut_hz,
            )
        return transcriber.feed(samples)

    def finish(self) -> dict[str, Any]:
        """End of contact: every pending hypothesis becomes final."""
        committed = [turn for t in self.transcribers.values() for turn in t.flush()]
        self.ended = True
        return self.transcript_update(committed, speaker=None)

    def hear_numbers(self) -> None:
        """The call's turns that may hold a spoken number heard again, primed for digits, as a posted call's are
        (`callscope.voice.number_pass`): what that hearing finds is redacted when the contact is stored."""
        if not any(t.number_audio for t in self.transcribers.values()):  # a chat, or no number said: no model needed
            return
        model = getattr(self.resources.decoder, "model", None)
        if model is None:  # a decoder that is not Whisper (tests)
            return
        kwargs = decode_kwargs(self.resources.whisper)
        for transcriber in self.transcribers.values():
            kept = transcriber.number_audio
            words = number_pass.hear_clips(model, [(audio, start) for _, audio, start in kept], kwargs)
            for (turn, _, _), digit_words in zip(kept, words, strict=True):
                turn.digit_words = digit_words
            transcriber.number_audio = []

    def transcript_update(self, committed: list[Turn], *, speaker: str | None) -> dict[str, Any]:
        """This step's committed text and every speaker's pending words, redacted like every returned turn."""
        return {
            "speaker": speaker,
            "committed": [{**t.model_dump(), "text": redacted(t.text)} for t in committed],
            "partial": {s: redacted(t.partial) for s, t in self.transcribers.items() if t.pending},
            "audio_s": {s: round(t.stream_s, 2) for s, t in self.transcribers.items()},
        }

    # analysis

    def intents(self, turns: Sequence[Turn]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """`interactions.analysis.contact_intents`' answer for the turns so far, and the top labels behind it.

        The same units and weighting as a posted contact (`callscope.intent.detect_intents`), so the live answer
        is the one the stored analysis will give; each distinct text is classified once per session.
        """
        texts = customer_texts(turns)
        if not texts:
            return {"label": None, "confidence": 0.0}, []
        with _INTENT_LOCK:
            units = intent_units(texts)
        if len(self._predictions) > CACHE_ITEMS:  # partial hypotheses and the growing joined text come and go
            self._predictions.clear()
        if self._predicted_on != self.channel:  # a chat that became a call: its texts answer with the calls' fallback
            self._predictions.clear()
            self._predicted_on = self.channel
        self._predict([text for _, text in units])
        unit_predictions = [self._predictions[text] for _, text in units]
        found = intents_from_predictions(units, unit_predictions)
        if found:
            best = max((p for p in unit_predictions if p.label == found[0].label), key=lambda p: p.confidence)
        else:  # no single unit is clear enough: the latest words together, asked only now (a new text each turn)
            joined = " ".join(" ".join(texts).split()[-JOINED_WORDS:])
            self._predict([joined])
            best = self._predictions[joined]
        top = getattr(best, "candidates", ()) or ((best.label, best.confidence),)  # models that give their top 3
        return (
            {"label": best.label, "confidence": round(float(best.confidence), 4)},
            [{"label": label, "confidence": round(float(p), 4)} for label, p in top],
        )

    def _predict(self, texts: Sequence[str]) -> None:
        """Classify the texts this session has not classified yet (each distinct text once)."""
        missing = [text for text in dict.fromkeys(texts) if text not in self._predictions]
        if missing:
            with _INTENT_LOCK:
                predictions = self.intent_model.predict(missing)
            self._predictions.update(zip(missing, predictions, strict=True))

    def handle_time(self, intent: str | None, queue: str) -> dict[str, Any]:
        """Predicted total (p50/p90) as posted contacts get it, minus the time elapsed (never below zero)."""
        if intent not in self._by_intent:
            self._by_intent[intent] = self.outcomes(intent)  # one database read per intent and session
        by_channel = self._by_intent[intent]
        analysis = self.analysis
        total = predict_handle_time(
            analysis.priors,
            channel=self.channel,
            queue=queue,
            intent=intent,
            same_channel=by_channel.get(self.channel, []),
            any_channel=[s for values in by_channel.values() for s in values],
            min_outcomes=analysis.min_outcomes,
        )
        elapsed = self.elapsed_s
        return {
            **total.model_dump(),
            "elapsed_s": round(elapsed, 1),
            "remaining_p50_s": round(max(0.0, total.p50_s - elapsed), 1),
            "remaining_p90_s": round(max(0.0, total.p90_s - elapsed), 1),
        }

    def entities(self, turns: Sequence[Turn]) -> list[dict[str, str]]:
        """Entities of the given turns, each turn's extracted once."""
        found: dict[tuple[str, str], None] = {}
        if len(self._entities) > CACHE_ITEMS:
            self._entities.clear()
        for turn in turns:
            if turn.text not in self._entities:
                self._entities[turn.text] = extract_entities(turn.text)
            for entity in self._entities[turn.text]:
                found.setdefault((entity["type"], entity["text"]), None)
        return [{"type": kind, "text": text} for kind, text in found]

    def summary(self, turns: Sequence[Turn]) -> dict[str, Any]:
        """The after-contact summary the stored analysis gives, on the redacted turns (sent once, at the end)."""
        said = [t.model_copy(update={"text": redacted(t.text)}) for t in turns]
        with _INTENT_LOCK:
            _, intents = contact_intents(self.intent_model, said)
        return summarize(said, intents=intents, entities=[])

    def answer(self, event: str) -> dict[str, Any]:
        """Intent(s), routing hint, remaining handling time, entities and suggestions for the contact so far."""
        turns = self.turns(partial=True)
        intent, intents = self.intents(turns)
        label, confidence = intent["label"], intent["confidence"]
        hint = route(self.analysis.routing_table, intent=label, confidence=confidence)
        customer = customer_texts(turns)
        entities = self.entities([t for t in turns if t.speaker in ("customer", "unknown")])
        suggestions = [
            *compliance.reminders(turns, intent=label, channel=self.channel, identity_verified=self.identity_verified),
            *suggest(
                self.resources.kb,
                intent=label,
                entities=[e["text"] for e in entities],
                text=" ".join(customer[-3:]),
                confidence=confidence,
            ),
        ]
        self.seq += 1
        summary = {"summary": self.summary(turns)} if self.ended else {}
        return {
            **summary,
            "type": "end" if self.ended else "update",
            "seq": self.seq,
            "event": event,
            "channel": self.channel,
            "turns": len(turns),
            "intent": intent,
            "intents": intents,
            "routing": hint.model_dump(),
            "handle_time": self.handle_time(label, hint.queue),
            "entities": entities,
            "suggestions": [s.model_dump(exclude_none=True) for s in suggestions],
        }


# Redaction runs spaCy NER, whose shared string store is not safe to grow from several threads at once (seen:
# "free(): invalid next size" when 50 sessions ended together); live sessions redact one at a time.
REDACT_LOCK = threading.Lock()


@lru_cache(maxsize=2048)
def redacted(text: str) -> str:
    """Transcripts leave the service redacted, like every other turn; each distinct text is redacted once."""
    from callscope.understanding.redact import redact

    if not text:
        return ""
    with REDACT_LOCK:
        return redact(text)


def handle_event(session: LiveSession, event: Any) -> dict[str, Any]:
    """Apply one parsed JSON event and answer it: an `update` (or `end`) message, or an `error` message."""
    started = time.perf_counter()
    session.events += 1
    kind = event.get("type") if isinstance(event, dict) else None
    kind = kind if isinstance(kind, str) else None
    try:
        if session.ended:
            raise LiveInputError("the session has ended", fatal=True)
        if not session.bucket.take():
            session.dropped += 1
            fatal = session.dropped >= session.settings.live_max_dropped_events
            raise LiveInputError(
                f"too many events: at most {session.settings.live_max_events_per_s:g} per second; event dropped"
                + ("; closing the session" if fatal else ""),
                fatal=fatal,
            )
        parsed = parse_event(event)
        transcript = None
        if isinstance(parsed, StartEvent):
            session.start(parsed)
        elif isinstance(parsed, TurnEvent):
            session.add_turn(parsed)
        elif isinstance(parsed, AudioEvent):
            transcript = session.add_audio(parsed)
        else:
            transcript = session.finish() if session.transcribers else None
            session.ended = True
    except LiveInputError as exc:
        return error_event(str(exc), event=kind, fatal=exc.fatal)
    answer = session.answer(parsed.type)
    if transcript is not None:
        answer["transcript"] = transcript
    answer["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    session.last_answer = answer
    return answer


def load_message(session: LiveSession, raw: str | bytes) -> tuple[Any, dict[str, Any] | None]:
    """One WebSocket message as JSON (bytes are read as UTF-8), or the error event that answers it."""
    if len(raw) > session.settings.live_max_message_bytes:
        session.events += 1
        return None, error_event(f"message over the limit of {session.settings.live_max_message_bytes} bytes")
    try:
        return load_json(raw), None
    except InvalidInput as exc:  # malformed, too deep, NaN, lone surrogates: this event is refused, the session goes on
        session.events += 1
        return None, error_event(str(exc))


def is_heavy(event: Any) -> bool:
    """Audio (Whisper) and the end (storage) take long: run them off the event loop; text turns are a few ms."""
    return isinstance(event, dict) and event.get("type") in ("audio", "end")


def handle_message(session: LiveSession, raw: str | bytes) -> dict[str, Any]:
    """One WebSocket message in, its answer out; malformed JSON is an error event, not a close."""
    event, error = load_message(session, raw)
    return error or handle_event(session, event)


def store_session(session: LiveSession, *, db: Any, tenant: str, send: Callable[[str, str], None]) -> dict[str, Any]:
    """Store the finished contact like a posted one (redacted turns, no audio) and queue its analysis."""
    from callscope.interactions import intake

    if not session.ended:
        session.finish()
    session.hear_numbers()
    turns = session.turns(partial=False)
    if not turns:
        return {"stored": False, "detail": "the session has no turns: nothing to store"}
    contact = {"tenant": tenant, "channel": session.channel, "meta": session.meta, "turns": turns}
    said = json.dumps([[t.speaker, t.text] for t in turns]).encode()
    with REDACT_LOCK:  # create_interaction redacts the turns
        try:  # a retried store of this session answers with the contact stored first
            row, created = intake.create_interaction(
                db,
                **contact,
                idempotency_key=session.session_id,
                key_namespace="live",
                request_hash=hashlib.sha256(said).hexdigest(),
            )
        except Conflict:  # the id was used by another call meanwhile: this call's turns are stored all the same
            db.rollback()
            row, created = intake.create_interaction(db, **contact)
    if created:
        row.duration_s = round(session.elapsed_s, 3)
        db.commit()
    if created or not row.enqueued:
        try:
            send("callscope.analyze", row.id)
            row.enqueued = True
            db.commit()
        except Exception as exc:  # broker down: the contact stays queued and the sweeper queues it later
            log.warning("broker unavailable, live contact %s stays queued: %s", row.id, exc.__class__.__name__)
    return {"stored": True, "interaction_id": row.id, "created": created, "queued": bool(row.enqueued)}
