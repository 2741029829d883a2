"""Live calls straight from contact-center platforms: Genesys AudioHook (`WS /v1/audiohook`, the path a setting).

Thin I/O around `callscope.live.audiohook` (the protocol) and `callscope.live.platform` (the call: recording,
streaming transcription, utterances). Control messages are answered on the event loop at once; audio goes through a
queue to one worker per call, so a slow transcriber never delays a `pong`. When the call ends its recording is
posted like an uploaded stereo call (left the customer, right the agent) and analyzed like one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from fastapi import APIRouter, WebSocket
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from api.batching import store_one
from api.deps import open_session
from api.live import _outcomes, _tenant_analysis, live_resources
from callscope.access import httpsig, ratelimit
from callscope.contacts import ContactMeta
from callscope.live.audiohook import AudioHookProtocol, OpenParameters, ProtocolError
from callscope.live.platform import RATE, CallRecorder, PlatformCall, Utterance
from callscope.live.session import LiveSession, redacted
from callscope.settings import Settings, get_settings
from callscope.tenants import integrations

log = logging.getLogger("callscope.api.platforms")
router = APIRouter()
FAILURE_DELAY_S = 0.5  # a refused signature is answered this long after the request, right key or not
CLOSE_BUDGET_S = 8.0  # the client waits 10 s for `closed`: the last transcripts must be out before that
_active: set[str] = set()  # AudioHook session ids open in this process


def _verify_audiohook(headers: dict[str, str], target: str, settings: Settings) -> integrations.Found | None:
    """The tenant behind a signed upgrade, or None (unknown key, bad signature, stale or replayed nonce)."""
    api_key = headers.get("x-api-key", "").strip()
    if not api_key:
        return None
    with open_session() as db:
        found = integrations.find(db, kind="audiohook", key=api_key, service_secret=settings.resolved_customer_hash_key)
    try:
        signed = httpsig.verify(headers, target=target, secret_for=lambda _: found.secret if found else None,
                                now=time.time())  # fmt: skip
    except httpsig.SignatureError as exc:
        log.info("AudioHook upgrade refused: %s", exc)
        return None
    ttl = httpsig.MAX_AGE_S + 2 * httpsig.CLOCK_SKEW_S
    if not ratelimit.first_use(settings.broker_url, key=f"audiohook:{signed.key_id}:{signed.nonce}", ttl_s=ttl):
        log.info("AudioHook upgrade refused: nonce used before")
        return None
    return found


async def _refuse_upgrade(websocket: WebSocket, status: int, detail: str, *, since: float) -> None:
    await asyncio.sleep(max(0.0, since + FAILURE_DELAY_S - time.monotonic()))
    await websocket.send_denial_response(PlainTextResponse(detail, status_code=status))


async def audiohook(websocket: WebSocket) -> None:
    """One AudioHook session: signature checked at the upgrade (401 otherwise), then the protocol."""
    settings, since = get_settings(), time.monotonic()
    headers = {name.lower(): value for name, value in websocket.headers.items()}
    target = websocket.url.path + (f"?{websocket.url.query}" if websocket.url.query else "")
    session_id = headers.get("audiohook-session-id", "")
    organization_id = headers.get("audiohook-organization-id", "")
    found = await run_in_threadpool(_verify_audiohook, headers, target, settings)
    if found is None:
        address = websocket.client.host if websocket.client else "unknown"
        await run_in_threadpool(partial(ratelimit.note_failure, settings.broker_url, address=address))
        return await _refuse_upgrade(websocket, 401, "the AudioHook signature does not verify", since=since)
    if not (0 < len(session_id) <= 100 and 0 < len(organization_id) <= 100):
        return await _refuse_upgrade(websocket, 400, "audiohook-session-id and -organization-id are required", since=since)
    if session_id in _active:
        return await _refuse_upgrade(websocket, 409, "this session id is already streaming", since=since)
    await websocket.accept()
    _active.add(session_id)
    try:
        await AudioHookCall(websocket, AudioHookProtocol(session_id, organization_id), found.tenant, settings).run()
    finally:
        _active.discard(session_id)


class AudioHookCall:
    """One AudioHook session on one WebSocket: the receive loop, the audio worker and the final store."""

    def __init__(self, websocket: WebSocket, protocol: AudioHookProtocol, tenant: str, settings: Settings) -> None:
        self.ws, self.protocol, self.tenant, self.settings = websocket, protocol, tenant, settings
        self.lock = asyncio.Lock()
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.recorder = CallRecorder(max_seconds=settings.max_audio_seconds)
        self.params: OpenParameters | None = None
        self.call: PlatformCall | None = None
        self.worker: asyncio.Task[None] | None = None
        self.backlog = 0  # samples queued for the transcriber
        self.skipped_s = 0.0  # audio recorded but not heard live (the machine was behind)

    async def send(self, build: Callable[[], dict[str, Any]]) -> None:
        """Build and send under one lock, so server messages leave in the order of their `seq`."""
        async with self.lock:
            if self.ws.client_state != WebSocketState.CONNECTED or self.protocol.state == "disconnected":
                return
            message = build()
            try:
                await self.ws.send_text(json.dumps(message))
            except (WebSocketDisconnect, RuntimeError):
                pass

    async def run(self) -> None:
        reason = "client went away"
        try:
            reason = await self._receive()
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
            await self.send(lambda: self.protocol.disconnect(str(exc)))
        except WebSocketDisconnect:
            pass
        finally:
            if self.worker is not None and not self.worker.done():
                if self.protocol.state in ("closing", "closed"):
                    await self._finish_worker()
                else:
                    self.worker.cancel()
            stored = await run_in_threadpool(self._store)
            log.info("AudioHook session %s ended (%s): %s", self.protocol.session_id, reason, stored)
            self.recorder.close()
            if self.ws.client_state == WebSocketState.CONNECTED:
                try:
                    await self.ws.close()
                except RuntimeError:
                    pass

    async def _receive(self) -> str:
        deadline = self.settings.live_auth_timeout_s  # `open` must come this soon; then any message within idle
        while True:
            try:
                message = await asyncio.wait_for(self.ws.receive(), deadline)
            except TimeoutError:
                await self.send(lambda: self.protocol.disconnect("no message within the session's time limit"))
                return "timeout"
            deadline = self.settings.live_idle_timeout_s
            if message["type"] == "websocket.disconnect":
                return "client went away"
            if message.get("bytes") is not None:
                self._audio(message["bytes"])
                continue
            done = await self._text(message.get("text") or "")
            if done:
                return "closed"

    def _audio(self, data: bytes) -> None:
        audio = self.protocol.audio(data)
        at = self.protocol.position_s - next(iter(audio.values())).size / RATE
        for speaker, pcm in audio.items():
            self.recorder.write(speaker, pcm, at_s=at)
        if self.backlog / RATE > self.settings.platform_max_backlog_s:  # behind: record, do not hear live
            self.skipped_s += next(iter(audio.values())).size / RATE
            return
        self.backlog += next(iter(audio.values())).size
        self.queue.put_nowait(("audio", audio))

    async def _text(self, raw: str) -> bool:
        message = self.protocol.read(raw)
        kind = message["type"]
        if kind == "open":
            self.params = self.protocol.open(message)
            await self.send(lambda: self.protocol.opened(self.params))  # type: ignore[arg-type]
            self.worker = asyncio.create_task(self._work())
        elif kind == "ping":
            await self.send(lambda: self.protocol.message("pong"))
        elif kind == "update":
            language = message["parameters"].get("language")
            self.queue.put_nowait(("flush", None))  # an utterance does not run across a language change
            self.protocol.language = language if isinstance(language, str) else self.protocol.language
            await self.send(lambda: self.protocol.message("updated"))
        elif kind == "paused":
            if self.protocol.state == "active":
                self.protocol.state = "paused"
                self.queue.put_nowait(("flush", None))
        elif kind == "resumed":
            if self.protocol.state == "paused":
                self.protocol.state = "active"
            self.protocol.note_position(message["position_s"])
        elif kind == "discarded":
            self.protocol.note_position(message["position_s"])
        elif kind == "error":
            log.warning("AudioHook client error in %s: %s", self.protocol.session_id, str(message["parameters"])[:300])
        elif kind == "close":
            if self.protocol.state in ("closing", "closed"):
                return False
            self.protocol.state = "closing"
            await self._finish_worker()
            await self.send(lambda: self.protocol.message("closed"))
            self.protocol.state = "closed"
            return True
        return False

    async def _finish_worker(self) -> None:
        if self.worker is None:
            return
        self.queue.put_nowait(("end", None))
        try:
            await asyncio.wait_for(asyncio.shield(self.worker), CLOSE_BUDGET_S)
        except TimeoutError:
            log.warning("AudioHook session %s: last transcripts not ready within %g s", self.protocol.session_id,
                        CLOSE_BUDGET_S)  # fmt: skip
            self.worker.cancel()

    def _live_session(self) -> LiveSession:
        resources = live_resources()
        analysis = _tenant_analysis(resources, self.tenant)
        live = LiveSession(self.protocol.session_id, resources, outcomes=_outcomes(self.tenant), settings=self.settings,
                           analysis=analysis)  # fmt: skip
        live.declared_channel = "voice"
        return live

    async def _work(self) -> None:
        """Hear the queued audio in steps of `platform_feed_s` (whatever has piled up when behind); send each
        finished utterance as a transcript event and the panel's suggestions as an agent-assist event."""
        self.call = PlatformCall(await run_in_threadpool(self._live_session), self.recorder)
        pending: dict[str, list[np.ndarray]] = {}
        step = int(self.settings.platform_feed_s * RATE)
        while True:
            kind, audio = await self.queue.get()
            while kind == "audio":
                for speaker, pcm in audio.items():
                    pending.setdefault(speaker, []).append(pcm)
                if self.queue.empty():
                    break
                kind, audio = self.queue.get_nowait()
            waiting = max((sum(p.size for p in parts) for parts in pending.values()), default=0)
            utterances: list[Utterance] = []
            if waiting and (waiting >= step or kind != "audio"):
                joined = {speaker: np.concatenate(parts) for speaker, parts in pending.items()}
                pending.clear()
                self.backlog -= waiting
                utterances += await run_in_threadpool(self.call.hear, joined)
            if kind in ("flush", "end"):
                utterances += await run_in_threadpool(self.call.flush)
            await self._publish(utterances)
            if kind == "end":
                return

    async def _publish(self, utterances: list[Utterance]) -> None:
        if not utterances or self.call is None:
            return
        for utterance in utterances:
            await run_in_threadpool(redacted, utterance.text)  # redaction (spaCy) off the loop; cached for the build
            await self.send(partial(self.protocol.transcript, utterance, redacted))
        answer = await run_in_threadpool(self.call.live.answer, "audio")
        for utterance in utterances:
            await self.send(partial(self.protocol.agent_assist, utterance, redacted, answer.get("suggestions", [])))

    def _store(self) -> dict[str, Any]:
        """The call's recording posted like an uploaded call: transcribed, redacted and analyzed like one."""
        wav = self.recorder.wav()
        if wav is None:
            return {"stored": False, "detail": "no audio"}
        params = self.params
        meta = ContactMeta(
            external_id=(params.conversationId if params else None),
            customer_ref=(params.participant.ani or None) if params else None,
            queue=_config(params, "queue"),
            agent=_config(params, "agent"),
        )
        agent_channel = "right" if len([s for s in self.recorder.samples if self.recorder.samples[s]]) == 2 else None
        try:
            with wav:
                accepted = store_one(tenant=self.tenant, channel="voice", meta=meta, audio=wav, filename="audiohook.wav",
                                     content_type="audio/wav", agent_channel=agent_channel,
                                     idempotency_key=f"audiohook:{self.protocol.session_id}")  # fmt: skip
        except Exception as exc:  # the database or store is down: say so in the log; the platform has its own copy
            log.warning("AudioHook call %s could not be stored: %s", self.protocol.session_id, exc.__class__.__name__)
            return {"stored": False, "detail": exc.__class__.__name__}
        if isinstance(accepted, Exception):
            return {"stored": False, "detail": str(accepted)}
        return {"stored": True, "interaction_id": accepted.id, "skipped_live_s": round(self.skipped_s, 1)}


def _config(params: OpenParameters | None, name: str) -> str | None:
    value = (params.customConfig or {}).get(name) if params else None
    return value[:100] if isinstance(value, str) and value else None


router.add_api_websocket_route(get_settings().audiohook_path, audiohook)
