"""Live agent assist latency on loopback: many concurrent WebSocket sessions against a real `callscope serve`.

Starts `python -m cli serve --no-worker` as a subprocess (SQLite in a temporary folder, the broker at
redis://127.0.0.1:6379/15, which is flushed at the end), creates an agent key, warms the models up with one
session, then measures:

- text: `--sessions` concurrent chat sessions, each sending `--turns` turns with `--think` seconds (+-50%) between
  them; latency = turn sent -> its answer (intent, routing, handling time, suggestions) received;
- audio: `--audio-sessions` concurrent sessions, each replaying samples/call_dual_channel.wav in real time, both
  channels in `--chunk` second chunks of 16 kHz PCM; latency = chunk sent -> its answer (with the transcript).

    .venv/bin/python bench/bench_live.py [--sessions 50] [--turns 10] [--audio-sessions 1] [--write]

Prints one JSON object; `--write` also writes bench/results_live.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BROKER = "redis://127.0.0.1:6379/15"
CUSTOMER = [
    "Hi, I lost my card yesterday and I think someone has stolen it",
    "my card payment was declined at the supermarket this morning",
    "I was charged twice for the same coffee, £3.50 two times",
    "I sent money to my sister on Monday and she still has not received it",
    "the ATM did not give me any cash but my account was debited £100",
    "what exchange rate do you use for euros",
    "my top up failed and the money left my bank account",
    "my PIN is blocked after I typed it wrong three times",
    "I want to close my account",
    "there is a direct debit on my statement that I do not recognise",
]
AGENT = ["Thank you for calling Northwind Bank, how can I help?", "Let me look into that for you.",
         "Can you confirm your date of birth please?", "Thank you, one moment."]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ms = np.asarray(values) * 1000
    return {"n": len(values), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1), "max_ms": round(float(ms.max()), 1)}  # fmt: skip


async def text_session(
    url: str, key: str, index: int, turns: int, think: float, out: list[float], errors: list, server: list[float]
) -> None:
    rng = random.Random(index)
    async with connect(url + f"/v1/live/bench-text-{index}-{time.time_ns()}",
                       additional_headers={"Authorization": f"Bearer {key}"}) as ws:  # fmt: skip
        await asyncio.sleep(rng.uniform(0, think))  # sessions start spread out, as contacts do
        for i in range(turns):
            speaker = "customer" if i % 2 else "agent"
            text = rng.choice(CUSTOMER if speaker == "customer" else AGENT)
            if speaker == "customer":  # every customer turn distinct, as in real calls: no cache answers for free
                text += f", that was £{rng.randint(2, 900)}.{rng.randint(10, 99)} on the {rng.randint(1, 28)}th"
            sent = time.perf_counter()
            await ws.send(json.dumps({"type": "turn", "speaker": speaker, "text": text}))
            answer = json.loads(await ws.recv())
            if answer["type"] != "update" or not answer["suggestions"]:
                errors.append(answer)
            out.append(time.perf_counter() - sent)
            server.append(answer.get("latency_ms", 0.0) / 1000)  # the server's own processing time
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        await ws.send(json.dumps({"type": "end"}))
        await ws.recv()


async def audio_session(url: str, key: str, index: int, chunk_s: float, out: list[float], speech: list[float]):
    from callscope.voice.transcribe import decode

    left, right = decode(ROOT / "samples" / "call_dual_channel.wav")
    step = int(chunk_s * 16000)
    async with connect(url + f"/v1/live/bench-audio-{index}-{time.time_ns()}",
                       additional_headers={"Authorization": f"Bearer {key}"}, max_size=None) as ws:  # fmt: skip
        start = time.perf_counter()
        for k, at in enumerate(range(0, left.size, step)):
            await asyncio.sleep(max(0.0, start + (k + 1) * chunk_s - time.perf_counter()))
            for speaker, channel in (("agent", left), ("customer", right)):
                pcm = (np.clip(channel[at : at + step], -1, 1) * 32767).astype("<i2").tobytes()
                event = {
                    "type": "audio",
                    "speaker": speaker,
                    "sample_rate": 16000,
                    "pcm16": base64.b64encode(pcm).decode(),
                }
                sent = time.perf_counter()
                await ws.send(json.dumps(event))
                answer = json.loads(await ws.recv())
                latency = time.perf_counter() - sent
                if answer["type"] != "update" or "transcript" not in answer:
                    raise RuntimeError(f"bad answer: {answer}")
                out.append(latency)
                transcript = answer["transcript"]
                if transcript["committed"] or transcript["partial"].get(speaker):
                    speech.append(latency)  # a chunk that carried speech for this speaker
        await ws.send(json.dumps({"type": "end"}))
        await ws.recv()


async def run(args: argparse.Namespace, url: str, key: str) -> dict[str, Any]:
    warm: list[float] = []
    await text_session(url, key, -1, 2, 0.0, warm, [], [])
    await audio_session(url, key, -1, args.chunk, warm, [])  # loads Whisper and the VAD in the server
    text: list[float] = []
    server: list[float] = []
    errors: list[Any] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(text_session(url, key, i, args.turns, args.think, text, errors, server) for i in range(args.sessions))
    )
    text_wall = time.perf_counter() - started
    audio: list[float] = []
    speech: list[float] = []
    await asyncio.gather(*(audio_session(url, key, i, args.chunk, audio, speech) for i in range(args.audio_sessions)))
    return {
        "text": {"sessions": args.sessions, "turns_per_session": args.turns, "think_s": args.think,
                 "turns_per_s": round(len(text) / text_wall, 1), "bad_answers": len(errors), **percentiles(text),
                 "server_processing": percentiles(server)},
        "audio": {"sessions": args.audio_sessions, "chunk_s": args.chunk, "all_chunks": percentiles(audio),
                  "speech_chunks": percentiles(speech)},
    }  # fmt: skip


def write_markdown(result: dict[str, Any], command: str) -> None:
    t, a = result["text"], result["audio"]
    lines = [
        "# Live agent assist latency (issue 6)",
        "",
        f"`{command}` on {result['machine']}, {result['date']}; load average before/after: "
        f"{result['load_before']} / {result['load_after']} (the machine is shared: other work ran meanwhile).",
        "Server: `python -m cli serve --no-worker` (SQLite in a temporary folder, broker "
        f"`{BROKER}`, `OMP_WAIT_POLICY={result['omp_wait_policy']}`), default Whisper model (bundled tiny.en, "
        "int8, 2 threads), live beam size 1. The load generator runs on the same 2 cores.",
        "",
        "| what | budget | n | p50 | p95 | max |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| text turn -> answer with suggestions, {t['sessions']} concurrent sessions ({t['turns_per_s']} turns/s) "
        f"| p95 < 50 ms | {t['n']} | {t['p50_ms']} ms | {t['p95_ms']} ms | {t['max_ms']} ms |",
    ]
    sp = t["server_processing"]
    lines.append(
        f"| of which the server's processing (`latency_ms` in the answers) | | {sp['n']} | {sp['p50_ms']} ms "
        f"| {sp['p95_ms']} ms | {sp['max_ms']} ms |"
    )
    for label, key in (("every", "all_chunks"), ("speech", "speech_chunks")):
        f = a[key]
        if f:
            lines.append(
                f"| {a['chunk_s']:g} s audio chunk -> answer with transcript ({label} chunk, {a['sessions']} "
                f"session(s), 2 channels) | p95 < 1 s | {f['n']} | {f['p50_ms']} ms | {f['p95_ms']} ms "
                f"| {f['max_ms']} ms |"
            )
    lines += ["", "Raw result:", "", "```json", json.dumps(result, indent=2), "```", ""]
    (ROOT / "bench" / "results_live.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a session's turns (+-50%%)")
    parser.add_argument("--audio-sessions", type=int, default=1)
    parser.add_argument("--chunk", type=float, default=2.0)
    parser.add_argument(
        "--omp-wait-policy", default="PASSIVE", help="the server's OMP_WAIT_POLICY ('' leaves it unset)"
    )
    parser.add_argument("--write", action="store_true", help="write bench/results_live.md")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="callscope-bench-live-"))
    env = {**os.environ, "CALLSCOPE_DATA_DIR": str(folder), "CALLSCOPE_DATABASE_URL": f"sqlite:///{folder}/bench.db",
           "CALLSCOPE_BROKER_URL": BROKER, "HF_HUB_OFFLINE": "1", "PYTHONFAULTHANDLER": "1"}  # fmt: skip
    if args.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy  # see docs/live.md: OpenMP threads that spin starve Whisper
    cli = [sys.executable, "-m", "cli"]
    key = subprocess.run([*cli, "keys", "create", "--tenant", "bench", "--role", "agent"], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    port = free_port()
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen([*cli, "serve", "--no-worker", "--port", str(port), "--log-level", "warning"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start: see {folder / 'server.log'}")
            time.sleep(0.2)
        result = asyncio.run(run(args, base.replace("http://", "ws://"), key))
    finally:
        server.terminate()
        server.wait(timeout=30)
        import redis

        redis.Redis.from_url(BROKER).flushdb()  # the analysis tasks the ended sessions queued (no worker here)
    result.update(
        omp_wait_policy=args.omp_wait_policy or None,
        machine=f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        date=time.strftime("%Y-%m-%d"),
        load_before=load_before,
        load_after=[round(x, 2) for x in os.getloadavg()],
    )
    print(json.dumps(result, indent=2))
    if args.write:
        write_markdown(result, "bench/bench_live.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
