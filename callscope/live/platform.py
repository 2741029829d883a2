"""A call streamed by a contact-center platform (Genesys AudioHook, Twilio Media Streams), whatever its protocol.

The protocol adapters decode frames into 8 kHz 16-bit samples per speaker and hand them here: the audio is
spooled to disk as it arrives (the stored contact's recording), heard by the live session's streaming transcribers
(`LiveSession.hear`, the same path as `/v1/live`), and the committed words grouped into utterances: what a
platform shows as one line of transcript. When the call ends it is posted like a recorded call
(`interactions.intake`), so it is transcribed, redacted and analyzed like one.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from callscope.contacts import load_json
from callscope.errors import InvalidInput
from callscope.live.session import LiveSession
from callscope.live.streaming import Word

RATE = 8000
SPEAKERS = ("customer", "agent")  # the recording's left and right channels
UTTERANCE_GAP_S = 0.35  # a pause this long between two committed words ends an utterance


class CallRecorder:
    """The call's audio as it arrives, a raw file per speaker (an hour-long call is not held in memory); at the end,
    one WAV: stereo (left the customer, right the agent) when both spoke, else mono. Audio the platform did not send
    (paused, discarded) is silence at its place, so the recording keeps the call's timeline."""

    def __init__(self, *, max_seconds: float, directory: str | None = None) -> None:
        self.max_samples = int(max_seconds * RATE)
        self.dir = Path(tempfile.mkdtemp(prefix="callscope-call-", dir=directory))
        self.files: dict[str, IO[bytes]] = {}
        self.samples: dict[str, int] = {}
        self.truncated = False

    @property
    def seconds(self) -> float:
        return max(self.samples.values(), default=0) / RATE

    def write(self, speaker: str, pcm16: np.ndarray, *, at_s: float | None = None) -> None:
        """Append a speaker's samples; `at_s`: where they belong on the call's timeline (silence fills a gap)."""
        if speaker not in SPEAKERS:
            raise ValueError(f"unknown speaker {speaker!r}")
        if speaker not in self.files:
            self.files[speaker] = open(self.dir / f"{speaker}.raw", "wb")  # noqa: SIM115 - closed in close()
            self.samples[speaker] = 0
        gap = max(0, int(round(at_s * RATE)) - self.samples[speaker]) if at_s is not None else 0
        room = self.max_samples - self.samples[speaker]
        if gap + pcm16.size > room:
            self.truncated = True
        pieces = [np.zeros(min(gap, room), dtype="<i2"), pcm16.astype("<i2", copy=False)[: max(0, room - gap)]]
        for piece in pieces:
            if piece.size:
                self.files[speaker].write(piece.tobytes())
                self.samples[speaker] += piece.size

    def wav(self) -> IO[bytes] | None:
        """The recording as a WAV file opened for reading (None when nothing was heard); deleted by `close`."""
        import wave

        speakers = [s for s in SPEAKERS if self.samples.get(s)]
        if not speakers:
            return None
        for f in self.files.values():
            f.flush()
        total = max(self.samples[s] for s in speakers)
        path = self.dir / "call.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(len(speakers))
            out.setsampwidth(2)
            out.setframerate(RATE)
            step = RATE * 10
            for start in range(0, total, step):
                block = np.zeros((min(step, total - start), len(speakers)), dtype="<i2")
                for column, speaker in enumerate(speakers):
                    have = np.fromfile(self.dir / f"{speaker}.raw", dtype="<i2", count=block.shape[0], offset=start * 2)
                    block[: have.size, column] = have
                out.writeframes(block.tobytes())
        return open(path, "rb")  # noqa: SIM115 - the caller reads it, close() removes it

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        for item in self.dir.iterdir():
            item.unlink(missing_ok=True)
        os.rmdir(self.dir)


@dataclass
class Utterance:
    speaker: str
    words: list[Word] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end

    @property
    def text(self) -> str:
        return "".join(w.text for w in self.words).strip()

    @property
    def confidence(self) -> float:
        return round(float(np.mean([w.probability for w in self.words])), 3)


class PlatformCall:
    """The live session of a platform's call: audio per speaker in, finished utterances out."""

    def __init__(self, live: LiveSession, recorder: CallRecorder) -> None:
        self.live, self.recorder = live, recorder
        self._seen: dict[str, int] = {}
        self._open: dict[str, Utterance] = {}

    def hear(self, audio: dict[str, np.ndarray]) -> list[Utterance]:
        """8 kHz samples per speaker (already recorded) into the transcribers; the utterances they finished."""
        for speaker, pcm16 in audio.items():
            if pcm16.size:
                self.live.hear(speaker, pcm16, RATE)
        return self._utterances(closing=False)

    def flush(self) -> list[Utterance]:
        """Every pending word final (the stream pauses, changes language or ends): the utterances it closes."""
        for transcriber in self.live.transcribers.values():
            transcriber.flush()
        return self._utterances(closing=True)

    def _utterances(self, *, closing: bool) -> list[Utterance]:
        done: list[Utterance] = []
        for speaker, transcriber in self.live.transcribers.items():
            new = transcriber.committed[self._seen.get(speaker, 0) :]
            self._seen[speaker] = len(transcriber.committed)
            current = self._open.get(speaker) or Utterance(speaker)
            for word in new:
                if current.words and word.start - current.end >= UTTERANCE_GAP_S:
                    done.append(current)
                    current = Utterance(speaker)
                current.words.append(word)
            if current.words and (closing or not transcriber.in_turn):
                done.append(current)
                current = Utterance(speaker)
            self._open[speaker] = current
        return sorted(done, key=lambda u: u.start)


def load_message(raw: str, *, max_chars: int, error: type[ValueError]) -> dict[str, Any]:
    """A platform's text message as a JSON object, or `error` saying why not (too long, malformed, too deep, NaN,
    lone surrogates, not an object)."""
    if len(raw) > max_chars:  # before parsing: a huge message costs nothing
        raise error(f"message over {max_chars} characters")
    try:
        message = load_json(raw)
    except InvalidInput as exc:
        raise error(str(exc)) from exc
    if not isinstance(message, dict):
        raise error("a message must be a JSON object")
    return message


def redacted_words(words: Sequence[Word], redact: Callable[[str], str]) -> tuple[str, list[tuple[float, float, str]]]:
    """The utterance's redacted text and its tokens with times: a placeholder takes the span of the words it
    replaced, so no digit of a card leaves in a token while every token keeps its place on the timeline."""
    said = "".join(w.text for w in words).strip()
    text = redact(said)
    tokens = text.split()
    spoken = [w.text.strip() for w in words]
    if tokens == spoken:
        return text, [(w.start, w.end, w.text.strip()) for w in words]
    out: list[tuple[float, float, str]] = []
    matcher = difflib.SequenceMatcher(a=spoken, b=tokens, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            out += [(words[a0 + i].start, words[a0 + i].end, tokens[b0 + i]) for i in range(b1 - b0)]
        elif b1 > b0:  # replaced (or inserted beside a neighbour): share the replaced words' span
            start = words[a0].start if a1 > a0 else (out[-1][1] if out else words[0].start)
            end = words[a1 - 1].end if a1 > a0 else start
            step = (end - start) / (b1 - b0)
            out += [(start + i * step, start + (i + 1) * step, tokens[b0 + i]) for i in range(b1 - b0)]
    return text, out
