"""Two speakers on one channel: who said each word of a mono recording, offline on CPU.

Voices are told apart by Resemblyzer's pretrained speaker encoder (GE2E: a 3-layer LSTM over 40-band mel
frames, 256-d embeddings; Apache-2.0). Its weights (17 MB) ship inside the `resemblyzer` wheel and are read
from there: nothing is downloaded. Only the weights file is used: importing the `resemblyzer` package itself
fails with current setuptools (its `webrtcvad` dependency imports the removed `pkg_resources`), so the encoder
and its mel front end are written out here as in Resemblyzer (`VoiceEncoder`, `wav_to_mel_spectrogram`).

How: the speech that Whisper heard (its word timestamps, gaps under 0.3 s bridged) is cut into 1.6 s windows
with 50% overlap (the encoder's own partial-utterance length and rate); each window gets an embedding; the
embeddings, centred on their mean, are split into two groups by k-means; every word takes the side of the
windows around it, and a transcribed segment is split where the speaker changes.

One voice or two: two groups are always found, so the decision rests on how alike the groups' mean
embeddings are. On the real recordings measured (bench/RESULTS.md) one speaker's two groups scored 0.866-0.918
(wideband) and 0.914-0.922 (narrowband: nothing above 4 kHz), two speakers 0.63-0.78 and 0.69-0.90: at or over
`ONE_VOICE_SIMILARITY` (by bandwidth) the recording stays one speaker, and so does one with under 12 windows
(about 10 s of speech). Phone-band audio makes all voices more alike, so two similar voices on a phone line can
be left as one; that is the safe failure (the turns stay "unknown", as before).

torch is imported on first use (about 2 s and 200 MB once per process): a process that never diarizes never
pays for it.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from callscope.contacts import Turn
from callscope.errors import CallscopeError
from callscope.voice import roles

SAMPLE_RATE = 16_000
N_FFT, HOP, N_MELS = 400, 160, 40  # 25 ms windows, 10 ms hop: the encoder's front end
WINDOW_FRAMES, WINDOW_STEP = 160, 80  # 1.6 s windows every 0.8 s
MIN_WINDOW_FRAMES = 30  # speech regions under 0.3 s are not embedded on their own
BRIDGE_FRAMES = 30  # word gaps under 0.3 s belong to one speech region
MIN_WINDOWS = 12  # under 12 windows (about 10 s of speech) a recording is left as one speaker
ONE_VOICE_SIMILARITY = {"wideband": 0.83, "narrowband": 0.9}  # between the one- and two-voice figures measured
Word = tuple[float, float, str]  # start, end, text (with its leading space, as Whisper gives it)
_lock = threading.Lock()


class DiarizationError(CallscopeError):
    """The speaker encoder's weights are missing (the `resemblyzer` package is not installed)."""


@dataclass(frozen=True)
class Diarization:
    speakers: int  # 1: one voice (nothing relabelled), 2: two voices
    confidence: float  # 0.5 (a coin toss) .. 1.0
    similarity: float | None  # cosine similarity of the two groups' mean voice embeddings
    bandwidth: str  # "wideband" or "narrowband" (nothing above 4 kHz: a phone line)
    word_speakers: list[list[int]]  # per turn, per word: 0 = the voice heard first, 1 = the other
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"speakers": self.speakers, "confidence": self.confidence, "similarity": self.similarity,
                "bandwidth": self.bandwidth, "reason": self.reason,
                "method": "resemblyzer voice embeddings, 1.6 s windows, 2-means"}  # fmt: skip


