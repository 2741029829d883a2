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
import json
import logging
import os
import re
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from callscope.contacts import ContactMeta, Speaker, Turn
from callscope.live.kb import KnowledgeBase, extract_entities, load_kb, suggest
from callscope.pipeline.analysis import OutcomeLookup, Resources, customer_texts, no_outcomes
from callscope.prediction.handletime import predict_handle_time
from callscope.prediction.routing import route
from callscope.settings import Settings
from callscope.understanding import compliance
from callscope.understanding.intent import intent_units, intents_from_predictions
from callscope.understanding.intent_components import torch_threads
from callscope.voice.transcribe import SAMPLE_RATE, WhisperOptions, load_whisper, merge_turns

log = logging.getLogger("callscope.live")
# Whisper runs here between other threads' work (text sessions, the event loop). CTranslate2's OpenMP threads
# spin after each call by default, and on a small machine the spinning starves the next decode (measured: p95
# 0.5 s -> 11 s for a 2 s chunk after 50 text sessions). Read when CTranslate2 loads, so set before that.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class LiveInputError(ValueError):
    """A bad event: answered with an error event; the session goes on unless `fatal`."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


# --- events -------------------------------------------------------------------------------------------------------


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


# --- streaming transcription ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    start: float  # seconds in the speaker's stream
    end: float
    text: str  # as Whisper spells it, with its leading space

    @property
    def key(self) -> str:
        """The word without case and punctuation: what two hypotheses must agree on."""
        return re.sub(r"[^\w']", "", self.text.lower())


class WindowDecoder(Protocol):
    def __call__(self, audio: np.ndarray, prompt: str) -> list[Word]: ...


class WhisperWindowDecoder:
    """Whisper on the buffered audio only: the encoder input is the buffer plus 1 s, not padded to 30 s.

    faster-whisper's `transcribe` always encodes a 30 s window; a 2-10 s buffer encodes 3-8x faster
    this way with the same text on our recordings (the `audio_ctx` trick of whisper.cpp). Greedy decoding,
    no timestamps tokens; word times come from the cross-attention alignment.
    """

    PAD_FRAMES = 100  # 1 s of silence after the audio
    MAX_FRAMES = 3000  # Whisper's 30 s window

    def __init__(self, model: Any, *, beam_size: int = 1) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model, self.beam_size = model, beam_size
        self.tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
        self.suppress = get_suppressed_tokens(self.tokenizer, [-1])

    def __call__(self, audio: np.ndarray, prompt: str = "") -> list[Word]:
        features = self.model.feature_extractor(audio)
        frames = min(features.shape[-1], self.MAX_FRAMES)
        width = min(frames + self.PAD_FRAMES, self.MAX_FRAMES)
        window = np.zeros((features.shape[0], width), dtype=features.dtype)
        window[:, :frames] = features[:, :frames]
        encoded = self.model.encode(window)
        previous = self.tokenizer.encode(" " + prompt.strip())[-100:] if prompt.strip() else []
        tokens_in = self.model.get_prompt(self.tokenizer, previous, without_timestamps=True)
        budget = int(audio.size / SAMPLE_RATE * 6) + 10  # fast speech is ~4 tokens a second: more is a loop
        result = self.model.model.generate(
            encoded,
            [tokens_in],
            beam_size=self.beam_size,
            max_length=min(len(tokens_in) + budget, self.model.max_length),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self.suppress,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < self.tokenizer.eot]
        text = self.tokenizer.decode(tokens).strip()
        if not text or result.no_speech_prob > 0.8:
            return []
        if len(text) > 20 and len(text.encode()) / len(zlib.compress(text.encode())) > 2.4:
            return []  # a repetition loop (Whisper's own compression-ratio test)
        words: list[Word] = []
        for w in self.model.find_alignment(self.tokenizer, [tokens], encoded, frames)[0]:
            text = w["word"]
            if words and not re.search(r"\w", text):  # punctuation belongs to the word before it
                words[-1] = Word(words[-1].start, words[-1].end, words[-1].text + text.strip())
            elif text.strip():
                words.append(Word(float(w["start"]), float(w["end"]), text))
        return words


class Upsampler:
    """8 kHz to 16 kHz by linear interpolation, carrying the last sample across chunks (no clicks at joins)."""

    def __init__(self) -> None:
        self.last: float | None = None

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        previous = samples[0] if self.last is None else self.last
        out = np.empty(samples.size * 2, dtype=np.float32)
        out[0::2] = (np.concatenate([[previous], samples[:-1]]) + samples) / 2
        out[1::2] = samples
        self.last = float(samples[-1])
        return out


def _speech_regions(audio: np.ndarray) -> list[tuple[float, float]]:
    """Silero VAD (as faster-whisper ships it) over a short piece: (start, end) seconds of speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=100, min_speech_duration_ms=150)
    return [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in get_speech_timestamps(audio, options)]


