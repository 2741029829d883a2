"""Live calls straight from contact-center platforms: Genesys AudioHook (`WS /v1/audiohook`, the path a setting)
and Twilio Media Streams (`WS /v1/twilio/media`), and the integrations that let them in (`/v1/integrations`).

Thin I/O around `callscope.live.audiohook` (the protocol) and `callscope.live.platform` (the call: recording,
streaming transcription, utterances). Control messages are answered on the event loop at once; audio goes through a
queue to one worker per call, so a slow transcriber never delays a `pong`. When the call ends its recording is
posted like an uploaded stereo call (left the customer, right the agent) and analyzed like one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Response, WebSocket
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from api import guard
from api.batching import store_one
from api.deps import Admin, SessionDep, SettingsDep, open_session
from api.live import new_live_session
from callscope.access import audit, httpsig, ratelimit
from callscope.contacts import ContactMeta
from callscope.live import follow
from callscope.live.audiohook import AudioHookProtocol, OpenParameters, ProtocolError
from callscope.live.platform import RATE, CallRecorder, PlatformCall, Utterance
from callscope.live.session import LiveSession, redacted
from callscope.live.twilio import StreamError, TwilioStream
from callscope.settings import Settings, get_settings
from callscope.tenants import integrations

log = logging.getLogger("callscope.api.platforms")
router = APIRouter()
FAILURE_DELAY_S = 0.5  # a refused signature is answered this long after the request, right key or not
CLOSE_BUDGET_S = 8.0  # the client waits 10 s for `closed`: the last transcripts must be out before that
_active: set[str] = set()  # AudioHook session ids open in this process


class AudioHookIn(BaseModel):
    api_key: str = Field(
        min_length=16, max_length=200, description="the API key set in Genesys's AudioHook integration"
    )
    client_secret: str = Field(
        min_length=4, max_length=400, description="its client secret, base64 as Genesys shows it"
    )


class TwilioIn(BaseModel):
    auth_token: str = Field(min_length=16, max_length=200, description="the Twilio account's auth token")


@router.post("/v1/integrations/audiohook", status_code=201, tags=["admin"])
def add_audiohook(body: AudioHookIn, who: Admin, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Accept Genesys AudioHook streams signed with this API key and client secret (kept sealed, never returned)."""
    secret = settings.resolved_customer_hash_key
    row, _ = integrations.add(session, tenant=who.tenant, kind="audiohook", api_key=body.api_key,
                              secret=body.client_secret, service_secret=secret)  # fmt: skip
    audit.record(session, who, action="add integration", target=f"audiohook {row.id}")
    return {"id": row.id, "kind": "audiohook", "path": settings.audiohook_path}


