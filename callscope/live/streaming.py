"""Incremental transcription of a live audio stream (the whisper_streaming pattern: buffer, VAD, commit what two
consecutive hypotheses agree on or what silence ended, trim the committed audio)."""

from __future__ import annotations

import logging
import os
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from callscope.contacts import Turn
from callscope.voice.number_pass import PAD_S, may_hold_number
from callscope.voice.speech_band import LowCut
from callscope.voice.transcribe import SAMPLE_RATE

log = logging.getLogger("callscope.live")
# Whisper runs here between other threads' work (text sessions, the event loop). CTranslate2's OpenMP threads
# spin after each call by default, and on a small machine the spinning starves the next decode (measured: p95
# 0.5 s -> 11 s for a 2 s chunk after 50 text sessions). Read when CTranslate2 loads, so set before that.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass(frozen=True)
class Word:
    start: float  # seconds in the speaker's stream
    end: float
    text: str  # as Whisper spells it, with its leading space
    probability: float = 1.0  # the decoder's probability of the word's tokens (0-1)

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
        looped = len(text) > 20 and len(text.encode()) / len(zlib.compress(text.encode())) > 2.4
        words: list[Word] = []
        for w in self.model.find_alignment(self.tokenizer, [tokens], encoded, frames)[0]:
            text = w["word"]
            if words and not re.search(r"\w", text):  # punctuation belongs to the word before it
                words[-1] = Word(words[-1].start, words[-1].end, words[-1].text + text.strip(), words[-1].probability)
            elif text.strip():
                words.append(Word(float(w["start"]), float(w["end"]), text, float(w.get("probability", 1.0))))
        return before_repetition(words, shortest=2 if looped else 3)


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


def speech_regions(audio: np.ndarray) -> list[tuple[float, float]]:
    """Silero VAD (as faster-whisper ships it) over a short piece: (start, end) seconds of speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=100, min_speech_duration_ms=150)
    return [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in get_speech_timestamps(audio, options)]


def before_repetition(words: Sequence[Word], *, shortest: int) -> list[Word]:
    """The words before a repetition loop: a short window that ends in silence often comes back as its phrase said
    again and again ("regarding my order. Regarding my order. Regarding my"). The phrase was heard once; the loop
    starts where a phrase of `shortest` or more words follows itself (2 once Whisper's compression-ratio test has
    flagged a loop, else 3: people do say "thank you, thank you")."""
    keys = [w.key for w in words]
    for j in range(shortest, len(keys)):
        for n in range(min(j, len(keys) - j), shortest - 1, -1):
            if keys[j : j + n] == keys[j - n : j]:
                return list(words[:j])
    return [] if shortest == 2 else list(words)  # a flagged loop with no phrase said twice: nothing to trust


def tight_speech_regions(audio: np.ndarray) -> list[tuple[float, float]]:
    """Speech with almost no padding and split at short pauses: where words may begin and end."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=100, speech_pad_ms=30, min_speech_duration_ms=100)
    return [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in get_speech_timestamps(audio, options)]


def snap_to_speech(words: Sequence[Word], regions: Sequence[tuple[float, float]]) -> list[Word]:
    """Word edges moved out of silence into the speech they belong to.

    Whisper's cross-attention timings drift at the edges of speech: the first word after a silence can start
    seconds early, the last one of a short window end late, over the pause and into the next phrase. A start in
    silence moves to the next speech onset within the word; the end to the end of the stretch of speech the word
    starts in (a pause of 100 ms ends a stretch); a word with no speech under it is left as it is."""
    snapped = []
    for word in words:
        inside = [(a, b) for a, b in regions if b > word.start and a < word.end]
        if not inside:
            snapped.append(word)
            continue
        start = max(word.start, inside[0][0])
        end = min(word.end, inside[0][1])
        snapped.append(Word(start, max(start, end), word.text, word.probability))
    return snapped


