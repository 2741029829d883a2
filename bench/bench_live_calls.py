"""How many live calls a machine carries: stereo calls streamed over Genesys AudioHook at real-time pace.

Starts `python -m cli serve --no-worker` in its own process (SQLite in a temporary folder, the broker at
redis://127.0.0.1:6379/15, flushed at the end) with the live Whisper model under test, registers an AudioHook
integration, warms the models with one call, then for each level streams that many calls at once from this
process (`tests.platform_clients.AudioHookClient`: signed upgrade, 200 ms PCMU stereo frames at 1x, the calls'
starts spread over 2 s). The call is samples/call_dual_channel.wav (a real two-party recording) at 8 kHz.

Measured per level, over every utterance of every call:
- end of utterance -> its transcript event: arrival time minus when the utterance's last word was streamed
  (its `offset + duration` on the AudioHook timeline, paced from the call's start);
- end of utterance -> the updated suggestions (the `agentassist` event for the same utterance);
- whether transcription keeps up: utterances per call (against one idle call's count) and how far the last
  transcript came after the audio ended; the server records everything but skips live hearing when a call's
  backlog passes `platform_max_backlog_s` (30 s), so memory stays flat.

    .venv/bin/python bench/bench_live_calls.py [--models tiny.en base] [--levels 1 5 10 20] [--json F]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callscope.live.audiohook import from_duration  # noqa: E402
from callscope.voice.transcribe import decode  # noqa: E402
from tests.platform_clients import FRAME_S, AudioHookClient, pcmu_frames  # noqa: E402

BROKER = "redis://127.0.0.1:6379/15"
SECRET = b"callscope-bench-client-secret-32"
API_KEY = "bench-audiohook-key-0001"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call_frames() -> tuple[list[bytes], float]:
    """The sample call (left agent, right customer) as 8 kHz PCMU frames, customer first (AudioHook's external)."""
    from scipy.signal import resample_poly

    left, right = decode(ROOT / "samples" / "call_dual_channel.wav")
    to_8k = [(np.clip(resample_poly(x, 1, 2), -1, 1) * 32767).astype(np.int16) for x in (right, left)]
    return pcmu_frames(to_8k[0], to_8k[1]), to_8k[0].size / 8000


async def one_call(url: str, frames: list[bytes], delay: float) -> dict[str, Any]:
    """Stream the call at 1x; returns the latencies of its utterances."""
    await asyncio.sleep(delay)
    peer = await AudioHookClient.connect(url, api_key=API_KEY, secret=SECRET)
    await peer.open()
    arrivals: dict[int, float] = {}
    start = time.perf_counter()

    async def watch() -> None:  # arrival time of each server message, by its seq
        while True:
            for message in peer.received:
                arrivals.setdefault(message["seq"], time.perf_counter() - start)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    await peer.stream(frames, speed=1.0)
    audio_end = time.perf_counter() - start
    await peer.close(timeout_s=60)
    await asyncio.sleep(0.05)
    watcher.cancel()
    transcript_lat, assist_lat, last = [], [], 0.0
    for message in peer.received:
        if message["type"] != "event":
            continue
        entity = message["parameters"]["entities"][0]
        arrived = arrivals.get(message["seq"], time.perf_counter() - start)
        if entity["type"] == "transcript":
            data = entity["data"]
            spoken_end = from_duration(data["offset"]) + from_duration(data["duration"])
            transcript_lat.append(arrived - spoken_end)
            last = max(last, arrived)
        elif entity["type"] == "agentassist":
            said = entity["data"]["utterances"][0]
            assist_lat.append(arrived - from_duration(said["position"]) - from_duration(said["duration"]))
    return {"transcript": transcript_lat, "assist": assist_lat, "utterances": len(transcript_lat),
            "last_after_audio_s": max(0.0, last - audio_end)}  # fmt: skip


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    a = np.asarray(values)
    return {"n": len(values), "p50_s": round(float(np.percentile(a, 50)), 2),
            "p95_s": round(float(np.percentile(a, 95)), 2), "max_s": round(float(a.max()), 2)}  # fmt: skip


async def level(url: str, frames: list[bytes], calls: int) -> dict[str, Any]:
    results = await asyncio.gather(*(one_call(url, frames, 2.0 * i / max(1, calls)) for i in range(calls)))
    return {
        "calls": calls,
        "transcript": summary([x for r in results for x in r["transcript"]]),
        "assist": summary([x for r in results for x in r["assist"]]),
        "utterances_per_call": round(float(np.mean([r["utterances"] for r in results])), 1),
        "last_transcript_after_audio_s": round(max(r["last_after_audio_s"] for r in results), 2),
    }


def serve(model: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "CALLSCOPE_DATA_DIR": str(folder), "CALLSCOPE_BROKER_URL": BROKER,
           "CALLSCOPE_LIVE_WHISPER_MODEL": model, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}  # fmt: skip
    cli = [sys.executable, "-m", "cli"]
    subprocess.run([*cli, "integrations", "add", "audiohook", "--tenant", "bench", "--api-key", API_KEY,
                    "--client-secret", base64.b64encode(SECRET).decode()], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip
    port = free_port()
    log = open(folder / f"server-{model}.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([*cli, "serve", "--no-worker", "--port", str(port), "--log-level", "warning"], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base.replace("http://", "ws://") + "/v1/audiohook"
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    raise SystemExit(f"the server did not start: see {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    parser.add_argument("--levels", nargs="+", type=int, default=[1, 5, 10, 20])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    frames, seconds = call_frames()
    result: dict[str, Any] = {"call_s": round(seconds, 1), "frame_s": FRAME_S, "machine": f"{os.cpu_count()} cores, "
                              f"{platform.python_implementation()} {platform.python_version()}",
                              "date": time.strftime("%Y-%m-%d"), "models": {}}  # fmt: skip
    for model in args.models:
        folder = Path(tempfile.mkdtemp(prefix="callscope-bench-calls-"))
        proc, url = serve(model, folder)
        try:
            asyncio.run(one_call(url, frames, 0.0))  # loads the models (Whisper, VAD, spaCy) in the server
            rows = []
            for calls in args.levels:
                load = os.getloadavg()[0]
                row = asyncio.run(level(url, frames, calls))
                row["load_before"] = round(load, 2)
                rows.append(row)
                print(json.dumps({"model": model, **row}), flush=True)
            result["models"][model] = rows
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            import redis

            redis.Redis.from_url(BROKER).flushdb()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