@router.post("/v1/integrations/twilio", status_code=201, tags=["admin"])
def add_twilio(body: TwilioIn, who: Admin, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Accept Twilio Media Streams signed with this auth token; the answer's `stream_path` goes into TwiML's
    `<Stream url="wss://HOST{stream_path}">`."""
    row, key = integrations.add(session, tenant=who.tenant, kind="twilio", secret=body.auth_token,
                                service_secret=settings.resolved_customer_hash_key)  # fmt: skip
    audit.record(session, who, action="add integration", target=f"twilio {row.id}")
    return {"id": row.id, "kind": "twilio", "stream_path": f"{settings.twilio_path}?integration={key}"}


@router.get("/v1/integrations", tags=["admin"])
def list_integrations(who: Admin, session: SessionDep) -> list[dict[str, Any]]:
    return integrations.listing(session, tenant=who.tenant)


@router.delete("/v1/integrations/{kind}/{integration_id}", status_code=204, tags=["admin"])
def remove_integration(
    kind: integrations.Kind, integration_id: Annotated[int, Path(ge=1, le=2**31 - 1)], who: Admin, session: SessionDep
) -> Response:
    """Stop accepting the platform's streams (its id as `GET /v1/integrations` lists it)."""
    integrations.remove(session, tenant=who.tenant, kind=kind, integration_id=integration_id)
    audit.record(session, who, action="remove integration", target=str(integration_id))
    return Response(status_code=204)


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
        await run_in_threadpool(guard.note_failure, settings, websocket.scope)
        return await _refuse_upgrade(websocket, 401, "the AudioHook signature does not verify", since=since)
    if not (0 < len(session_id) <= 100 and 0 < len(organization_id) <= 100):
        return await _refuse_upgrade(
            websocket, 400, "audiohook-session-id and -organization-id are required", since=since
        )
    if session_id in _active:
        return await _refuse_upgrade(websocket, 409, "this session id is already streaming", since=since)
    await websocket.accept()
    _active.add(session_id)
    try:
        await AudioHookCall(websocket, AudioHookProtocol(session_id, organization_id), found.tenant, settings).run()
    finally:
        _active.discard(session_id)


class StreamedCall:
    """What every platform's call shares: the recording, the audio queue and its worker, the final store."""

    source = "platform"

    def __init__(self, websocket: WebSocket, tenant: str, settings: Settings, call_id: str) -> None:
        self.ws, self.tenant, self.settings, self.call_id = websocket, tenant, settings, call_id
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.recorder = CallRecorder(max_seconds=settings.max_audio_seconds)
        self.meta = ContactMeta()
        self.call: PlatformCall | None = None
        self.worker: asyncio.Task[None] | None = None
        self.platform_id = ""  # the call as the platform names it: Genesys conversation id, Twilio call SID
        self.backlog = 0  # samples queued for the transcriber
        self.skipped_s = 0.0  # audio recorded but not heard live (the machine was behind)
        self._notices: set[asyncio.Task[None]] = set()

    def take_audio(self, audio: dict[str, np.ndarray], *, at_s: float) -> None:
        """Record a frame at once (nothing accepted is lost), and queue it for the transcriber unless it is behind."""
        for speaker, pcm in audio.items():
            self.recorder.write(speaker, pcm, at_s=at_s)
        seconds = max(pcm.size for pcm in audio.values()) / RATE
        if self.backlog / RATE > self.settings.platform_max_backlog_s:  # behind: record, do not hear live
            if not self.skipped_s:
                log.warning("%s call %s is %.0f s behind: live hearing skips ahead (the recording is whole)",
                            self.source, self.call_id, self.backlog / RATE)  # fmt: skip
                notice = {"type": "notice", "notice": "live transcription is behind and skips ahead; the stored "
                          "call will be complete"}  # fmt: skip
                task = asyncio.get_running_loop().create_task(self.tell_followers(notice))
                self._notices.add(task)  # held until done: the loop keeps only weak references to tasks
                task.add_done_callback(self._notices.discard)
            self.skipped_s += seconds
            return
        self.backlog += int(seconds * RATE)
        self.queue.put_nowait(("audio", audio))

    def start_worker(self) -> None:
        self.worker = asyncio.create_task(self._work())

    async def finish_worker(self) -> None:
        """The queued audio heard and the last utterances published, within the platform's patience."""
        if self.worker is None or self.worker.done():
            return
        self.queue.put_nowait(("end", None))
        try:
            await asyncio.wait_for(asyncio.shield(self.worker), CLOSE_BUDGET_S)
        except TimeoutError:
            log.warning("%s call %s: last transcripts not ready within %g s", self.source, self.call_id, CLOSE_BUDGET_S)
            self.worker.cancel()

    def _live_session(self) -> LiveSession:
        live = new_live_session(self.call_id, self.tenant, self.settings)
        live.declared_channel = "voice"
        live.silence_s = self.settings.platform_silence_s
        return live

    async def _work(self) -> None:
        """Hear the queued audio in steps of `platform_feed_s` (whatever has piled up when behind) and publish the
        utterances it finishes; a `flush` (pause, language change) or the `end` finishes every pending one."""
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
            if utterances:
                for utterance in utterances:  # redaction (spaCy) off the loop; cached for what is built from it
                    await run_in_threadpool(redacted, utterance.text)
                answer = await run_in_threadpool(self.call.live.answer, "audio")
                await self.publish(utterances, answer)
                said = [{"speaker": u.speaker, "start": round(u.start, 2), "end": round(u.end, 2),
                         "text": redacted(u.text)} for u in utterances]  # fmt: skip
                await self.tell_followers({**answer, "transcript": {"committed": said, "partial": {}}})
            if kind == "end":
                return

    async def publish(self, utterances: list[Utterance], answer: dict[str, Any]) -> None:
        """Where the platform's protocol takes transcripts and suggestions back (none for a one-way stream)."""

    async def tell_followers(self, update: dict[str, Any]) -> None:
        """The agent's panel and desktop integrations following this call by its platform id."""
        if self.platform_id:
            update = {**update, "platform": self.source, "call": self.platform_id}
            await run_in_threadpool(partial(follow.publish, self.settings.broker_url, tenant=self.tenant,
                                            platform_id=self.platform_id, update=update))  # fmt: skip

    async def end(self, reason: str, *, graceful: bool) -> None:
        """The worker finished (graceful) or stopped, then the recording stored like a posted call."""
        if graceful:
            await self.finish_worker()
        elif self.worker is not None:
            self.worker.cancel()
        stored = await run_in_threadpool(self._store)
        log.info("%s call %s ended (%s): %s", self.source, self.call_id, reason, stored)
        await self.tell_followers({"type": "end", "reason": reason, **stored})
        self.recorder.close()

    def _store(self) -> dict[str, Any]:
        """The call's recording posted like an uploaded call: transcribed, redacted and analyzed like one."""
        wav = self.recorder.wav()
        if wav is None:
            return {"stored": False, "detail": "no audio"}
        stereo = sum(1 for n in self.recorder.samples.values() if n) == 2
        try:
            with wav:
                accepted = store_one(tenant=self.tenant, channel="voice", meta=self.meta, audio=wav,
                                     filename=f"{self.source}.wav", content_type="audio/wav",
                                     agent_channel="right" if stereo else None,
                                     idempotency_key=f"{self.source}:{self.call_id}")  # fmt: skip
        except Exception as exc:  # the database or store is down: said in the log; the platform has its own copy
            log.warning("%s call %s could not be stored: %s", self.source, self.call_id, exc.__class__.__name__)
            return {"stored": False, "detail": exc.__class__.__name__}
        if isinstance(accepted, Exception):
            return {"stored": False, "detail": str(accepted)}
        return {"stored": True, "interaction_id": accepted.id, "skipped_live_s": round(self.skipped_s, 1)}


class AudioHookCall(StreamedCall):
    """One AudioHook session: control messages answered on the loop, audio to the worker, events back."""

    source = "audiohook"

    def __init__(self, websocket: WebSocket, protocol: AudioHookProtocol, tenant: str, settings: Settings) -> None:
        super().__init__(websocket, tenant, settings, protocol.session_id)
        self.protocol = protocol
        self.lock = asyncio.Lock()

    async def send(self, build: Callable[[], dict[str, Any]]) -> None:
        """Build and send under one lock, so server messages leave in the order of their `seq`."""
        async with self.lock:
            if self.ws.client_state != WebSocketState.CONNECTED or self.protocol.state == "disconnected":
                return
            message = build()
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.ws.send_text(json.dumps(message))

    async def run(self) -> None:
        reason = "client went away"
        try:
            reason = await self._receive()
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
            await self.send(partial(self.protocol.disconnect, str(exc)))
        except WebSocketDisconnect:
            pass
        finally:  # the socket first: the platform is told at once, the store may wait for a busy machine
            await _close(self.ws)
            await self.end(reason, graceful=self.protocol.state in ("closing", "closed"))

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
                audio = self.protocol.audio(message["bytes"])
                self.take_audio(audio, at_s=self.protocol.position_s - next(iter(audio.values())).size / RATE)
            elif await self._text(message.get("text") or ""):
                return "closed"

    async def _text(self, raw: str) -> bool:
        """Act on one text message; True once the session is closed."""
        message = self.protocol.read(raw)
        kind = message["type"]
        if kind == "open":
            params = self.protocol.open(message)
            self.platform_id = params.conversationId[:100]
            self.meta = ContactMeta(external_id=params.conversationId[:200],
                                    customer_ref=params.participant.ani or None,
                                    queue=_config(params, "queue"), agent=_config(params, "agent"))  # fmt: skip
            await self.send(lambda: self.protocol.opened(params))
            self.start_worker()
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
            log.warning("AudioHook client error in %s: %s", self.call_id, str(message["parameters"])[:300])
        elif kind == "close" and self.protocol.state not in ("closing", "closed"):
            self.protocol.state = "closing"
            await self.finish_worker()
            await self.send(lambda: self.protocol.message("closed"))
            self.protocol.state = "closed"
            return True
        return False

    async def publish(self, utterances: list[Utterance], answer: dict[str, Any]) -> None:
        """Transcript events (Transcription Connector), then the panel's suggestions as agent-assist events."""
        for utterance in utterances:
            await self.send(partial(self.protocol.transcript, utterance, redacted))
        for utterance in utterances:
            await self.send(partial(self.protocol.agent_assist, utterance, redacted, answer.get("suggestions", [])))


class TwilioCall(StreamedCall):
    """One Twilio Media Stream: one-way, so transcripts and suggestions go only to the agent's subscriptions."""

    source = "twilio"

    def __init__(self, websocket: WebSocket, tenant: str, settings: Settings) -> None:
        super().__init__(websocket, tenant, settings, call_id="")
        self.stream = TwilioStream()

    async def run(self) -> None:
        reason, graceful = "client went away", False
        try:
            reason = await self._receive()
            graceful = reason == "stop"
        except StreamError as exc:
            reason = f"protocol error: {exc}"
            await _close(self.ws, POLICY_VIOLATION, str(exc))
        except WebSocketDisconnect:
            pass
        finally:
            await _close(self.ws)
            if self.stream.started:
                await self.end(reason, graceful=graceful)
            else:
                self.recorder.close()

    async def _receive(self) -> str:
        deadline = self.settings.live_auth_timeout_s
        while True:
            try:
                message = await asyncio.wait_for(self.ws.receive(), deadline)
            except TimeoutError:
                await _close(self.ws, POLICY_VIOLATION, "no event within the stream's time limit")
                return "timeout"
            deadline = self.settings.live_idle_timeout_s
            if message["type"] == "websocket.disconnect":
                return "client went away"
            event = self.stream.read(message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace"))
            if event["event"] == "start":
                self.stream.start(event)
                self.call_id = self.stream.call_sid or self.stream.stream_sid or "unknown"
                self.platform_id = self.stream.call_sid
                self.meta = _meta_from(self.stream.parameters, external_id=self.stream.call_sid)
                self.start_worker()
            elif event["event"] == "media":
                speaker, pcm, at_s = self.stream.media(event)
                self.take_audio({speaker: pcm}, at_s=at_s)
            elif event["event"] == "stop":
                self.stream.stopped = True
                return "stop"


POLICY_VIOLATION = 1008


async def _close(websocket: WebSocket, code: int = 1000, reason: str = "") -> None:
    if websocket.client_state == WebSocketState.CONNECTED and websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # the peer may have left first
            await websocket.close(code, reason=reason[:120])


def _meta_from(parameters: dict[str, str], *, external_id: str | None) -> ContactMeta:
    """TwiML `<Parameter>`s queue, agent and customer_ref (hashed at store like every customer reference)."""
    return ContactMeta(external_id=external_id or None, queue=parameters.get("queue") or None,
                       agent=parameters.get("agent") or None,
                       customer_ref=parameters.get("customer_ref") or None)  # fmt: skip


def _config(params: OpenParameters, name: str) -> str | None:
    value = (params.customConfig or {}).get(name)
    return value[:100] if isinstance(value, str) and value else None


def _verify_twilio(integration: str, signature: str, urls: list[str], settings: Settings) -> integrations.Found | None:
    """The tenant behind a Media Stream whose `X-Twilio-Signature` verifies with its registered auth token."""
    from twilio.request_validator import RequestValidator

    if not integration or not signature or len(integration) > 100:
        return None
    with open_session() as db:
        found = integrations.find(
            db, kind="twilio", key=integration, service_secret=settings.resolved_customer_hash_key
        )
    if found is None:
        return None
    validator = RequestValidator(found.secret.decode())
    return found if any(validator.validate(url, {}, signature) for url in urls) else None


async def twilio_media(websocket: WebSocket) -> None:
    """One Twilio Media Stream: signature checked at the upgrade (401 otherwise), then its events."""
    settings, since = get_settings(), time.monotonic()
    host = websocket.headers.get("host", "")
    target = websocket.url.path + (f"?{websocket.url.query}" if websocket.url.query else "")
    urls = [f"wss://{host}{target}", f"{websocket.url.scheme}://{host}{target}"]  # TLS may end at a proxy
    found = await run_in_threadpool(_verify_twilio, websocket.query_params.get("integration", ""),
                                    websocket.headers.get("x-twilio-signature", ""), urls, settings)  # fmt: skip
    if found is None:
        await run_in_threadpool(guard.note_failure, settings, websocket.scope)
        return await _refuse_upgrade(websocket, 401, "the X-Twilio-Signature does not verify", since=since)
    await websocket.accept()
    await TwilioCall(websocket, found.tenant, settings).run()


router.add_api_websocket_route(get_settings().audiohook_path, audiohook)
router.add_api_websocket_route(get_settings().twilio_path, twilio_media)
