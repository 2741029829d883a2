"""Calls spoken by espeak-ng (Debian's package, which `make test` installs), encoded as a call recorder would.

It imports no test fixture (those set test settings on import), so bench/ can make the same calls.
"""

from __future__ import annotations

import io
import shutil
import subprocess

import av
import numpy as np


def encode(samples: np.ndarray, *, rate: int, fmt: str, codec: str) -> bytes:
    """Encode float32 (2, n) audio into a container, as a call recorder would export it."""
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout="stereo")
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)  # packed s16
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="stereo")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:  # PyAV converts to the codec's format
            container.mux(packet)
    return out.getvalue()


def speak(text: str, *, voice: str = "en-us", wpm: int = 160) -> np.ndarray:
    """`text` said by espeak-ng, as 16 kHz float32 mono."""
    from faster_whisper.audio import decode_audio

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is missing: `make test` installs it (or: apt-get install -y espeak-ng)")
    wav = subprocess.run([espeak, "-v", voice, "-s", str(wpm), "--stdout", text], capture_output=True, check=True)
    return decode_audio(io.BytesIO(wav.stdout), sampling_rate=16000)


def spoken_call(
    turns: list[tuple[str, str]],
    *,
    agent_channel: str = "left",
    gap_s: float = 0.6,
    pauses: dict[int, float] | None = None,
    voices: dict[str, tuple[str, int]] | None = None,
    phone_line: bool = False,
) -> bytes:
    """A dual-channel WAV of (speaker, text) turns in order, agent and customer in two voices on their channels;
    `pauses` adds silence after a turn (a hold) by its index; `voices`: espeak-ng voice and words per minute by
    speaker; `phone_line`: as a phone line carries it (300-3400 Hz, 8 kHz mu-law) instead of 16 kHz PCM."""
    voices = voices or {"agent": ("en-us", 165), "customer": ("en-gb", 145)}
    sides: dict[str, list[np.ndarray]] = {"agent": [], "customer": []}
    for index, (speaker, text) in enumerate(turns):
        silence = gap_s + (pauses or {}).get(index, 0.0)
        audio = np.concatenate([speak(text, voice=voices[speaker][0], wpm=voices[speaker][1]),
                                np.zeros(int(silence * 16000), np.float32)])  # fmt: skip
        sides[speaker].append(audio)
        other = "customer" if speaker == "agent" else "agent"
        sides[other].append(np.zeros_like(audio))
    agent, customer = (np.concatenate(sides[s]) for s in ("agent", "customer"))
    left, right = (agent, customer) if agent_channel == "left" else (customer, agent)
    if not phone_line:
        return encode(np.stack([left, right]), rate=16000, fmt="wav", codec="pcm_s16le")
    from scipy.signal import butter, resample_poly, sosfilt

    band = butter(6, [300, 3400], btype="band", fs=16000, output="sos")
    line = np.stack([resample_poly(sosfilt(band, side), 1, 2) for side in (left, right)]).astype(np.float32)
    return encode(line, rate=8000, fmt="wav", codec="pcm_mulaw")
