"""Live agent assist over a WebSocket, and the agent page that shows it: thin routes over `callscope.live.session`.

`WS /v1/live/{session_id}`: authenticate (the `Authorization: Bearer` header, or a first `auth` message
for browsers; never a key in the URL), then answer each event with one JSON message. The session ends
with an `end` event, an idle timeout or a disconnect; the contact is then stored and queued for analysis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from api import guard
from api.deps import authenticate_cached, open_session
from api.enqueue import send_task
from callscope.access import audit, keys
from callscope.contacts import load_json
from callscope.errors import InvalidInput
from callscope.live import follow
from callscope.live.events import error_event
from callscope.live.session import (
    LiveResources,
    LiveSession,
    handle_event,
    is_heavy,
    load_message,
    store_session,
)
from callscope.settings import get_settings
from callscope.storage import store

log = logging.getLogger("callscope.api.live")
router = APIRouter()
PAGE_DIR = Path(__file__).resolve().parent / "static" / "agent"
PAGE_FILES = {"agent.js": "text/javascript", "agent.css": "text/css"}
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
)
SESSION_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
URL_KEY_PARAMS = ("key", "api_key", "apikey", "token", "access_token", "authorization")
POLICY_VIOLATION = 1008
_active: set[tuple[str, str]] = set()  # (tenant, session id) open in this process


_RESOURCES_LOCK = threading.Lock()


def live_resources() -> LiveResources:
    """Loaded once per process, on the first session (the Whisper model later, on the first audio); sessions that
    open together wait for the first one's load rather than load the models at once."""
    with _RESOURCES_LOCK:
        return _live_resources()


@lru_cache
def _live_resources() -> LiveResources:
    return LiveResources.from_settings(get_settings())


def _used_before(tenant: str, session_id: str) -> bool:
    with open_session() as db:
        return store.idempotency_key_used(db, tenant=tenant, key=session_id, namespace="live")


def new_live_session(session_id: str, tenant: str, settings: Any) -> LiveSession:
    """A live session on the process's shared models with the tenant's own intents, routes and outcomes: every
    live contact starts here (`/v1/live`, AudioHook, Twilio). Loads the models on the first one."""
    resources = live_resources()
    return LiveSession(session_id, resources, outcomes=_outcomes(tenant), settings=settings,
                       analysis=_tenant_analysis(resources, tenant))  # fmt: skip


def _tenant_analysis(resources: LiveResources, tenant: str) -> Any:
    """The tenant's own intent model and routes for this session, when it has fitted one."""
    from callscope.interactions.analyze import tenant_resources

    with open_session() as db:
        return tenant_resources(db, resources.analysis, tenant=tenant)


def _outcomes(tenant: str) -> Any:
    def lookup(intent: str | None) -> dict[str, list[float]]:
        with open_session() as db:
            return store.outcome_durations(db, tenant=tenant, intent=intent)

    return lookup


def _store(live: LiveSession, tenant: str) -> dict[str, Any]:
    try:
        with open_session() as db:
            return store_session(live, db=db, tenant=tenant, send=send_task)
    except Exception as exc:  # the database is down: say so; the session's answers were already given
        log.warning("live session %s could not be stored: %s", live.session_id, exc.__class__.__name__)
        return {"stored": False, "detail": "the database is unavailable: the contact was not stored"}


async def _refuse(websocket: WebSocket, message: str) -> None:
    await websocket.send_json(error_event(message, fatal=True))
    await websocket.close(POLICY_VIOLATION, reason=message[:120])


async def _credentials(websocket: WebSocket, timeout_s: float) -> tuple[str | None, str | None]:
    """The key from the header, or from a first `{"type": "auth", "key": ...}` message; else why not."""
    header = websocket.headers.get("authorization", "")
    if header:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None, "the Authorization header must be `Bearer <key>`"
        return key.strip(), None
    try:
        first = await asyncio.wait_for(websocket.receive_text(), timeout_s)
        message = load_json(first)
    except TimeoutError:
        return None, f"no credentials within {timeout_s:g} s: send `Authorization: Bearer <key>` or an auth message"
    except (InvalidInput, KeyError):
        return None, 'the first message must be {"type": "auth", "key": "..."} (or send the Authorization header)'
    if not (isinstance(message, dict) and message.get("type") == "auth" and isinstance(message.get("key"), str)):
        return None, 'the first message must be {"type": "auth", "key": "..."} (or send the Authorization header)'
    return message["key"], None


def _audit_follow(who: keys.Principal, platform_id: str) -> None:
    with open_session() as db:
        audit.record(db, who, action="live.follow", target=platform_id)


