"""Transcription speed: Callscope's pipeline against plain faster-whisper, same model and settings, one run.

Both sides transcribe the bundled dual-channel call: plain faster-whisper splits the stereo file and
transcribes each channel (VAD on, beam 5, int8, 2 threads); Callscope does the same through
`callscope.transcribe` (plus channel checks, word timestamps for turn times and the merge). Runs
alternate so machine noise hits both alike; the figure that matters is the ratio.

    .venv/bin/python bench/bench_transcribe.py [--repeats 3] [--audio FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callscope.transcribe import WhisperOptions, load_whisper, transcribe  # noqa: E402


def plain_faster_whisper(path: Path, options: WhisperOptions) -> int:
    from faster_whisper import decode_audio

    model = load_whisper(options)  # the very same WhisperModel object both sides use
    words = 0
    for channel in decode_audio(str(path), split_stereo=True):
        segments, _ = model.transcribe(channel, language="en", beam_size=options.beam_size, vad_filter=True)
        words += sum(len(s.text.split()) for s in segments)
    return words


def callscope_pipeline(path: Path, options: WhisperOptions) -> int:
    return len(transcribe(path.read_bytes(), options=options).text.split())


def timed(fn, *args) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    words = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, words


def cli_wall(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "callscope.cli", "transcribe", str(path), "--json"], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--audio", type=Path, default=ROOT / "samples" / "call_dual_channel.wav")
    args = parser.parse_args()
    options = WhisperOptions()
    duration = len(__import__("faster_whisper").decode_audio(str(args.audio))) / 16000
    load_whisper(options)
    plain_faster_whisper(args.audio, options)  # warm-up
    runs: dict[str, list[tuple[float, float, int]]] = {"plain": [], "callscope": []}
    for _ in range(args.repeats):
        runs["plain"].append(timed(plain_faster_whisper, args.audio, options))
        runs["callscope"].append(timed(callscope_pipeline, args.audio, options))
    wall = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
    result = {
        "audio": args.audio.name,
        "audio_s": round(duration, 2),
        "repeats": args.repeats,
        "plain_wall_s": round(wall["plain"], 3),
        "callscope_wall_s": round(wall["callscope"], 3),
        "wall_ratio_callscope_over_plain": round(wall["callscope"] / wall["plain"], 3),
        "audio_s_per_cpu_s": {k: round(duration / v, 2) for k, v in cpu.items()},
        "words": {k: v[-1][2] for k, v in runs.items()},
        "cli_transcribe_wall_s_incl_startup": round(cli_wall(args.audio), 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
