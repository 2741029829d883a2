"""Spoken numbers redacted whatever the recognizer made of them (issue 16).

Generated card (Luhn-valid 16-digit Visa / Mastercard, 15-digit Amex), UK mobile and account numbers are read out
the way customers read them (digit by digit in groups, "double" and "oh", digit pairs), spoken by espeak-ng in
four voices (each kind in every voice, in turn), heard wideband (16 kHz) and as a phone line carries it
(300-3400 Hz, 8 kHz mu-law), and transcribed by the shipped recognizer (`callscope.voice.transcribe`, the default
profile unless --model, with its number pass unless --no-number-pass). The customer's turns are redacted as the
service stores them (`redact_many` with the speakers and the number pass's regions) and, in the same run, by the
redaction committed at --before on the first hearing alone (the baseline). A number counts as redacted when no
digit of it is left in the stored turns beyond a card's last four (digits written or spoken as words). Cards read
one group per turn are one clip per turn, redacted as one contact. "Asked for" puts the turns in a contact where
the agent first asked for the number ("Can I take the long number on the card, please?"), as most read-outs happen.

    .venv/bin/python bench/bench_spoken_numbers.py [--numbers 24] [--skip 12] [--before REV] [--model M] [--json F]
        [--kinds phone,account] [--bands "8 kHz"]
    .venv/bin/python bench/bench_spoken_numbers.py --real-speech   # the pass's cost on real speech without numbers
    .venv/bin/python bench/bench_spoken_numbers.py --live --numbers 24 --skip 12   # live calls (tiny.en, streaming)

Transcripts are cached in .cache/spoken-numbers/ (git-ignored), keyed by text, voice, band, model and number pass.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import random
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np
from scipy.signal import butter, resample_poly, sosfilt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callscope.contacts import Turn  # noqa: E402
from callscope.interactions.options import whisper_options  # noqa: E402
from callscope.settings import get_settings  # noqa: E402
from callscope.understanding import redact as current  # noqa: E402
from callscope.voice import number_pass  # noqa: E402
from callscope.voice.number_pass import number_regions  # noqa: E402
from callscope.voice.transcribe import WhisperOptions, transcribe  # noqa: E402

CACHE = ROOT / ".cache" / "spoken-numbers"
VOICES = [("en-us", 150), ("en-gb", 140), ("en-gb-scotland", 160), ("en-us+f3", 145)]
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TENS = ["_", "ten", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]


@dataclass(frozen=True)
class Case:
    kind: str  # card | phone | account | card-group-per-turn
    digits: str
    style: str
    said: tuple[str, ...]  # one text per turn


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        number = body + check
        total = sum(int(d) if i % 2 == 0 else sum(divmod(int(d) * 2, 10)) for i, d in enumerate(reversed(number)))
        if total % 10 == 0:
            return number
    raise AssertionError


def _pair(two: str) -> str:
    a, b = int(two[0]), int(two[1])
    if a == 0:
        return f"oh {WORDS[b]}"
    if a == 1:
        return TEENS[b]
    return TENS[a] + ("" if b == 0 else f" {WORDS[b]}")


def read_out(groups: list[str], style: str) -> str:
    """Digits as a customer reads them out."""
    if style == "digits":
        return ", ".join(" ".join(WORDS[int(d)] for d in g) for g in groups)
    if style == "double-oh":
        out = []
        for g in groups:
            words, i = [], 0
            while i < len(g):
                word = "oh" if g[i] == "0" else WORDS[int(g[i])]
                if i + 1 < len(g) and g[i + 1] == g[i]:
                    words.append(f"double {word}")
                    i += 2
                else:
                    words.append(word)
                    i += 1
            out.append(" ".join(words))
        return ", ".join(out)
    if style == "pairs":
        return ", ".join(" ".join(_pair(g[i : i + 2]) if len(g[i : i + 2]) == 2 else WORDS[int(g[i])]
                                  for i in range(0, len(g), 2)) for g in groups)  # fmt: skip
    raise ValueError(style)


def cases(n: int, seed: int = 7) -> list[Case]:
    rng = random.Random(seed)
    styles = ["digits", "double-oh", "pairs"]
    out: list[Case] = []
    for i in range(n):
        style = styles[i % 3]
        if i % 4 == 3:
            card = luhn_complete(rng.choice(["34", "37"]), 15, rng)
            groups = [card[:4], card[4:10], card[10:]]
        else:
            card = luhn_complete(rng.choice(["4", "51", "55"]), 16, rng)
            groups = [card[k : k + 4] for k in range(0, 16, 4)]
        lead = ["my card number is", "yes, it's", "it is", "the long number is"][i % 4]
        out.append(Case("card", card, style, (f"{lead} {read_out(groups, style)}.",)))
        turns = [f"{lead} {read_out(groups[:1], style)}", *(read_out([g], style) for g in groups[1:])]
        out.append(Case("card-group-per-turn", card, style, tuple(turns)))
        phone = "07" + "".join(rng.choice("0123456789") for _ in range(9))
        lead = ["call me on", "my mobile is", "you can reach me on", "it's"][i % 4]
        out.append(Case("phone", phone, style, (f"{lead} {read_out([phone[:5], phone[5:8], phone[8:]], style)}.",)))
        account = "".join(rng.choice("0123456789") for _ in range(8))
        lead = ["my account number is", "the account is", "account number", "it's account"][i % 4]
        out.append(Case("account", account, style, (f"{lead} {read_out([account[:4], account[4:]], style)}.",)))
    return out


def speak(text: str, voice: str, wpm: int) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "--stdout", text], capture_output=True, check=True)
    return decode_audio(io.BytesIO(wav.stdout), sampling_rate=16000)


def wav_bytes(audio: np.ndarray, rate: int, codec: str) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="wav") as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return out.getvalue()


def heard(audio: np.ndarray, band: str) -> bytes:
    if band == "wideband":
        return wav_bytes(audio, 16000, "pcm_s16le")
    phone = sosfilt(butter(6, [300, 3400], btype="band", fs=16000, output="sos"), audio)
    return wav_bytes(resample_poly(phone, 1, 2).astype(np.float32), 8000, "pcm_mulaw")


def transcript(text: str, voice: tuple[str, int], band: str, options: WhisperOptions) -> list[Turn]:
    """The clip's turns as the shipped recognizer hears them, with their words and, when the number pass is on, its
    digit hearing (cached as JSON)."""
    heard_again = [number_pass.DIGIT_PROMPT, number_pass.TOKENS_PER_S, number_pass._CUES.pattern] * options.number_pass
    key = hashlib.sha256(json.dumps([text, voice, band, options.model, heard_again]).encode()).hexdigest()[:20]
    path = CACHE / f"{key}.json"
    if not path.exists():
        audio = np.concatenate([np.zeros(4000, np.float32), speak(text, *voice), np.zeros(8000, np.float32)])
        result = transcribe(heard(audio, band), options=options)
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([{**t.model_dump(), "words": t.words, "digit_words": t.digit_words}
                                    for t in result.turns]))  # fmt: skip
    return [Turn(**{**t, "speaker": "customer"}) for t in json.loads(path.read_text())]


_DIGIT_WORDS = re.compile(r"\b(?:zero|oh|o|nought|nil|one|two|three|four|five|six|seven|eight|nine)\b", re.I)
_PAIR_WORDS = re.compile(
    r"\b(?:ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen|(?:twen|thir|for|fif|six|seven|eigh|nine)ty)\b",
    re.I,
)


def digits_left(texts: list[str]) -> int:
    """Digits a text still holds, counted apart from the redaction under test: every digit character (also one
    glued to a letter, "i548"), every digit word, and two for "forty" or "fifteen"."""
    return sum(len(re.findall(r"\d", t)) + len(_DIGIT_WORDS.findall(t)) + 2 * len(_PAIR_WORDS.findall(t))
               for t in texts)  # fmt: skip


def load_before(rev: str):
    source = subprocess.run(["git", "show", f"{rev}:callscope/understanding/redact.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "redact_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("redact_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["redact_before"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def redacted(module, turns: list[Turn], *, number_pass: bool) -> list[str]:
    """The customer's turns as stored: redacted as a contact, with the digit hearing's numbers (`number_pass`)."""
    speakers = [(0, t.speaker) for t in turns]
    also = number_regions(turns, speakers) if number_pass else None
    kwargs = {"also": also} if also is not None else {}
    return [r.text for r, t in zip(module.redact_many([t.text for t in turns], speakers=speakers, **kwargs), turns,
                                   strict=True) if t.speaker == "customer"]  # fmt: skip


AGENT_ASKS = {"card": "Can I take the long number on the card, please?", "phone": "Can I get a contact number in case "
              "we get cut off?", "account": "And what is the account number?"}  # fmt: skip


def contact(kind: str, clips: list[list[Turn]], *, asked: bool) -> list[Turn]:
    """The customer's clips as one contact; `asked`: the agent asked for the number first, and says "mm-hm" between
    the pieces (the agent's turns are not scored)."""
    turns = [Turn(speaker="agent", text=AGENT_ASKS[kind.split("-")[0]])] if asked else []
    for k, clip in enumerate(clips):
        turns += ([Turn(speaker="agent", text="Mm-hm.")] if asked and k else []) + clip
    return turns


def real_speech(options: WhisperOptions) -> None:
    """What the number pass costs on real recorded speech that holds no account, card or phone number (the speech
    corpus's calls, `bench/speech_corpus.py`): turns heard again, placeholders it adds (false redactions), time."""
    import time

    import speech_corpus

    from callscope.interactions.intake import redactions_of

    manifest = speech_corpus.build()
    print("| recording | audio s | turns | heard again | placeholders: first hearing | with the pass | first hearing s "
          "| with the pass s |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    totals = [0.0] * 7
    for call in manifest["calls"]:
        for kind in ("stereo", "stereo_8k", "mono_8k"):
            path = Path(call[kind])
            started = time.perf_counter()
            transcribe(path, options=replace(options, number_pass=False))
            plain_s = time.perf_counter() - started
            started = time.perf_counter()
            turns = transcribe(path, options=replace(options, number_pass=True)).turns
            pass_s = time.perf_counter() - started
            first = redactions_of([t.model_copy(update={"digit_words": []}) for t in turns])
            both = redactions_of(turns)
            figures = [call["duration_s"], len(turns), sum(bool(t.digit_words) for t in turns),
                       sum(len(r.spans) for r in first), sum(len(r.spans) for r in both), plain_s, pass_s]  # fmt: skip
            totals = [a + b for a, b in zip(totals, figures, strict=True)]
            print(f"| {call['id']} {kind} | {figures[0]:.1f} | {figures[1]} | {figures[2]} | {figures[3]} | "
                  f"{figures[4]} | {plain_s:.2f} | {pass_s:.2f} |")  # fmt: skip
            for turn, a, b in zip(turns, first, both, strict=True):
                if a.text != b.text:
                    print(f"  added: {turn.text!r} -> {b.text!r}")
    print(f"| all | {totals[0]:.1f} | {totals[1]:.0f} | {totals[2]:.0f} | {totals[3]:.0f} | {totals[4]:.0f} | "
          f"{totals[5]:.2f} | {totals[6]:.2f} (x{totals[6] / totals[5]:.3f}) |")  # fmt: skip


def live(cases_voices: list[tuple[Case, tuple[str, int]]], bands: list[str]) -> None:
    """Live calls (`callscope.live`): each read-out streamed in 0.5 s chunks through the live transcriber (the live
    profile, tiny.en, greedy), its turns redacted as a live contact is stored, without and with the number pass that
    runs when the call ends (`LiveSession.hear_numbers`); the pass's time against the streaming decoding's."""
    import time
    from types import SimpleNamespace

    from faster_whisper.audio import decode_audio

    from callscope.interactions.intake import redactions_of
    from callscope.live.session import LiveSession
    from callscope.live.streaming import StreamingTranscriber, WhisperWindowDecoder
    from callscope.voice.transcribe import load_whisper

    settings = get_settings()
    options = replace(whisper_options(settings), model=settings.live_whisper_model)
    decoder = WhisperWindowDecoder(load_whisper(options), beam_size=settings.live_beam_size)
    rows: dict[tuple[str, str], list[int]] = {}
    stream_s = pass_s = 0.0
    for case, voice in cases_voices:
        for band in bands:
            clips = []
            for text in case.said:
                audio = np.concatenate([np.zeros(8000, np.float32), speak(text, *voice), np.zeros(24000, np.float32)])
                clips.append(decode_audio(io.BytesIO(heard(audio, band)), sampling_rate=16000))  # as the line has it
            transcriber = StreamingTranscriber(decoder, speaker="customer", keep_number_audio=True)
            started = time.perf_counter()
            for audio in clips:
                for k in range(0, audio.size, 8000):
                    transcriber.feed(audio[k : k + 8000])
            transcriber.flush()
            stream_s += time.perf_counter() - started
            started = time.perf_counter()
            LiveSession.hear_numbers(SimpleNamespace(resources=SimpleNamespace(decoder=decoder, whisper=options),
                                                     transcribers={"customer": transcriber}))  # type: ignore[arg-type]
            pass_s += time.perf_counter() - started
            turns = transcriber.turns
            allowed = 4 if case.kind.startswith("card") else 0
            plain = redactions_of([t.model_copy(update={"digit_words": []}) for t in turns])
            row = rows.setdefault((case.kind, band), [0, 0, 0])
            row[0] += 1
            row[1] += digits_left([r.text for r in plain]) <= allowed
            row[2] += digits_left([r.text for r in redactions_of(turns)]) <= allowed
        print(f"\r{sum(r[0] for r in rows.values())} clips", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(f"live model {options.model}; volunteered read-outs redacted in the stored live contact")
    print("| number | band | read-outs | text rules only | with the number pass |")
    print("| --- | --- | --- | --- | --- |")
    for (kind, band), (n, plain, both) in sorted(rows.items()):
        print(f"| {kind} | {band} | {n} | {plain / n:.3f} | **{both / n:.3f}** |")
    n, plain, both = (sum(r[k] for r in rows.values()) for k in range(3))
    print(f"| all | | {n} | {plain / n:.3f} | **{both / n:.3f}** |")
    print(f"streaming decoding {stream_s:.1f} s, number pass at the end {pass_s:.1f} s (x{pass_s / stream_s:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=24, help="numbers of each kind")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N numbers of each kind (tuned on)")
    parser.add_argument("--before", default="HEAD", help="git revision of the baseline redaction")
    parser.add_argument("--model", default="", help="Whisper profile (default: the service's default)")
    parser.add_argument("--no-number-pass", action="store_true", help="first hearing only (the previous pipeline)")
    parser.add_argument("--kinds", default="card,card-group-per-turn,phone,account", help="comma-separated kinds")
    parser.add_argument("--bands", default="wideband,8 kHz", help="comma-separated: wideband, 8 kHz")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--real-speech", action="store_true", help="only the pass's cost on real recorded speech")
    parser.add_argument("--live", action="store_true", help="live calls: the live transcriber and its number pass")
    args = parser.parse_args()
    options = whisper_options(get_settings())
    if args.real_speech:
        return real_speech(options)
    if args.model:
        options = replace(options, model=args.model)
    options = replace(options, number_pass=not args.no_number_pass)
    before = load_before(args.before)
    rows: dict[tuple[str, str], dict[str, int]] = {}
    misses: list[dict] = []
    all_cases = cases(args.numbers)[4 * args.skip :]  # four kinds per number
    if args.live:
        voiced = [(c, VOICES[((i + 4 * args.skip) // 4 + (i + 4 * args.skip) % 4) % len(VOICES)])
                  for i, c in enumerate(all_cases) if c.kind in args.kinds.split(",")]  # fmt: skip
        return live(voiced, args.bands.split(","))
    for i, case in enumerate(all_cases):
        number, kind_index = divmod(i + 4 * args.skip, 4)
        voice = VOICES[(number + kind_index) % len(VOICES)]  # every kind in every voice
        if case.kind not in args.kinds.split(","):
            continue
        for band in args.bands.split(","):
            clips = [transcript(t, voice, band, options) for t in case.said]
            allowed = 4 if case.kind.startswith("card") else 0
            row = rows.setdefault((case.kind, band), {"n": 0, "now": 0, "before": 0, "digits_heard": 0,
                                                      "asked_now": 0, "asked_before": 0})  # fmt: skip
            row["n"] += 1
            row["digits_heard"] += digits_left([t.text for clip in clips for t in clip])
            for asked, name in ((False, ""), (True, "asked_")):
                turns = contact(case.kind, clips, asked=asked)
                now_text = redacted(current, turns, number_pass=options.number_pass)
                row[f"{name}now"] += digits_left(now_text) <= allowed
                row[f"{name}before"] += digits_left(redacted(before, turns, number_pass=False)) <= allowed
                if not asked and digits_left(now_text) > allowed:
                    misses.append({"kind": case.kind, "band": band, "voice": voice[0], "style": case.style,
                                   "heard": [t.text for clip in clips for t in clip],
                                   "digit_hearing": ["".join(w for *_, w in t.digit_words) for c in clips for t in c],
                                   "stored": now_text})  # fmt: skip
        print(f"\r{i + 1}/{len(all_cases)} numbers", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(f"model {options.model or 'tiny.en'}; baseline: redact.py at {args.before}")
    print("| number | band | transcripts | digits heard per number | volunteered: before | volunteered: now | "
          "asked for: before | asked for: now |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (kind, band), row in sorted(rows.items()):
        n = row["n"]
        shares = [row[k] / n for k in ("before", "now", "asked_before", "asked_now")]
        print(f"| {kind} | {band} | {n} | {row['digits_heard'] / n:.1f} | {shares[0]:.3f} | **{shares[1]:.3f}** | "
              f"{shares[2]:.3f} | **{shares[3]:.3f}** |")  # fmt: skip
    total = sum(r["n"] for r in rows.values())
    shares = [sum(r[k] for r in rows.values()) / total for k in ("before", "now", "asked_before", "asked_now")]
    print(f"| all | both | {total} | | {shares[0]:.3f} | **{shares[1]:.3f}** | {shares[2]:.3f} | **{shares[3]:.3f}** |")
    for miss in misses[:20]:
        print("missed:", json.dumps(miss))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": {f"{k}|{b}": r for (k, b), r in rows.items()}, "misses": misses},
                                        indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
