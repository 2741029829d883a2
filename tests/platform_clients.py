"""Clients of the contact-center platforms' protocols, as the platforms speak them, for the tests and the bench.

`AudioHookClient` follows Genesys's AudioHook protocol v2 (its published reference client's messages, signature
and pacing): it signs the upgrade (RFC 9421 HMAC-SHA256), opens, streams PCMU stereo frames (channel 0 the
customer = external, 1 the agent = internal), pauses, discards, updates and closes, and keeps what the server sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from callscope.access.httpsig import sign
from callscope.voice.g711 import mulaw_encode

FRAME_S = 0.2  # Genesys sends 200 ms frames


def signed_headers(url: str, *, api_key: str, secret: bytes, session_id: str, organization_id: str,
                   created: int | None = None, nonce: str | None = None) -> dict[str, str]:  # fmt: skip
    """The upgrade's headers as the AudioHook client builds them."""
    parts = urlsplit(url)
    correlation = str(uuid.uuid4())
    components = {
        "@request-target": parts.path + (f"?{parts.query}" if parts.query else ""),
        "@authority": parts.netloc,
        "audiohook-organization-id": organization_id,
        "audiohook-session-id": session_id,
        "audiohook-correlation-id": correlation,
        "x-api-key": api_key,
    }
    signature = sign(components, key_id=api_key, secret=secret, created=created or int(time.time()),
                     nonce=nonce or base64.b64encode(secrets.token_bytes(18)).decode())  # fmt: skip
    return {"Audiohook-Organization-Id": organization_id, "Audiohook-Session-Id": session_id,
            "Audiohook-Correlation-Id": correlation, "X-API-KEY": api_key, **signature}  # fmt: skip


def pcmu_frames(customer: np.ndarray, agent: np.ndarray | None, *, frame_s: float = FRAME_S) -> list[bytes]:
    """8 kHz 16-bit channels as PCMU frames, interleaved customer (external) first."""
    step = int(frame_s * 8000)
    if agent is None:
        return [mulaw_encode(customer[i : i + step]) for i in range(0, customer.size, step)]
    n = max(customer.size, agent.size)
    both = np.zeros((n, 2), dtype=np.int16)
    both[: customer.size, 0], both[: agent.size, 1] = customer, agent
    return [mulaw_encode(both[i : i + step].reshape(-1)) for i in range(0, n, step)]


class AudioHookClient:
    """One AudioHook session from the client side; `received` holds every server message in order."""

    def __init__(self, ws: ClientConnection, *, session_id: str, organization_id: str) -> None:
        self.ws, self.session_id, self.organization_id = ws, session_id, organization_id
        self.seq = 0
        self.serverseq = 0
        self.position_s = 0.0
        self.received: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, *, api_key: str, secret: bytes, **headers: Any) -> AudioHookClient:
        session_id, organization_id = str(uuid.uuid4()), str(uuid.uuid4())
        signed = signed_headers(url, api_key=api_key, secret=secret, session_id=session_id,
                                organization_id=organization_id, **headers)  # fmt: skip
        ws = await connect(url, additional_headers=signed, max_size=None)
        return cls(ws, session_id=session_id, organization_id=organization_id)

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            self.serverseq = message.get("seq", self.serverseq)
            self.received.append(message)

    async def send(self, kind: str, parameters: dict[str, Any] | None = None, **override: Any) -> None:
        self.seq += 1
        message = {"version": "2", "id": self.session_id, "type": kind, "seq": self.seq, "serverseq": self.serverseq,
                   "position": f"PT{self.position_s:.3f}S", "parameters": parameters or {}, **override}  # fmt: skip
        await self.ws.send(json.dumps(message))

    async def wait_for(self, kind: str, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in self.received:
                if message["type"] == kind:
                    return message
            if self._reader.done():
                break
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no {kind!r} from the server; got {[m['type'] for m in self.received]}")

    async def open(
        self,
        *,
        channels: tuple[str, ...] = ("external", "internal"),
        ani: str = "+1-555-555-1234",
        language: str = "en-US",
        custom: dict[str, Any] | None = None,
        conversation_id: str | None = None,
        supported_languages: bool = False,
    ) -> dict[str, Any]:
        media = [{"type": "audio", "format": "PCMU", "channels": list(channels), "rate": 8000}]
        await self.send("open", {
            "organizationId": self.organization_id, "conversationId": conversation_id or str(uuid.uuid4()),
            "participant": {"id": str(uuid.uuid4()), "ani": ani, "aniName": "", "dnis": "+1-800-555-6789"},
            "media": media, "language": language, "customConfig": custom or {},
            "supportedLanguages": supported_languages,
        })  # fmt: skip
        return await self.wait_for("opened", 5.0)  # the platform gives the server 5 s

    async def stream(self, frames: list[bytes], *, speed: float = 1.0, channels: int = 2) -> None:
        """Send frames paced at `speed` x real time."""
        start = time.monotonic()
        for k, frame in enumerate(frames):
            await self.ws.send(frame)
            self.position_s += len(frame) / channels / 8000
            await asyncio.sleep(max(0.0, start + (k + 1) * FRAME_S / speed - time.monotonic()))

    async def close(self, timeout_s: float = 10.0) -> dict[str, Any]:
        await self.send("close", {"reason": "end"})
        closed = await self.wait_for("closed", timeout_s)  # the platform waits 10 s for it
        await self.ws.close()
        return closed

    def transcripts(self) -> list[dict[str, Any]]:
        return [m["parameters"]["entities"][0]["data"] for m in self.received
                if m["type"] == "event" and m["parameters"]["entities"][0]["type"] == "transcript"]  # fmt: skip

    def agent_assist(self) -> list[dict[str, Any]]:
        return [m["parameters"]["entities"][0]["data"] for m in self.received
                if m["type"] == "event" and m["parameters"]["entities"][0]["type"] == "agentassist"]  # fmt: skip
