"""Real speech on a phone line: Callscope's word error rate per channel against plain faster-whisper's, per model.

The two-party stereo calls of `bench/speech_corpus.py` (real recorded speakers, one per channel, turns that
alternate and overlap) are put on a phone line: each channel gets what a real line carries while its side is
silent or speaking (hiss, 50 Hz hum, clicks, comfort noise that steps in level: `tests.audio.line_noise`), with
and without the other side's echo 40 dB down, and is heard at 16 kHz PCM and at 8 kHz mu-law (300-3400 Hz).

Per model (`base`, the default, and the bundled `tiny.en`), in one run and on the very same `WhisperModel`:
- plain faster-whisper on each channel: VAD on, beam 5, everything else its defaults (what a bank would run
  without Callscope);
- `callscope transcribe` on the stereo file (agent on the left).
Each side's text is scored against that channel's reference (Whisper's English normalizer, jiwer), pooled over
calls and channels. The goal (issue 30): Callscope at most 0.95x plain's WER with the same model.

    .venv/bin/python bench/bench_phone_wer.py [--models base tiny.en] [--lines N] [--low-cut-hz 120 300] [--json F]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_wer import Scorer, plain_segments  # noqa: E402
from speech_corpus import build, telephone  # noqa: E402

from callscope.voice.transcribe import WhisperOptions, decode, load_whisper, transcribe  # noqa: E402
from tests.audio import encode, line_noise  # noqa: E402

ECHO = {"line noise": None, "line noise + echo -40 dB": -40.0}
BANDS = ("16 kHz", "8 kHz mu-law")
SIDES = ("left", "right")


def on_the_line(stereo: np.ndarray, band: str, echo_db: float | None, seed: int) -> bytes:
    """A stereo call (16 kHz float, speech at about -24 dBFS) as a phone line delivers it, as a WAV file."""
    noisy = np.stack([
        stereo[0] + line_noise(stereo[1], echo_db=echo_db, seed=seed),
        stereo[1] + line_noise(stereo[0], echo_db=echo_db, seed=seed + 1),
    ])  # fmt: skip
    noisy = np.clip(noisy, -1.0, 1.0)
    if band == "16 kHz":
        return encode(noisy, rate=16000, fmt="wav", codec="pcm_s16le")
    return encode(telephone(noisy), rate=8000, fmt="wav", codec="pcm_mulaw")


def run(models: Sequence[str], lines: int = 1, low_cut_hz: Sequence[float] = ()) -> dict[str, Any]:
    manifest = build()
    scorer = Scorer()
    seconds: dict[str, float] = {}
    calls = []
    for i, call in enumerate(manifest["calls"]):
        left, right = decode(Path(call["stereo"]))
        assert right is not None
        references = {side: [s["text"] for s in call["segments"] if s["channel"] == side] for side in SIDES}
        for line in range(lines):  # each line another draw of the noise (line 0: the seed of the first runs)
            seed = i + 100 * line
            for band in BANDS:
                for noise, echo_db in ECHO.items():
                    wav = on_the_line(np.stack([left, right]), band, echo_db, seed)
                    calls.append((references, f"{noise}, {band}", wav))
    for k, name in enumerate(models):
        options = WhisperOptions(model=name, low_cut_hz=low_cut_hz[k] if low_cut_hz else WhisperOptions().low_cut_hz)
        model = load_whisper(options)
        for references, condition, wav in calls:
            began = time.perf_counter()
            piped = transcribe(wav, options=options, agent_channel="left", diarize=False)
            seconds[f"callscope {name}"] = seconds.get(f"callscope {name}", 0.0) + time.perf_counter() - began
            heard = {"left": [t.text for t in piped.turns if t.speaker == "agent"],
                     "right": [t.text for t in piped.turns if t.speaker == "customer"]}  # fmt: skip
            channels = dict(zip(SIDES, decode(wav), strict=True))
            began = time.perf_counter()
            plain = {side: [s.text.strip() for s in plain_segments(model, channels[side], options)] for side in SIDES}
            seconds[f"plain {name}"] = seconds.get(f"plain {name}", 0.0) + time.perf_counter() - began
            for side in SIDES:
                scorer.add(f"callscope {name}", condition, references[side], heard[side])
                scorer.add(f"plain {name}", condition, references[side], plain[side])
                scorer.add(f"callscope {name}", "all", references[side], heard[side])
                scorer.add(f"plain {name}", "all", references[side], plain[side])
    rows = []
    for name in models:
        for condition in ["all", *sorted({c for _, c, _ in calls})]:
            ours, theirs = scorer.wer(f"callscope {name}", condition), scorer.wer(f"plain {name}", condition)
            ratio = ours["wer"] / theirs["wer"] if theirs["wer"] else float("nan")
            rows.append({"model": name, "condition": condition, "callscope": ours, "plain": theirs,
                         "ratio": round(ratio, 3)})  # fmt: skip
    seconds = {k: round(v, 1) for k, v in seconds.items()}
    return {"calls": len(manifest["calls"]), "lines": lines, "rows": rows, "seconds": seconds}


def table(result: dict[str, Any]) -> str:
    lines = ["| model | condition | Callscope WER (sub/del/ins) | plain per channel WER (sub/del/ins) | ratio |",
             "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for row in result["rows"]:
        ours, theirs = row["callscope"], row["plain"]
        lines.append(
            f"| {row['model']} | {row['condition']} | {ours['wer']:.3f} ({ours['sub']}/{ours['del']}/{ours['ins']}) |"
            f" {theirs['wer']:.3f} ({theirs['sub']}/{theirs['del']}/{theirs['ins']}) | {row['ratio']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["base", "tiny.en"])
    parser.add_argument("--lines", type=int, default=1, help="noise draws per call and condition")
    parser.add_argument("--low-cut-hz", nargs="+", type=float, default=[],
                        help="Callscope's low cut per model, in the order of --models (default: 300)")  # fmt: skip
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args.models, args.lines, args.low_cut_hz)
    print(table(result))
    print(json.dumps(result["seconds"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
