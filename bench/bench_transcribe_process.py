"""Whole-process transcription time and memory: `callscope transcribe` on a dual-channel call against plain
faster-whisper on its mono mixdown, same model, threads and beam, each a fresh process (imports and model load
included), alternating, median of `--repeats`.

The calls are real recorded speech (the bundled sample call and the stereo calls of `bench/speech_corpus.py`, one
after another, as `bench_transcribe.py` builds them), at two lengths. Plain faster-whisper is what a user would run
on the mixdown: `WhisperModel(model, cpu_threads=T, compute_type="int8")`, `transcribe(decode_audio(file),
language="en", beam_size=5, vad_filter=True)`, the segments consumed.

    .venv/bin/python bench/bench_transcribe_process.py [--minutes 3 10] [--repeats 3] [--model PATH_OR_PROFILE]
        [--before WORKTREE]  (also the earlier code's `callscope transcribe`, in the same rounds)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_transcribe import write_call  # noqa: E402

from callscope.voice.transcribe import SAMPLE_RATE, resolve_model_path  # noqa: E402

PLAIN = """
import sys
from faster_whisper import WhisperModel, decode_audio
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=int(sys.argv[2]))
segments, _ = model.transcribe(decode_audio(sys.argv[3]), language="en", beam_size=5, vad_filter=True)
print(sum(len(s.text.split()) for s in segments))
"""


def mixdown(stereo: Path, out: Path) -> Path:
    with wave.open(str(stereo)) as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, 2).astype(np.int32)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(np.clip(frames.sum(axis=1), -32768, 32767).astype(np.int16).tobytes())
    return out


def run(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    """Wall seconds of one fresh process."""
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def peak_rss(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    """Peak RSS of one child, measured in a wrapper process of its own (RUSAGE_CHILDREN keeps the maximum)."""
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", probe, *argv], cwd=cwd, env=env, check=True, capture_output=True,
                         text=True)  # fmt: skip
    return round(int(out.stdout) / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[3.0, 10.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="", help="CALLSCOPE_WHISPER_MODEL for both (default: the default)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, help="CALLSCOPE_WHISPER_BATCH_SIZE for callscope (0: sequential)")
    parser.add_argument("--before", type=Path, help="a worktree of earlier code: its `callscope transcribe` too")
    args = parser.parse_args()
    env = {**os.environ, "CALLSCOPE_WHISPER_CPU_THREADS": str(args.threads), "OMP_WAIT_POLICY": "PASSIVE"}
    if args.batch_size is not None:
        env["CALLSCOPE_WHISPER_BATCH_SIZE"] = str(args.batch_size)
    if args.model:
        env["CALLSCOPE_WHISPER_MODEL"] = args.model
    sys.path.insert(0, str(ROOT))
    from callscope.settings import Settings

    # the model `callscope transcribe` will load: --model, else the configured default profile
    model_path = resolve_model_path(args.model or Settings().whisper_model)
    folder = Path(tempfile.mkdtemp(prefix="callscope-bench-process-"))
    results = []
    for minutes in args.minutes:
        call = write_call(folder / f"call-{minutes:g}.wav", minutes)
        mono = mixdown(call, folder / f"mix-{minutes:g}.wav")
        with wave.open(str(call)) as w:
            duration = w.getnframes() / SAMPLE_RATE
        transcribe = [sys.executable, "-m", "cli", "transcribe", str(call), "--json"]
        commands = {  # name: (command, the tree it runs in)
            "callscope_transcribe_stereo": (transcribe, ROOT),
            "plain_faster_whisper_mixdown": ([sys.executable, "-c", PLAIN, model_path, str(args.threads), str(mono)],
                                             ROOT),
        }  # fmt: skip
        if args.before:
            commands["callscope_before_stereo"] = (transcribe, args.before.resolve())
            env["CALLSCOPE_WHISPER_MODEL"] = model_path  # the same model folder for both trees
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, (argv, cwd) in commands.items():
                walls[name].append(run(argv, env, cwd))
        median = {name: statistics.median(v) for name, v in walls.items()}
        results.append({
            "call_s": round(duration, 1),
            **{f"{name}_wall_s": round(median[name], 2) for name in commands},
            **{f"ratio_{name}_to_plain": round(median[name] / median["plain_faster_whisper_mixdown"], 3)
               for name in commands if name.startswith("callscope")},
            **{f"{name}_peak_rss_mb": peak_rss(argv, env, cwd) for name, (argv, cwd) in commands.items()},
            "runs": {name: [round(w, 2) for w in v] for name, v in walls.items()},
        })  # fmt: skip
        print(json.dumps(results[-1]), file=sys.stderr)
    print(json.dumps({"model": model_path, "threads": args.threads, "batch_size": args.batch_size,
                      "repeats": args.repeats, "calls": results}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