async def _accept(websocket: WebSocket, ident: str, what: str) -> keys.Principal | None:
    """Accept the socket, then the caller's key (header or first message) with the `analyze` permission; else
    refuse with a reason and return None. Failed keys count against the address like every failed login."""
    settings = get_settings()
    await websocket.accept()
    if any(name in websocket.query_params for name in URL_KEY_PARAMS):
        await _refuse(websocket, "API keys are never accepted in URLs: use the Authorization header or auth")
        return None
    if not SESSION_ID.fullmatch(ident):
        await _refuse(websocket, f"{what} must be 1-100 characters of letters, digits and . _ : -")
        return None
    try:
        key, problem = await _credentials(websocket, settings.live_auth_timeout_s)
    except WebSocketDisconnect:
        return None
    who = await run_in_threadpool(authenticate_cached, key) if key else None
    if who is None:
        await run_in_threadpool(guard.note_failure, settings, websocket.scope)
        await _refuse(websocket, problem or "invalid API key")
        return None
    if not who.may("analyze"):
        await _refuse(websocket, f"role {who.role!r} may not analyze")
        return None
    return who


@router.websocket("/v1/live/{session_id}")
async def live_session(websocket: WebSocket, session_id: str) -> None:
    """One live contact: events in, one answer per event out; stored and analyzed when it ends."""
    who = await _accept(websocket, session_id, "session id")
    if who is None:
        return
    if (who.tenant, session_id) in _active:
        return await _refuse(websocket, f"session {session_id} is already open")
    if await run_in_threadpool(_used_before, who.tenant, session_id):
        return await _refuse(websocket, f"session id {session_id} was used before: a new call needs a new id")
    _active.add((who.tenant, session_id))
    try:
        await _run(websocket, session_id, who, via_message=not websocket.headers.get("authorization"))
    finally:
        _active.discard((who.tenant, session_id))


async def _run(websocket: WebSocket, session_id: str, who: keys.Principal, *, via_message: bool) -> None:
    settings = get_settings()
    live = await run_in_threadpool(new_live_session, session_id, who.tenant, settings)
    reason, answer = "disconnected", None
    try:
        if via_message:  # the auth message gets its answer, like every other message
            await websocket.send_json({"type": "ready", "session_id": session_id, "role": who.role})
        while True:
            try:
                message = await asyncio.wait_for(websocket.receive(), settings.live_idle_timeout_s)
            except TimeoutError:
                reason = "idle timeout"
                break
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("text") if message.get("text") is not None else message.get("bytes") or b""
            event, answer = load_message(live, raw)
            if answer is None:  # text turns answer in a few ms on the loop; thread hops would cost more than that
                answer = (
                    await run_in_threadpool(handle_event, live, event) if is_heavy(event) else handle_event(live, event)
                )
            if live.ended:
                reason = "end"
                break
            await websocket.send_json(answer)
            if answer.get("fatal"):
                reason = "closed: " + answer["error"]
                break
    except WebSocketDisconnect:
        pass
    stored = await run_in_threadpool(_store, live, who.tenant)
    log.info("live session %s ended (%s): %s", session_id, reason, stored)
    if websocket.application_state != WebSocketState.CONNECTED or websocket.client_state != WebSocketState.CONNECTED:
        return
    try:
        if reason == "end" and answer is not None:
            await websocket.send_json({**answer, "reason": reason, **stored})
        elif reason == "idle timeout":
            final = await run_in_threadpool(live.answer, "timeout")
            await websocket.send_json({**final, "type": "end", "reason": reason, **stored})
        await websocket.close(POLICY_VIOLATION if reason.startswith("closed") else 1000)
    except (WebSocketDisconnect, RuntimeError):  # the client went away meanwhile
        pass


@router.websocket("/v1/live/calls/{platform_id}")
async def follow_call(websocket: WebSocket, platform_id: str) -> None:
    """Follow a platform's live call by its id (Genesys conversation id, Twilio call SID): the same updates a
    `/v1/live` session answers, as the call's audio is heard, until it ends. Authenticated like `/v1/live`."""
    settings = get_settings()
    who = await _accept(websocket, platform_id, "call id")
    if who is None:
        return
    await run_in_threadpool(_audit_follow, who, platform_id)
    await websocket.send_json({"type": "ready", "call": platform_id, "role": who.role})

    async def forward() -> None:
        async for update in follow.follow(settings.broker_url, tenant=who.tenant, platform_id=platform_id):
            await websocket.send_json(update)
            if update.get("type") == "end":
                return

    async def until_gone() -> None:  # the follower closed its panel: stop listening for the call
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    tasks = {asyncio.create_task(forward()), asyncio.create_task(until_gone())}
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if websocket.client_state == WebSocketState.CONNECTED and websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(1000)


@router.get("/agent", include_in_schema=False)
def agent_page() -> FileResponse:
    """The live panel for demos and browser tests: plain HTML and JS served by the app, no CDN."""
    return FileResponse(PAGE_DIR / "index.html", media_type="text/html", headers={"Content-Security-Policy": PAGE_CSP})


@router.get("/agent/{name}", include_in_schema=False)
def agent_asset(name: str) -> FileResponse:
    media = PAGE_FILES.get(name)
    if media is None:
        raise HTTPException(404, "not found")
    return FileResponse(PAGE_DIR / name, media_type=media, headers={"Cache-Control": "no-cache"})
