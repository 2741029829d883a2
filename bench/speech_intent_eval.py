"""Typed vs spoken intent accuracy: held-out Banking77 texts spoken by espeak-ng, transcribed by Callscope.

Texts come from the intent model's validation split (stratified 10% of train.csv, seed 13: never
trained on). Each text is spoken once by espeak-ng with a voice and speed picked round-robin, then
heard two ways: wideband (16 kHz WAV) and telephone (300-3400 Hz band, 8 kHz mu-law WAV). Every clip
goes through the real speech pipeline, ``callscope.transcribe.transcribe(bytes, options=WhisperOptions())``
(a mono clip is one track), and the transcript is classified by ``IntentModel.predict``.

Audio and transcripts are cached under ``--cache`` (default /tmp/callscope-speech-intent), so reruns
only re-classify. Needs ``espeak-ng`` and ``sox`` (``apt-get install -y espeak-ng sox``).

    .venv/bin/python bench/speech_intent_eval.py [--n 300] [--model-dir DIR] [--json out.json]

The shipped model is refit on all of train.csv, so it has seen these texts typed: evaluate the
held-out model (``models/intent/train.py --holdout-out DIR``) instead. ``--train-transcripts FILE``
does the same for ``--n`` TRAINING texts and writes JSONL for ``train.py --asr FILE``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jiwer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "models" / "intent"))

from train import DEFAULT_DATA, read_csv, split_data  # noqa: E402

import callscope.understanding.intent as intent_module  # noqa: E402
from callscope.understanding.intent import heard, load_intent_model, normalize_text  # noqa: E402
from callscope.voice.transcribe import WhisperOptions, transcribe  # noqa: E402

VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-us+f3")
SPEEDS_WPM = (140, 165, 190)
CONDITIONS = ("wideband", "telephone")
DEFAULT_CACHE = Path("/tmp/callscope-speech-intent")
SAMPLE_SEED = 13
EVAL_TEXTS = 300  # the validation texts scored here (``--n``'s default); ``tune`` clips are drawn from the rest
OTHER_LABEL = getattr(intent_module, "OTHER_LABEL", "other")  # older models had no fallback


@dataclass(frozen=True)
class Clip:
    """One held-out text, the voice and speed that speak it, and its gold intent."""

    text: str
    label: str
    voice: str
    speed: int

    @property
    def key(self) -> str:
        """Cache key: the same text, voice and speed always map to the same files."""
        return hashlib.sha1(f"{self.voice}|{self.speed}|{self.text}".encode()).hexdigest()[:16]


def pick_clips(n: int, data: Path = DEFAULT_DATA, *, part: str = "validation") -> list[Clip]:
    """A fixed random sample of the validation split (``validation``: what is scored here; ``tune``: validation
    texts outside that sample, to choose the spoken fallback on) or of the training split (``train``: material to
    train on, never evaluated here), voices and speeds assigned round-robin."""
    texts, labels = read_csv(data)
    split = split_data(texts, labels)
    if part == "train":
        pairs = list(zip(split.train_texts, split.train_labels, strict=True))
    else:
        pairs = list(zip(split.dev_texts, split.dev_labels, strict=True))
    if part == "tune":
        scored = set(random.Random(SAMPLE_SEED).sample(range(len(pairs)), EVAL_TEXTS))
        pairs = [pair for i, pair in enumerate(pairs) if i not in scored]
    seed = {"validation": SAMPLE_SEED, "train": SAMPLE_SEED + 1, "tune": SAMPLE_SEED + 2}[part]
    chosen = random.Random(seed).sample(pairs, min(n, len(pairs)))
    return [
        Clip(text=" ".join(text.split()), label=label, voice=VOICES[i % len(VOICES)], speed=SPEEDS_WPM[i % 3])
        for i, (text, label) in enumerate(chosen)
    ]


def speak(clip: Clip, cache: Path) -> Path:
    """Render the clip with espeak-ng at 16 kHz (cached)."""
    path = cache / "audio" / f"{clip.key}.wav"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = path.with_suffix(".raw.wav")
        subprocess.run(["espeak-ng", "-v", clip.voice, "-s", str(clip.speed), "-w", str(raw), clip.text], check=True)
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(path)], check=True)
        raw.unlink()
    return path


def telephone(wav: Path) -> Path:
    """The same clip as a phone line carries it: 300-3400 Hz, 8 kHz, 8-bit mu-law (cached)."""
    path = wav.with_name(wav.stem + ".tel.wav")
    if not path.exists():
        subprocess.run(
            ["sox", str(wav), "-r", "8000", "-c", "1", "-e", "mu-law", "-b", "8", str(path), "sinc", "300-3400"],
            check=True,
        )
    return path


def transcripts(clips: Sequence[Clip], condition: str, cache: Path, hotwords: str = "") -> list[str]:
    """Transcribe every clip heard under ``condition`` with Callscope's pipeline (cached per clip and hotwords)."""
    hint = f"-{hashlib.sha1(hotwords.encode()).hexdigest()[:8]}" if hotwords else ""
    store_path = cache / f"transcripts-{condition}{hint}.json"
    store: dict[str, str] = json.loads(store_path.read_text()) if store_path.exists() else {}
    options = WhisperOptions(hotwords=hotwords)
    for i, clip in enumerate(clips):
        if clip.key in store:
            continue
        wav = speak(clip, cache)
        audio = telephone(wav) if condition == "telephone" else wav
        store[clip.key] = transcribe(audio.read_bytes(), options=options).text
        if i % 25 == 0:
            store_path.write_text(json.dumps(store))
            print(f"  {condition}: {i + 1}/{len(clips)}", file=sys.stderr, flush=True)
    store_path.write_text(json.dumps(store))
    return [store[clip.key] for clip in clips]


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Pooled WER (jiwer) on the words of the normalized texts, punctuation dropped, to size the ASR noise."""
    return float(jiwer.wer([_words(r) for r in references], [_words(h) for h in hypotheses]))


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", normalize_text(text)))


def score(model_dir: Path, clips: Sequence[Clip], texts: Sequence[str], *, spoken: bool = False) -> dict:
    """Accuracy of the top label, the share sent to ``other`` and accuracy counting ``other`` as wrong
    (transcripts with the fallback chosen for speech, as the service answers calls: ``IntentModel.heard``)."""
    model = load_intent_model(model_dir)
    predictions = (heard(model) if spoken else model).predict(list(texts))
    gold = [clip.label for clip in clips]
    top = [(p.candidates[0][0] if getattr(p, "candidates", None) else p.label) for p in predictions]
    n = len(clips)
    return {
        "accuracy": round(sum(t == g for t, g in zip(top, gold, strict=True)) / n, 4),
        "accuracy_with_fallback": round(sum(p.label == g for p, g in zip(predictions, gold, strict=True)) / n, 4),
        "other_rate": round(sum(p.label == OTHER_LABEL for p in predictions) / n, 4),
    }


def write_transcripts(n: int, data: Path, cache: Path, out: Path, part: str = "train") -> None:
    """Spoken-and-transcribed TRAINING texts (both conditions) for ``train.py`` to learn ASR noise from, or
    (``part="tune"``) validation texts outside the scored sample for ``train.py`` to choose the spoken fallback on."""
    clips = pick_clips(n, data, part=part)
    rows = []
    for condition in CONDITIONS:
        said = transcripts(clips, condition, cache)
        rows += [
            {"text": c.text, "label": c.label, "condition": condition, "transcript": h}
            for c, h in zip(clips, said, strict=True)
        ]
    out.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    print(f"wrote {len(rows)} transcripts of {len(clips)} {part} texts to {out}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    """Speak, transcribe (cached), classify and print typed vs spoken figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=EVAL_TEXTS, help="validation texts to speak")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models" / "intent" / "model")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="audio + transcript cache (outside git)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Banking77 train.csv")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--train-transcripts", type=Path, help="instead: transcribe --n TRAINING texts and write them here (JSONL)"
    )
    parser.add_argument(
        "--tune-transcripts",
        type=Path,
        help="instead: transcribe --n validation texts outside the scored sample and write them here (JSONL)",
    )
    parser.add_argument("--hotwords", default="", help="the decoder's hint (CALLSCOPE_WHISPER_HOTWORDS) to measure")
    parser.add_argument("--conditions", nargs="+", default=CONDITIONS, choices=CONDITIONS)
    args = parser.parse_args(argv)
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y espeak-ng sox")
    if args.train_transcripts:
        write_transcripts(args.n, args.data, args.cache, args.train_transcripts)
        return
    if args.tune_transcripts:
        write_transcripts(args.n, args.data, args.cache, args.tune_transcripts, part="tune")
        return
    clips = pick_clips(args.n, args.data)
    typed = [clip.text for clip in clips]
    results: dict = {"n": len(clips), "model_dir": str(args.model_dir), "voices": VOICES, "speeds_wpm": SPEEDS_WPM,
                     "hotwords": args.hotwords}  # fmt: skip
    results["typed"] = score(args.model_dir, clips, typed)
    for condition in args.conditions:
        started = time.perf_counter()
        said = transcripts(clips, condition, args.cache, args.hotwords)
        results[condition] = {
            **score(args.model_dir, clips, said, spoken=True),
            "wer": round(word_error_rate(typed, said), 4),
            "seconds": round(time.perf_counter() - started, 1),
        }
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
