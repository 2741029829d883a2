"""CPU seconds per minute of a stereo call through transcription and redaction (text and audio), this tree against
another (`--before TREE`, a `git worktree` of an earlier commit), alternating, each run a fresh process.

The call is the bundled dual-channel sample (`samples/call_dual_channel.wav`, 23.65 s) played eight times in a row
(3.2 minutes, 8 kHz-band speech on two channels). Each run does what the worker's transcribe step does without the
database: `transcribe` (Whisper base, the default profile, 2 threads), the turns' text redaction (with the number
pass), the spoken PII located in the audio, and the redacted copy of the recording written. CPU time is the process's
(all threads), after the model is loaded (a first, short call warms it up).

    .venv/bin/python bench/bench_voice_cpu.py --before /tmp/before [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "call_dual_channel.wav"
PLAYS = 8


def make_call(into: Path) -> float:
    """The sample call eight times over, as one stereo WAV; its length in minutes."""
    with wave.open(str(SAMPLE)) as src:
        params, frames = src.getparams(), src.readframes(src.getnframes())
    with wave.open(str(into), "wb") as out:
        out.setparams(params)
        out.writeframes(frames * PLAYS)
    return params.nframes * PLAYS / params.framerate / 60


def run_one(call: str) -> dict[str, float]:
    """In a child process whose `sys.path` starts at the tree measured."""
    import time

    from callscope.settings import get_settings

    settings = get_settings()
    if Path(sys.path[0], "callscope", "interactions").is_dir():  # this tree (told apart by its folders)
        from callscope.interactions.intake import redactions_of
        from callscope.interactions.options import whisper_options

        options = whisper_options(settings)
    else:  # before the one path
        from callscope.storage.store import redactions_of  # type: ignore[attr-defined,no-redef]
        from callscope.voice.transcribe import WhisperOptions

        options = WhisperOptions.from_settings(settings)  # type: ignore[attr-defined]
    from callscope.voice.audio_redaction import SPEECH_KINDS, pii_spans, redact_audio
    from callscope.voice.transcribe import transcribe

    transcribe(str(SAMPLE), options=options, agent_channel="auto")  # loads the model: not counted
    start = time.process_time()
    transcript = transcribe(call, options=options, agent_channel="auto")
    redactions = redactions_of(transcript.turns)
    agent = 0 if transcript.roles is None or transcript.roles.agent_channel == "left" else 1
    spans = pii_spans(transcript.turns, redactions, channel_of=lambda t: agent if t.speaker == "agent" else 1 - agent,
                      kinds=SPEECH_KINDS, margin_s=0.25, duration_s=transcript.duration)  # fmt: skip
    with tempfile.TemporaryFile() as out:
        redact_audio(Path(call), spans, fill="silence", into=out)
    return {"cpu_s": round(time.process_time() - start, 2), "turns": len(transcript.turns)}


def run_tree(tree: Path, call: Path) -> dict[str, float]:
    code = f"import sys, json, runpy; sys.path.insert(0, {str(tree)!r}); " \
           f"m = runpy.run_path({__file__!r}); print(json.dumps(m['run_one']({str(call)!r})))"  # fmt: skip
    env = {**os.environ, "CALLSCOPE_WHISPER_CPU_THREADS": "2", "HF_HUB_OFFLINE": "1"}
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tree, capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    except subprocess.CalledProcessError as exc:
        raise SystemExit(exc.stderr[-3000:]) from exc
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        call = Path(tmp) / "call.wav"
        minutes = make_call(call)
        runs: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.repeats):
            for label, tree in (("before", args.before.resolve()), ("after", ROOT)):
                result = run_tree(tree, call)
                runs[label].append(result["cpu_s"] / minutes)
                print(label, result, flush=True)
    per_minute = {k: round(statistics.median(v), 2) for k, v in runs.items()}
    print(json.dumps({"minutes": round(minutes, 2), "cpu_s_per_minute": per_minute, "runs": runs,
                      "ratio": round(per_minute["after"] / per_minute["before"], 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