def weights_path() -> Path:
    """`pretrained.pt` inside the installed `resemblyzer` package, found without importing the package."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise DiarizationError("speaker separation needs the `resemblyzer` package (pip install resemblyzer==0.1.4)")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.exists():
        raise DiarizationError(f"the speaker encoder's weights are missing: {path}")
    return path


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney mel scale, area-normalized triangles."""

    def hz_to_mel(hz: Any) -> Any:
        hz = np.asarray(hz, dtype=np.float64)
        log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log, hz / (200.0 / 3))

    def mel_to_hz(mel: Any) -> Any:
        return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))

    fft_freqs = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / np.diff(edges)[:-1, None]
    upper = ramps[2:] / np.diff(edges)[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_frames(audio: np.ndarray, *, chunk: int = 6000) -> np.ndarray:
    """Mel power spectrogram (frames, 40), frame i centred at i * 10 ms, as librosa's melspectrogram computes it."""
    padded = np.pad(np.asarray(audio, dtype=np.float32), N_FFT // 2)
    count = max(0, 1 + (padded.size - N_FFT) // HOP)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
    out = np.zeros((count, N_MELS), dtype=np.float32)
    step = padded.strides[0]
    for first in range(0, count, chunk):  # bounded memory for hour-long recordings
        n = min(chunk, count - first)
        frames = np.lib.stride_tricks.as_strided(padded[first * HOP :], (n, N_FFT), (step * HOP, step))
        power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
        out[first : first + n] = power.astype(np.float32) @ mel_filters().T
    return out


def normalize_volume(audio: np.ndarray, target_dbfs: float = -30.0) -> np.ndarray:
    """Raise quiet audio to -30 dBFS RMS (never lower it), as the encoder's training audio was."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    if rms <= 1e-9 or 20 * np.log10(rms) >= target_dbfs:
        return audio
    return (audio * 10 ** ((target_dbfs - 20 * np.log10(rms)) / 20)).astype(np.float32)


@lru_cache(maxsize=1)
def _encoder() -> Any:
    import torch  # only here: importing callscope.voice.diarize costs nothing until a recording is diarized

    class VoiceEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(N_MELS, 256, 3, batch_first=True)
            self.linear = torch.nn.Linear(256, 256)

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-9)

    state = torch.load(weights_path(), map_location="cpu", weights_only=True)["model_state"]
    model = VoiceEncoder()
    model.load_state_dict({k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))})
    return model.eval()


def embed(windows: Sequence[np.ndarray]) -> np.ndarray:
    """One unit-length 256-d voice embedding per mel window (windows of one length are batched)."""
    import torch

    model = _encoder()
    out = np.zeros((len(windows), 256), dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, window in enumerate(windows):
        by_length.setdefault(len(window), []).append(i)
    with _lock, torch.inference_mode():
        for indices in by_length.values():
            for first in range(0, len(indices), 64):
                batch = indices[first : first + 64]
                out[batch] = model(torch.from_numpy(np.stack([windows[i] for i in batch]))).numpy()
    return out


def speech_windows(n_frames: int, words: Sequence[Word]) -> list[tuple[int, int]]:
    """(first, last) frames of 1.6 s windows over the speech regions the words span."""
    regions: list[list[int]] = []
    for start, end, _ in sorted(words):
        first, last = int(start * 100), min(n_frames, int(np.ceil(end * 100)))
        if regions and first - regions[-1][1] < BRIDGE_FRAMES:
            regions[-1][1] = max(regions[-1][1], last)
        elif last > first:
            regions.append([first, last])
    spans = []
    for first, last in regions:
        if last - first < MIN_WINDOW_FRAMES:
            continue
        if last - first <= WINDOW_FRAMES:
            spans.append((first, last))
            continue
        starts = list(range(first, last - WINDOW_FRAMES + 1, WINDOW_STEP))
        if starts[-1] + WINDOW_FRAMES < last:
            starts.append(last - WINDOW_FRAMES)
        spans += [(s, s + WINDOW_FRAMES) for s in starts]
    return spans


def is_narrowband(mel: np.ndarray) -> bool:
    """True when the audio has (almost) nothing above 4 kHz: it came through a phone line or an 8 kHz file."""
    total = float(mel.sum())
    return total > 0 and float(mel[:, 31:].sum()) / total < 1e-3  # bands 31+ sit above about 4 kHz


def diarize(audio: np.ndarray, words_per_turn: Sequence[Sequence[Word]]) -> Diarization:
    """Which of two voices said each word (0: the voice heard first); one voice when they sound alike."""
    from sklearn.cluster import KMeans

    mel = mel_frames(normalize_volume(audio))
    band = "narrowband" if is_narrowband(mel) else "wideband"
    flat = [w for turn in words_per_turn for w in turn]
    same = [[0] * len(turn) for turn in words_per_turn]
    spans = speech_windows(len(mel), flat)
    if len(spans) < MIN_WINDOWS:
        return Diarization(1, 0.5, None, band, same, f"too little speech to tell voices apart ({len(spans)} windows)")
    vectors = embed([mel[a:b] for a, b in spans])
    weights = np.array([b - a for a, b in spans], dtype=np.float64)
    centre = np.average(vectors, axis=0, weights=weights)
    centred = vectors - centre
    centred /= np.linalg.norm(centred, axis=1, keepdims=True).clip(1e-9)
    kmeans = KMeans(2, n_init=10, random_state=0).fit(centred, sample_weight=weights)
    labels = kmeans.labels_
    if len(set(labels)) < 2:
        return Diarization(1, 1.0, 1.0, band, same, "all speech sounds like one voice")
    means = np.stack([np.average(vectors[labels == k], axis=0, weights=weights[labels == k]) for k in (0, 1)])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    similarity = float(means[0] @ means[1])
    threshold = ONE_VOICE_SIMILARITY[band]
    if similarity >= threshold:
        confidence = 0.5 + 0.5 * min(1.0, (similarity - threshold) / 0.05)
        return Diarization(1, round(confidence, 3), round(similarity, 3), band, same, "the two groups sound alike")
    # each word takes the side of the windows around it (nearer windows count more); > 0: voice 0
    distances = kmeans.transform(centred)
    score = distances[:, 1] - distances[:, 0]
    typical = float(np.median(np.abs(score))) or 1.0
    middles = np.array([(a + b) / 2 for a, b in spans])
    first_frames = np.array([a for a, _ in spans])
    last_frames = np.array([b for _, b in spans])
    word_scores = []
    for start, end, _ in flat:
        at = (start + end) / 2 * 100
        cover = (first_frames <= at) & (last_frames >= at)
        if not cover.any():
            cover = np.abs(middles - at) == np.abs(middles - at).min()
        near = 1.0 / (1.0 + np.abs(middles[cover] - at) / 50)
        word_scores.append(float(np.sum(score[cover] * near) / np.sum(near)))
    sides = (np.asarray(word_scores) < 0).astype(int)  # 0: voice 0
    first_side = int(sides[int(np.argmin([w[0] for w in flat]))]) if flat else 0
    flat_speakers = [int(s != first_side) for s in sides]
    per_turn, i = [], 0
    for turn in words_per_turn:
        per_turn.append(flat_speakers[i : i + len(turn)])
        i += len(turn)
    separation = min(1.0, (threshold - similarity) / 0.1)
    clarity = float(np.mean(np.minimum(1.0, np.abs(word_scores) / typical))) if word_scores else 0.0
    confidence = round(0.5 + 0.5 * separation * clarity, 3)
    return Diarization(2, confidence, round(similarity, 3), band, per_turn, "two voices")


def split_turn(turn: Turn, words: Sequence[Word], speakers: Sequence[int]) -> list[tuple[int, Turn]]:
    """A transcribed segment cut where the speaker changes: (speaker, turn) for each run of words."""
    if not words:
        return [(0, turn)]
    runs: list[tuple[int, list[Word]]] = []
    for word, speaker in zip(words, speakers, strict=True):
        if runs and runs[-1][0] == speaker:
            runs[-1][1].append(word)
        else:
            runs.append((speaker, [word]))
    if len(runs) == 1:
        return [(runs[0][0], turn)]
    pieces = []
    for speaker, run in runs:
        text = "".join(w[2] for w in run).strip()
        if text:
            update = {"start": round(run[0][0], 3), "end": round(run[-1][1], 3), "text": text, "words": run}
            piece = turn.model_copy(update=update)
            pieces.append((speaker, piece))
    return pieces


def assign_speakers(
    audio: np.ndarray, turns: list[Turn], words_per_turn: Sequence[Sequence[Word]]
) -> tuple[list[Turn], dict[str, Any]]:
    """A mono recording's turns as agent and customer when two voices are heard; else left as they are.

    `words_per_turn` holds the word timings of each turn (Whisper's word timestamps). Returns the turns (split
    where the speaker changes inside one) and what was decided: speakers, confidence, roles.
    """
    found = diarize(audio, words_per_turn)
    info = found.as_json()
    if found.speakers < 2:
        return turns, info
    pieces = [p for turn, words, speakers in zip(turns, words_per_turn, found.word_speakers, strict=True)
              for p in split_turn(turn, words, speakers)]  # fmt: skip
    texts = [[t.text for s, t in pieces if s == k] for k in (0, 1)]
    made = roles.decide(texts[0], texts[1], left_first=True)  # "left" stands for the voice heard first
    agent = 0 if made.agent_channel == "left" else 1
    voices = {"left:": "first voice:", "right:": "second voice:"}
    info["roles"] = {
        "agent_voice": "first" if agent == 0 else "second",
        "confidence": made.confidence,
        "method": made.method,
        "reasons": [voices[r.split()[0]] + r[r.index(" ") :] for r in made.reasons],
    }
    labelled = [t.model_copy(update={"speaker": "agent" if s == agent else "customer"}) for s, t in pieces]
    return labelled, info