class StreamingTranscriber:
    """One speaker's incremental transcript: feed 16 kHz chunks, get committed words and the pending tail.

    Local agreement: a word is committed once two consecutive hypotheses over the growing buffer agree on
    it (up to it), or when the speaker falls silent for `silence_s`. Committed audio is then trimmed;
    committed text before the buffer is the decoder's prompt, for continuity.
    """

    VAD_CONTEXT_S = 0.5  # VAD looks at the new chunk plus this much before it
    TURN_GAP_S = 1.5  # a pause this long starts a new turn
    NUMBER_AUDIO_S = 300.0  # audio kept per speaker for the number pass at most: a long or hostile stream stays small

    def __init__(
        self,
        decoder: WindowDecoder,
        *,
        speaker: str,
        silence_s: float = 0.8,
        max_buffer_s: float = 15.0,
        keep_number_audio: bool = False,
        low_cut_hz: float = 0.0,
    ) -> None:
        self.decoder, self.speaker = decoder, speaker
        self.low_cut = LowCut(low_cut_hz)  # as a recording's channels are heard (callscope.voice.speech_band)
        self.silence_s, self.max_buffer_s = silence_s, max_buffer_s
        self.keep_number_audio = keep_number_audio
        # (turn, its audio, the audio's start): turns that may hold a spoken number, for the number pass at the end
        self.number_audio: list[tuple[Turn, np.ndarray, float]] = []
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
    def in_turn(self) -> bool:
        """Words are pending, or the speaker's last words were committed without a silence closing the turn."""
        return bool(self.pending) or self._turn_open

    @property
    def partial(self) -> str:
        return "".join(w.text for w in self.pending).strip()

    def feed(self, chunk: np.ndarray) -> list[Turn]:
        """Add audio; returns the committed text of this step as turn fragments (speaker, start, end, text)."""
        context = min(int(self.VAD_CONTEXT_S * SAMPLE_RATE), self.buffer.size)
        chunk_start = self.stream_s
        chunk = self.low_cut(chunk)
        self.buffer = np.concatenate([self.buffer, chunk])
        regions = speech_regions(self.buffer[self.buffer.size - chunk.size - context :])
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
        words = [
            Word(self.offset + w.start, self.offset + w.end, w.text, w.probability)
            for w in self.decoder(self.buffer, prompt)
        ]
        cutoff = self.committed_end - 0.1
        words = [w for w in words if w.start > cutoff or w.end > self.committed_end + 0.2]
        if words and self.committed and abs(words[0].start - self.committed_end) < 1.0:
            for n in range(min(5, len(words), len(self.committed)), 0, -1):  # a committed n-gram said again
                if [w.key for w in self.committed[-n:]] == [w.key for w in words[:n]]:
                    words = words[n:]
                    break
        if not words:
            return words
        regions = [(self.offset + a, self.offset + b) for a, b in tight_speech_regions(self.buffer)]
        return snap_to_speech(words, regions)

    def _commit(self, words: Sequence[Word], *, closes_turn: bool) -> list[Turn]:
        fragments: list[Turn] = []
        for word in words:
            if not (self._turn_open and self.turns and word.start - self.turns[-1].end < self.TURN_GAP_S):
                self.turns.append(Turn(speaker=self.speaker, start=round(word.start, 2), end=0.0, text=""))  # type: ignore[arg-type]
                self._turn_open = True
            turn = self.turns[-1]
            turn.text = (turn.text + word.text).strip()
            turn.end = round(word.end, 2)
            turn.words.append((word.start, word.end, word.text))
            if fragments and fragments[-1].start == turn.start:
                fragments[-1].text = (fragments[-1].text + word.text).strip()
                fragments[-1].end = turn.end
            else:
                fragments.append(Turn(speaker=self.speaker, start=turn.start, end=turn.end, text=word.text.strip()))  # type: ignore[arg-type]
        self.committed.extend(words)
        if closes_turn and self.turns and self.keep_number_audio and may_hold_number(self.turns[-1].text):
            self._keep_audio(self.turns[-1])
        if closes_turn:
            self.pending = []
            self._turn_open = False
            self._trim_to(max(self.committed_end, self.stream_s - self.VAD_CONTEXT_S))
        return fragments

    def _keep_audio(self, turn: Turn) -> None:
        """The closing turn's audio, still in the buffer, kept for the number pass (as much as is left of it)."""
        first = max(self.offset, turn.start - PAD_S)
        lo, hi = (int((t - self.offset) * SAMPLE_RATE) for t in (first, turn.end + PAD_S))
        clip = self.buffer[lo:hi]
        kept = sum(audio.size for _, audio, _ in self.number_audio)
        if clip.size and kept + clip.size <= self.NUMBER_AUDIO_S * SAMPLE_RATE:
            self.number_audio.append((turn, clip.copy(), first))

    def _trim_to(self, stream_time: float) -> None:
        drop = int((stream_time - self.offset) * SAMPLE_RATE)
        if drop > 0:
            drop = min(drop, self.buffer.size)
            self.buffer = self.buffer[drop:]
            self.offset += drop / SAMPLE_RATE
