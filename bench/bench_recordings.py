"""Recordings at scale (issue 16): memory of uploads and downloads, and the time audio redaction adds.

1. Peak memory of the API process (VmHWM, /proc) for an upload and then a full download of a 5- and a 60-minute
   dual-channel call (8 kHz 16-bit stereo WAV, as call recorders export: 9.6 MB and 115 MB), on the folder store
   (the embedded default) and on SeaweedFS (S3). Each size gets a fresh API
   process (SQLite, a private Redis that no worker reads); growth is measured from the process's peak after a
   warm-up upload and download of a 10 s file, so imports and first-request allocations are not counted.
2. Audio redaction's time against transcription's, in one process, on a spoken call (espeak-ng, customer reads a
   card, a phone and an account number) of about 2 minutes: the worker's steps (`transcribe`, then the redaction:
   placeholders located by word timings, the speaker's channel silenced, the copy written), median of 3 each,
   per minute of audio; transcription with the number pass against without it (the first hearing alone), runs
   alternated; and the rewrite alone on the 60-minute file, with its peak memory against the 5-minute one.

    .venv/bin/python bench/bench_recordings.py [--json FILE] [--skip-s3] [--redaction-time-only]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="callscope-bench-recordings-"))
os.environ.setdefault("CALLSCOPE_DATA_DIR", str(WORK / "data"))
os.environ["HF_HUB_OFFLINE"] = "1"

from tests.services import (  # noqa: E402
    S3_ENV,
    RedisServer,
    s3_answers,
    start_api,
    start_seaweedfs,
    stop,
)


def write_call(path: Path, minutes: float, rate: int = 8000) -> Path:
    """A dual-channel 16-bit WAV of `minutes`, written a second at a time (the bench itself stays small)."""
    rng = np.random.default_rng(1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        for _ in range(int(minutes * 60)):
            out.writeframes((rng.normal(0, 2000, (rate, 2))).astype(np.int16).tobytes())
    return path


def peak_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def api_key(database_url: str) -> str:
    from callscope.access.keys import create_api_key
    from callscope.storage.db import get_sessionmaker, migrate

    migrate(database_url)
    with get_sessionmaker(database_url)() as session:
        return create_api_key(session, tenant="bench", role="admin")


def upload_download(base: str, key: str, path: Path) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with path.open("rb") as f:  # httpx streams a file part from the file
        posted = httpx.post(f"{base}/v1/interactions", headers=headers, files={"file": (path.name, f, "audio/wav")},
                            timeout=600)  # fmt: skip
    posted.raise_for_status()
    got = 0
    with httpx.stream("GET", f"{base}/v1/interactions/{posted.json()['id']}/audio", headers=headers,
                      timeout=600) as answer:  # fmt: skip
        answer.raise_for_status()
        for chunk in answer.iter_bytes():
            got += len(chunk)
    if got != path.stat().st_size:
        raise RuntimeError(f"downloaded {got} bytes of {path.stat().st_size}")


def memory_run(store: str, path: Path, warm: Path, store_env: dict[str, str]) -> dict[str, float]:
    folder = WORK / f"api-{store}-{path.stem}"
    broker = RedisServer(folder / "redis", persistent=False)
    broker.start()
    database_url = f"sqlite:///{folder / 'callscope.db'}"
    env = {"CALLSCOPE_DATA_DIR": str(folder), "CALLSCOPE_DATABASE_URL": database_url,
           "CALLSCOPE_BROKER_URL": broker.url, **store_env}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    key = api_key(database_url)
    api, base = start_api(name="bench-api", env=env)
    try:
        upload_download(base, key, warm)
        before = peak_mb(api.pid)
        headers = {"Authorization": f"Bearer {key}"}
        with path.open("rb") as f:
            started = time.perf_counter()
            posted = httpx.post(f"{base}/v1/interactions", headers=headers,
                                files={"file": (path.name, f, "audio/wav")}, timeout=600)  # fmt: skip
            upload_s = time.perf_counter() - started
        posted.raise_for_status()
        after_upload = peak_mb(api.pid)
        started, got = time.perf_counter(), 0
        with httpx.stream("GET", f"{base}/v1/interactions/{posted.json()['id']}/audio", headers=headers,
                          timeout=600) as answer:  # fmt: skip
            for chunk in answer.iter_bytes():
                got += len(chunk)
        download_s = time.perf_counter() - started
        assert got == path.stat().st_size, (got, path.stat().st_size)
        after_download = peak_mb(api.pid)
    finally:
        stop(api)
        broker.stop()
    return {"file_mb": round(path.stat().st_size / 1e6, 1), "peak_before_mb": round(before, 1),
            "upload_growth_mb": round(after_upload - before, 1),
            "download_growth_mb": round(after_download - after_upload, 1),
            "upload_s": round(upload_s, 2), "download_s": round(download_s, 2)}  # fmt: skip


def rewrite_peak(path: Path) -> dict[str, float]:
    """Seconds and peak memory of rewriting `path` with spans silenced, file to file, in a fresh process."""
    code = (
        "import resource, sys, time; from pathlib import Path; "
        "from callscope.voice.audio_redaction import AudioSpan, redact_audio; "
        "spans = [AudioSpan(float(s), float(s) + 4.0, ('CARD',), 1) for s in range(30, 3600, 300)]; "
        "t = time.perf_counter(); "
        "redact_audio(Path(sys.argv[1]), spans, into=open(sys.argv[2], 'wb')); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path), str(WORK / "rewritten.wav")], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split()  # fmt: skip
    return {"rewrite_s": round(float(out[0]), 2), "peak_mb": round(float(out[1]), 1)}


SCRIPT = [
    ("agent", "Good morning, you are through to card services, my name is Sam. How can I help you today?"),
    ("customer", "Hi, I lost my card yesterday and I think someone has used it at a petrol station."),
    ("agent", "I am sorry to hear that. Can I take the long number on the card, please?"),
    ("customer", "Yes, it is 4539 1488 0343 6467."),
    ("agent", "Thank you. And a phone number we can reach you on?"),
    ("customer", "Call me on 07700 900 123, that is my mobile."),
    ("agent", "And which account should the refund go to?"),
    ("customer", "The account number is 3 1 9 2 6 8 1 9."),
    ("agent", "I have blocked the card and ordered a new one, it will arrive in three to five working days."),
    ("customer", "Great, thank you so much for your help."),
]


def redaction_time(repeats: int = 3) -> dict[str, float]:
    """Seconds per minute of audio: transcription with and without the number pass (alternated, same process), and
    the redaction of the turns and the recording."""
    from dataclasses import replace

    from callscope.interactions.intake import redactions_of
    from callscope.interactions.options import whisper_options
    from callscope.settings import get_settings
    from callscope.voice.audio_redaction import pii_spans, redact_audio
    from callscope.voice.transcribe import transcribe
    from tests.speech import spoken_call

    call = WORK / "spoken.wav"
    call.write_bytes(spoken_call(SCRIPT * 2))
    options = whisper_options(get_settings())
    first_only = replace(options, number_pass=False)
    transcribe(call, options=options, agent_channel="left")  # loads the model: not timed
    heard, plain, redact = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        transcribe(call, options=first_only, agent_channel="left")
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        transcript = transcribe(call, options=options, agent_channel="left")
        heard.append(time.perf_counter() - started)
        started = time.perf_counter()
        redactions = redactions_of(transcript.turns)
        spans = pii_spans(transcript.turns, redactions, channel_of=lambda t: 0 if t.speaker == "agent" else 1,
                          duration_s=transcript.duration)  # fmt: skip
        with (WORK / "spoken-redacted.wav").open("wb") as out:
            redact_audio(call, spans, into=out)
        redact.append(time.perf_counter() - started)
    minutes = transcript.duration / 60
    return {"audio_min": round(minutes, 2), "spans": len(spans), "model": get_settings().whisper_model,
            "turns": len(transcript.turns), "heard_again": sum(bool(t.digit_words) for t in transcript.turns),
            "transcribe_first_hearing_s_per_min": round(statistics.median(plain) / minutes, 3),
            "transcribe_s_per_min": round(statistics.median(heard) / minutes, 3),
            "number_pass_ratio": round(statistics.median(heard) / statistics.median(plain), 3),
            "redaction_s_per_min": round(statistics.median(redact) / minutes, 4),
            "ratio": round(statistics.median(redact) / statistics.median(heard), 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-s3", action="store_true")
    parser.add_argument("--redaction-time-only", action="store_true")
    args = parser.parse_args()
    if args.redaction_time_only:
        print("redaction", redaction_time(), flush=True)
        return
    calls = {m: write_call(WORK / f"call-{m}min.wav", m) for m in (5, 60)}
    warm = write_call(WORK / "warm.wav", 10 / 60)
    stores = {"folder": {}}
    seaweed = None
    if not args.skip_s3:
        if not s3_answers():
            seaweed = start_seaweedfs(WORK / "seaweedfs")
        stores["s3"] = S3_ENV
    results: dict[str, object] = {"memory": {}}
    try:
        for store, env in stores.items():
            for minutes, path in calls.items():
                figures = memory_run(store, path, warm, env)
                results["memory"][f"{store}/{minutes}min"] = figures  # type: ignore[index]
                print(store, f"{minutes} min", figures, flush=True)
    finally:
        if seaweed is not None:
            stop(seaweed)
    results["rewrite"] = {f"{m}min": rewrite_peak(p) for m, p in calls.items()}
    print("rewrite", results["rewrite"], flush=True)
    results["redaction_time"] = redaction_time()
    print("redaction", results["redaction_time"], flush=True)
    results["bench_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