class StreamingTranscriber:
    """One speaker's incremental transcript: feed 16 kHz chunks, get committed words and the pending tail.

    Local agreement: a word is committed once two consecutive hypotheses over the growing buffer agree on
    it (up to it), or when the speaker falls silent for `silence_s`. Committed audio is then trimmed;
    committed text before the buffer is the decoder's prompt, for continuity.
    """

    VAD_CONTEXT_S = 0.5  # VAD looks at the new chunk plus this much before it
    TURN_GAP_S = 1.5  # a pause this long starts a new turn

    def __init__(
        self, decoder: WindowDecoder, *, speaker: str, silence_s: float = 0.8, max_buffer_s: float = 15.0
    ) -> None:
        self.decoder, self.speaker = decoder, speaker
        self.silence_s, self.max_buffer_s = silence_s, max_buffer_s
        self.buffer = np.zeros(0, dtype=np.float32)
        self.offset = 0.0  # stream time of buffer[0]
        self.committed: list[Word] = []
        self.pending: list[Word] = []  # the last hypothesis, beyond what is committed
        self.turns: list[Turn] = []
        self.last_speech_end: float | None = None
        self._turn_open = False
        self.decodes = 0

    @property
    def stream_s(self) -> float:
        return self.offset + self.buffer.size / SAMPLE_RATE

    @property
    def committed_end(self) -> float:
        return self.committed[-1].end if self.committed else 0.0

    @property
    def partial(self) -> str:
        return "".join(w.text for w in self.pending).strip()

    def feed(self, chunk: np.ndarray) -> list[Turn]:
        """Add audio; returns the committed text of this step as turn fragments (speaker, start, end, text)."""
        context = min(int(self.VAD_CONTEXT_S * SAMPLE_RATE), self.buffer.size)
        chunk_start = self.stream_s
        self.buffer = np.concatenate([self.buffer, chunk.astype(np.float32, copy=False)])
        regions = _speech_regions(self.buffer[self.buffer.size - chunk.size - context :])
        base = chunk_start - context / SAMPLE_RATE
        new_speech = [(base + a, base + b) for a, b in regions if base + b > chunk_start]
        if new_speech:
            self.last_speech_end = new_speech[-1][1]
        silence = self.stream_s - max(self.last_speech_end or 0.0, self.offset)
        if not new_speech:  # nothing new to decode: the last hypothesis already covers all the speech
            if self.pending:
                return self._commit(self.pending, closes_turn=True) if silence >= self.silence_s else []
            self._trim_to(max(self.committed_end, self.stream_s - self.VAD_CONTEXT_S))
            self._turn_open = self._turn_open and silence < self.silence_s
            return []
        hypothesis = self._decode()
        if silence >= self.silence_s:
            return self._commit(hypothesis, closes_turn=True)
        agreed = 0
        while agreed < min(len(hypothesis), len(self.pending)) and hypothesis[agreed].key == self.pending[agreed].key:
            agreed += 1
        done = self._commit(hypothesis[:agreed], closes_turn=False)
        self.pending = hypothesis[agreed:]
        if self.buffer.size / SAMPLE_RATE > self.max_buffer_s:  # keep Whisper's window short: drop committed audio
            self._trim_to(self.committed_end)
            if self.buffer.size / SAMPLE_RATE > self.max_buffer_s:  # one long unbroken stretch: commit it all
                done += self._commit(self.pending, closes_turn=False)
                self.pending = []
                self._trim_to(self.committed_end)
        return done

    def flush(self) -> list[Turn]:
        """End of stream: the last hypothesis is final."""
        return self._commit(self.pending, closes_turn=True) if self.pending else []

    def _decode(self) -> list[Word]:
        """Whisper on the buffer from the first speech on; words in stream time, minus what is committed already."""
        self.decodes += 1
        prompt = "".join(w.text for w in self.committed[-40:] if w.end <= self.offset)  # only text before the buffer
        words = [Word(self.offset + w.start, self.offset + w.end, w.text) for w in self.decoder(self.buffer, prompt)]
        cutoff = self.committed_end - 0.1
        words = [w for w in words if w.start > cutoff or w.end > self.committed_end + 0.2]
        if words and self.committed and abs(words[0].start - self.committed_end) < 1.0:
            for n in range(min(5, len(words), len(self.committed)), 0, -1):  # a committed n-gram said again
                if [w.key for w in self.committed[-n:]] == [w.key for w in words[:n]]:
                    words = words[n:]
                    break
        return words

    def _commit(self, words: Sequence[Word], *, closes_turn: bool) -> list[Turn]:
        fragments: list[Turn] = []
        for word in words:
            if not (self._turn_open and self.turns and word.start - self.turns[-1].end < self.TURN_GAP_S):
                self.turns.append(Turn(speaker=self.speaker, start=round(word.start, 2), end=0.0, text=""))  # type: ignore[arg-type]
                self._turn_open = True
            turn = self.turns[-1]
            turn.text = (turn.text + word.text).strip()
            turn.end = round(word.end, 2)
            if fragments and fragments[-1].start == turn.start:
                fragments[-1].text = (fragments[-1].text + word.text).strip()
                fragments[-1].end = turn.end
            else:
                fragments.append(Turn(speaker=self.speaker, start=turn.start, end=turn.end, text=word.text.strip()))  # type: ignore[arg-type]
        self.committed.extend(words)
        if closes_turn:
            self.pending = []
            self._turn_open = False
            self._trim_to(max(self.committed_end, self.stream_s - self.VAD_CONTEXT_S))
        return fragments

    def _trim_to(self, stream_time: float) -> None:
        drop = int((stream_time - self.offset) * SAMPLE_RATE)
        if drop > 0:
            drop = min(drop, self.buffer.size)
            self.buffer = self.buffer[drop:]
            self.offset += drop / SAMPLE_RATE


