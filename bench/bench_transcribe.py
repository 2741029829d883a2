"""Transcription speed and memory on a long dual-channel call: Callscope against plain faster-whisper, one run.

The long call is the bundled dual-channel sample call and the three real-speech stereo calls of the WER corpus
(`bench/speech_corpus.py`), one after another until it is long enough (each side talks about half the time,
as in real calls; whole repeats of one call would trip Whisper's repetition guards). In one process, runs
alternating so machine noise hits all alike:

- plain faster-whisper transcribing each channel of `decode_audio(split_stereo=True)` (VAD on, beam 5,
  the same `WhisperModel` object, threads and settings as Callscope);
- Callscope's `callscope.transcribe.transcribe` (plus streaming windows, word timestamps, roles, merge);
- plain faster-whisper on the same call mixed down to mono, as its defaults run (VAD off), and with VAD on.

Then memory: the `callscope transcribe` command's peak RSS on a short and a long call (long holds of
silence between the conversations), each in a fresh process.

    .venv/bin/python bench/bench_transcribe.py [--minutes 10] [--repeats 2] [--memory-minutes 10 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from callscope.voice.transcribe import SAMPLE_RATE, WhisperOptions, load_whisper, transcribe  # noqa: E402

SAMPLE = ROOT / "samples" / "call_dual_channel.wav"


def conversations() -> list[tuple[np.ndarray, np.ndarray]]:
    """The bundled sample call and the real-speech stereo calls of the WER corpus (bench/speech_corpus.py)."""
    import speech_corpus
    from faster_whisper import decode_audio

    paths = [str(SAMPLE)] + [call["stereo"] for call in speech_corpus.build()["calls"]]
    return [decode_audio(p, split_stereo=True) for p in paths]


def write_call(path: Path, minutes: float, hold_s: float = 0.0) -> Path:
    """Different conversations one after another (with `hold_s` of silence between them) to about `minutes`."""
    parts = conversations()
    hold = np.zeros(int(hold_s * SAMPLE_RATE), dtype=np.float32)
    written, target = 0.0, minutes * 60
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        while written < target:
            for left, right in parts:
                for l_part, r_part in ((left, right), (hold, hold)):
                    frames = np.column_stack([l_part, r_part]).reshape(-1)
                    out.writeframes((np.clip(frames, -1, 1) * 32767).astype(np.int16).tobytes())
                written += left.size / SAMPLE_RATE + hold_s
                if written >= target:
                    break
    return path


def plain_per_channel(path: Path, options: WhisperOptions) -> int:
    from faster_whisper import decode_audio

    model = load_whisper(options)  # the very same WhisperModel object Callscope uses
    words = 0
    for channel in decode_audio(str(path), split_stereo=True):
        segments, _ = model.transcribe(channel, language="en", beam_size=options.beam_size, vad_filter=True)
        words += sum(len(s.text.split()) for s in segments)
    return words


def plain_mono(path: Path, options: WhisperOptions, vad: bool) -> int:
    from faster_whisper import decode_audio

    segments, _ = load_whisper(options).transcribe(
        decode_audio(str(path)), language="en", beam_size=options.beam_size, vad_filter=vad
    )
    return sum(len(s.text.split()) for s in segments)


def callscope_pipeline(path: Path, options: WhisperOptions) -> int:
    return len(transcribe(path, options=options, diarize=False).text.split())


def timed(fn, *args) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    words = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, words


def peak_rss_mb(path: Path) -> float:
    """`callscope transcribe FILE --json` in a fresh process; its peak resident memory."""
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    argv = [sys.executable, "-c", probe, sys.executable, "-m", "cli", "transcribe", str(path), "--json"]
    out = subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, text=True)
    return round(int(out.stdout.strip()) / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--memory-minutes", type=float, nargs=2, default=(10, 60))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="callscope-bench-"))
    call = write_call(folder / "long-call.wav", args.minutes)
    with wave.open(str(call)) as stored:
        duration = stored.getnframes() / SAMPLE_RATE
    options = WhisperOptions()
    load_whisper(options)
    plain_per_channel(SAMPLE, options)  # warm-up
    systems = {
        "plain_per_channel": lambda: plain_per_channel(call, options),
        "callscope": lambda: callscope_pipeline(call, options),
        "plain_mono_mixdown_default_no_vad": lambda: plain_mono(call, options, vad=False),
        "plain_mono_mixdown_vad": lambda: plain_mono(call, options, vad=True),
    }
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in systems}
    for _ in range(args.repeats):
        for name, fn in systems.items():
            runs[name].append(timed(fn))
    wall = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
    memory = {}
    for minutes in args.memory_minutes:  # long holds: an hour-long call that is mostly waiting
        path = write_call(folder / f"memory-{minutes:g}.wav", minutes, hold_s=120.0)
        memory[f"{minutes:g}_min_peak_rss_mb"] = peak_rss_mb(path)
    result = {
        "audio": f"{call.name} (the sample call and the corpus's three stereo calls, in turn)",
        "audio_s": round(duration, 1),
        "repeats": args.repeats,
        "threads": options.cpu_threads,
        "wall_s": {k: round(v, 2) for k, v in wall.items()},
        "wall_ratio_over_plain_per_channel": {k: round(v / wall["plain_per_channel"], 3) for k, v in wall.items()},
        "audio_s_per_cpu_s": {k: round(duration / v, 2) for k, v in cpu.items()},
        "words": {k: v[-1][2] for k, v in runs.items()},
        "callscope_transcribe_command_memory": memory,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
