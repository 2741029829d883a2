"""Live assist through the real stack: `callscope serve` in its own process, a WebSocket client that replays the
sample call in real time (both channels, 2-second chunks of 16 kHz PCM, paced by the clock at 1x), a live worker.

Asserts that the intent and suggestions reach the agent before the call ends, and that the ended session is
stored as a voice contact (turns, no recording) that the worker analyzes to `done`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect

from callscope.voice.transcribe import decode
from tests.conftest import SAMPLES, auth
from tests.services import start_api, stop

pytestmark = pytest.mark.slow
CHUNK_S = 2.0
SPEED = 1.0  # real time; raise it (e.g. 1.5) to shorten the test, the audio guard allows up to 4x
CARD_INTENTS = ("lost_or_stolen_card", "card_payment_not_recognised", "compromised_card")


@pytest.fixture(scope="module")
def server() -> Any:
    proc, base = start_api(name="live-api", env={"OMP_WAIT_POLICY": "PASSIVE"})  # as docs/live.md advises
    yield base
    stop(proc)


def chunk_event(samples: np.ndarray, speaker: str) -> str:
    pcm = base64.b64encode((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()).decode()
    return json.dumps({"type": "audio", "speaker": speaker, "sample_rate": 16000, "pcm16": pcm})


async def replay(url: str, key: str) -> tuple[float, list[tuple[float, float, dict[str, Any]]]]:
    """Send the call as it happens; returns its duration (wall seconds) and (sent at, answered at, answer) triples."""
    left, right = decode(SAMPLES / "call_dual_channel.wav")
    step = int(CHUNK_S * 16000)
    sent: list[float] = []
    answers: list[tuple[float, float, dict[str, Any]]] = []
    async with connect(url, additional_headers=auth(key), max_size=None) as ws:
        start = time.monotonic()

        async def read() -> None:
            async for raw in ws:
                message = json.loads(raw)
                answers.append((sent[len(answers)], time.monotonic() - start, message))
                if message["type"] == "end":
                    return

        reader = asyncio.create_task(read())
        sent.append(0.0)
        await ws.send(json.dumps({"type": "start", "channel": "voice", "external_id": "live-replay"}))
        for k, at in enumerate(range(0, left.size, step)):
            await asyncio.sleep(max(0.0, start + (k + 1) * CHUNK_S / SPEED - time.monotonic()))  # chunk k is now heard
            for speaker, channel in (("agent", left), ("customer", right)):
                sent.append(time.monotonic() - start)
                await ws.send(chunk_event(channel[at : at + step], speaker))
        duration = left.size / 16000 / SPEED
        sent.append(time.monotonic() - start)
        await ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(reader, 120)
    return duration, answers


def test_live_call_replayed_in_real_time(server: str, make_key: Any, live_worker: Any, session: Any) -> None:
    from callscope.storage.db import AudioBlob

    key = make_key("agent")
    url = server.replace("http://", "ws://") + "/v1/live/replay-1"
    duration, answers = asyncio.run(replay(url, key))

    assert all(a["type"] != "error" for _, _, a in answers), [a for _, _, a in answers if a["type"] == "error"]
    audio = [(s, t, a) for s, t, a in answers if a["event"] == "audio"]
    assert len(audio) == 2 * int(np.ceil(duration * SPEED / CHUNK_S)) and all("transcript" in a for _, _, a in audio)
    useful = next(
        (t, a)
        for _, t, a in answers
        if a["intent"]["label"] in CARD_INTENTS
        and {"action", "article"} <= {s["kind"] for s in a["suggestions"]}
        and a["routing"]["queue"] == "security"
    )
    assert useful[0] < duration, f"intent and suggestions came at {useful[0]:.1f} s, after the call ({duration:.1f} s)"
    latencies = sorted(t - s for s, t, _ in audio)
    print(f"\nintent+suggestions at {useful[0]:.1f} s of a {duration:.1f} s call; audio answer latency "
          f"p50 {latencies[len(latencies) // 2]:.2f} s, max {latencies[-1]:.2f} s")  # fmt: skip

    end = answers[-1][2]
    assert end["type"] == "end" and end["reason"] == "end" and end["stored"] is True and end["queued"] is True
    deadline = time.monotonic() + 120
    while True:
        stored = httpx.get(f"{server}/v1/interactions/{end['interaction_id']}", headers=auth(key), timeout=10).json()
        if stored["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert stored["status"] == "done", stored
    assert stored["channel"] == "voice" and stored["external_id"] == "live-replay"
    assert stored["intent"]["label"] in CARD_INTENTS and stored["routing"]["queue"] == "security"
    speakers = {t["speaker"] for t in stored["turns"]}
    text = " ".join(t["text"] for t in stored["turns"]).lower()
    assert speakers == {"agent", "customer"} and "lost my card" in text and "sarah" not in text  # stored redacted
    assert session.get(AudioBlob, end["interaction_id"]) is None  # a live contact keeps turns, not audio