# --- the session ------------------------------------------------------------------------------------------------------


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
        from callscope.pipeline.jobs import whisper_options

        # Live texts come one turn at a time: one torch thread per call leaves the other core to the next
        # session (text p95 55 -> 40-49 ms at 50 sessions); bulk classification keeps torch's default.
        torch_threads(1)
        analysis = Resources.from_settings(settings)
        analysis.intent_model.predict([""])  # an unsure text: loads the sentence encoder now, not mid-call
        return cls(
            analysis=analysis,
            kb=load_kb(settings.kb_dir, settings.next_actions),
            whisper=whisper_options(settings),
            settings=settings,
        )

    @property
    def decoder(self) -> WindowDecoder:
        """The process's Whisper model (loaded once, on the first audio) behind a window decoder."""
        with self._lock:
            if self._decoder is None:
                self._decoder = WhisperWindowDecoder(load_whisper(self.whisper), beam_size=self.settings.live_beam_size)
                _speech_regions(np.zeros(SAMPLE_RATE, dtype=np.float32))  # loads the VAD model now, not mid-call
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
    ) -> None:
        self.session_id, self.resources, self.outcomes, self.clock = session_id, resources, outcomes, clock
        self.settings = settings or resources.settings
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
        self._by_intent: dict[str | None, dict[str, list[float]]] = {}
        self._entities: dict[str, list[dict[str, str]]] = {}

    @property
    def elapsed_s(self) -> float:
        audio = max((t.stream_s for t in self.transcribers.values()), default=0.0)
        return max(self.clock() - self.started, audio)

    @property
    def channel(self) -> str:
        return "voice" if self.transcribers else self.declared_channel

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
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        if event.sample_rate == 8000:
            samples = self.upsamplers.setdefault(event.speaker, Upsampler())(samples)
        if transcriber is None:
            transcriber = self.transcribers[event.speaker] = StreamingTranscriber(
                self.resources.decoder,
                speaker=event.speaker,
                silence_s=self.settings.live_silence_s,
                max_buffer_s=self.settings.live_max_buffer_s,
            )
        committed = transcriber.feed(samples)
        return self.transcript_update(committed, speaker=event.speaker)

    def finish(self) -> dict[str, Any]:
        """End of contact: every pending hypothesis becomes final."""
        committed = [turn for t in self.transcribers.values() for turn in t.flush()]
        self.ended = True
        return self.transcript_update(committed, speaker=None)

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
        """`pipeline.contact_intent`'s answer for the turns so far, and the top labels behind it.

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
                predictions = self.resources.analysis.intent_model.predict(missing)
            self._predictions.update(zip(missing, predictions, strict=True))

    def handle_time(self, intent: str | None, queue: str) -> dict[str, Any]:
        """Predicted total (p50/p90) as posted contacts get it, minus the time elapsed (never below zero)."""
        if intent not in self._by_intent:
            self._by_intent[intent] = self.outcomes(intent)  # one database read per intent and session
        by_channel = self._by_intent[intent]
        analysis = self.resources.analysis
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

    def answer(self, event: str) -> dict[str, Any]:
        """Intent(s), routing hint, remaining handling time, entities and suggestions for the contact so far."""
        turns = self.turns(partial=True)
        intent, intents = self.intents(turns)
        label, confidence = intent["label"], intent["confidence"]
        hint = route(self.resources.analysis.routing_table, intent=label, confidence=confidence)
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
        return {
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
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError) as exc:
        session.events += 1
        return None, error_event(f"malformed JSON: {exc}")


def is_heavy(event: Any) -> bool:
    """Audio (Whisper) and the end (storage) take long: run them off the event loop; text turns are a few ms."""
    return isinstance(event, dict) and event.get("type") in ("audio", "end")


def handle_message(session: LiveSession, raw: str | bytes) -> dict[str, Any]:
    """One WebSocket message in, its answer out; malformed JSON is an error event, not a close."""
    event, error = load_message(session, raw)
    return error or handle_event(session, event)


def store_session(session: LiveSession, *, db: Any, tenant: str, send: Callable[[str, str], None]) -> dict[str, Any]:
    """Store the finished contact like a posted one (redacted turns, no audio) and queue its analysis."""
    from callscope.storage import store

    if not session.ended:
        session.finish()
    turns = session.turns(partial=False)
    if not turns:
        return {"stored": False, "detail": "the session has no turns: nothing to store"}
    with REDACT_LOCK:  # create_interaction redacts the turns
        row, created = store.create_interaction(
            db,
            tenant=tenant,
            channel=session.channel,
            meta=session.meta,
            idempotency_key=f"live:{session.session_id}",
            turns=turns,
        )
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
