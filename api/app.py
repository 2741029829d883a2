"""The HTTP API: thin routes that authenticate, validate, call one `callscope` function and map its errors."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.routing import Match

from api import live, metrics, platforms, reports
from api.batching import IngestBatcher, store_one
from api.deps import Admin, Analyzer, Ingest, MetricsReader, Reader, SessionDep, SettingsDep, forget_keys, open_session
from api.enqueue import send_task
from api.guard import RequestGuard
from callscope.access import audit, keys, scrub
from callscope.contacts import (
    ChatBody,
    ChatMessage,
    ContactMeta,
    Turn,
    load_json,
    parse_text_body,
    public_turns,
    turns_from_body,
)
from callscope.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from callscope.interactions import intake
from callscope.interactions.analyze import Batch, analyze_snippet
from callscope.pipeline import webhooks
from callscope.settings import Settings, get_settings
from callscope.storage import store
from callscope.storage import versions as model_versions
from callscope.storage.db import Interaction, utcnow
from callscope.tenants import intents as tenant_intents
from callscope.tenants import learning, scorecards

log = logging.getLogger("callscope.api")
scrub.install()  # no key, credential, query value or PII number in any log line of the API process


def _sweep_forever(stop: threading.Event) -> None:
    """Queue again contacts the broker lost (`recovery.recover_lost_queue` at once after a broker restart,
    `jobs.requeue_stale` for the rest); runs in every API process."""
    from callscope.interactions.jobs import requeue_queued_before, requeue_stale
    from callscope.pipeline.recovery import recover_lost_queue
    from callscope.storage.broker import broker_redis

    settings = get_settings()
    last_retention = 0.0
    while not stop.wait(settings.sweep_interval_s):
        try:
            with open_session() as session:
                recovered = recover_lost_queue(
                    broker_redis(settings.broker_url),
                    requeue=lambda after, before: len(
                        requeue_queued_before(session, after=after, before=before, send=send_task)
                    ),
                    now=utcnow(),
                )
                if recovered is not None and recovered[1]:
                    log.warning("the broker lost what was queued since %s: re-queued %d contacts", *recovered)
                sent = requeue_stale(session, send=send_task, settings=settings)
                if time.monotonic() - last_retention >= settings.retention_interval_s:
                    last_retention = time.monotonic()
                    erased = store.apply_retention(session)
                    if any(erased.values()):
                        log.warning("retention erased %(audio)d recordings and %(contacts)d contacts", erased)
            if sent:
                log.warning("re-queued %d contacts the broker had lost or whose worker stopped", len(sent))
        except Exception as exc:  # database or broker down: the next sweep tries again
            log.warning("sweep skipped: %s", exc.__class__.__name__)


def _load_models(settings: Settings) -> None:
    """Load every model a request may need once, at start-up (a first request must not wait for them)."""
    turns = [Turn(speaker="customer", text="Hello, this is Anna Smith: I lost my card yesterday")]
    analyze_snippet(None, tenant="warm-up", channel="chat", turns=turns, batch=Batch.from_settings(settings))


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    get_settings().check_secrets()  # a placeholder or short secret stops the API before it answers anyone
    stop = threading.Event()
    sweeper = threading.Thread(target=_sweep_forever, args=(stop,), name="callscope-sweeper", daemon=True)
    sweeper.start()
    # the redaction and analysis models load before the first contact arrives, not during it
    await run_in_threadpool(_load_models, get_settings())
    _app.state.batcher = IngestBatcher()
    writer = asyncio.create_task(_app.state.batcher.run())
    yield
    writer.cancel()
    stop.set()


class ErrorOut(BaseModel):
    """Every error answer: a reason (a list of field errors when FastAPI validated the request itself)."""

    detail: str | list[dict[str, Any]]


ERRORS = {
    400: "malformed request",
    401: "missing or invalid API key",
    403: "the key's role may not do this",
    404: "unknown id (or another tenant's)",
    405: "method not allowed",
    409: "conflicts with an existing resource (e.g. a category name in use)",
    413: "over a size or duration limit",
    415: "unsupported content type or not audio",
    422: "invalid body or parameters",
    429: "rate limit exceeded (see Retry-After)",
    503: "database or queue unavailable (see Retry-After)",
}
app = FastAPI(
    lifespan=lifespan,
    responses={code: {"model": ErrorOut, "description": text} for code, text in ERRORS.items()},
    title="Callscope",
    version="0.1.0",
    description="Call-center interaction analytics: post calls, SMS threads and chats; get intent, "
    "routing hints and predicted handling time. Every route but /healthz needs `Authorization: Bearer <key>`.",
)


@app.exception_handler(InvalidInput)
def _invalid(_request: Request, exc: InvalidInput) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)


@app.exception_handler(StoreUnavailable)
def _store_down(_request: Request, exc: StoreUnavailable) -> JSONResponse:
    log.warning("%s", exc)
    return JSONResponse({"detail": f"{exc}, retry later"}, status_code=503, headers={"Retry-After": "5"})


@app.exception_handler(Conflict)
def _conflict(_request: Request, exc: Conflict) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


@app.exception_handler(NotFound)
def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)


@app.exception_handler(405)
async def _method_not_allowed(request: Request, _exc: Exception) -> JSONResponse:
    """List every method of the path in `Allow` (Starlette names only the first route that matched it)."""
    scope = {**request.scope, "method": "_"}
    routes = request.app.router.routes
    methods = {m for r in routes if r.matches(scope)[0] != Match.NONE for m in (getattr(r, "methods", None) or ())}
    return JSONResponse(
        {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(sorted(methods))}
    )


@app.exception_handler(DataError)
def _unstorable(_request: Request, _exc: DataError) -> JSONResponse:
    """A value the database cannot hold (a NUL byte in text, a number out of range) is the caller's error."""
    return JSONResponse({"detail": "a value cannot be stored: NUL bytes in text or a number out of range"}, 422)


@app.exception_handler(OperationalError)
def _database_down(_request: Request, _exc: OperationalError) -> JSONResponse:
    log.warning("database unavailable")
    return JSONResponse({"detail": "database unavailable, retry later"}, status_code=503, headers={"Retry-After": "5"})


class ObserveRequests:
    """Pure ASGI middleware (cheaper per request than `@app.middleware`): request metrics."""

    def __init__(self, asgi: Any) -> None:
        self.asgi = asgi

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.asgi(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def send_observed(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.asgi(scope, receive, send_observed)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.observe_request(route, scope["method"], status, time.perf_counter() - started)


app.add_middleware(RequestGuard)  # body limits, JSON checks and rate limits before any route
app.add_middleware(ObserveRequests)  # outermost: the guard's refusals are counted too


@app.get("/healthz", tags=["ops"])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def operator(request: Request, settings: SettingsDep) -> None:
    """/metrics is the operator's: its own token (CALLSCOPE_METRICS_TOKEN), else only this machine; no tenant key."""
    if settings.metrics_token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), settings.metrics_token.encode()):
            return
        raise HTTPException(401, "metrics need the operator's token", headers={"WWW-Authenticate": "Bearer"})
    if (request.client.host if request.client else "") not in LOOPBACK:
        raise HTTPException(403, "metrics are read on this machine only, or with CALLSCOPE_METRICS_TOKEN")


LOOPBACK = ("127.0.0.1", "::1")


@app.get("/metrics", tags=["ops"], response_class=Response, dependencies=[Depends(operator)])
def prometheus_metrics(session: SessionDep) -> Response:
    """Prometheus metrics of every tenant: for the operator (its token or this machine), never a tenant's key."""
    body, content_type = metrics.render(session)
    return Response(body, media_type=content_type)


LARGE_CONTACT_CHARS = 20_000  # a contact this long is redacted on its own, not in a batch others wait on


class Accepted(BaseModel):
    id: str
    status: str
    created: bool = Field(description="False when an Idempotency-Key matched an earlier post")


async def _read_upload(
    request: Request, settings: Settings
) -> tuple[UploadFile, str | None, str | None, dict[str, Any]]:
    """The recording stays in Starlette's spooled file (on disk past 1 MiB): an hour-long call is never in memory."""
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidInput("multipart uploads need the recording in the field `file`", 400)
    if (upload.size or 0) > settings.max_upload_bytes:
        raise InvalidInput(f"the recording is over the limit of {settings.max_upload_bytes} bytes", 413)
    raw_meta = form.get("metadata") or "{}"
    try:
        meta = load_json(raw_meta if isinstance(raw_meta, str) else await raw_meta.read())
    except InvalidInput as exc:
        raise InvalidInput(f"field `metadata`: {exc}", 400) from exc
    if not isinstance(meta, dict):
        raise InvalidInput("field `metadata` must be a JSON object", 400)
    return upload, upload.filename, upload.content_type, meta


def _recording_hash(audio: Any, meta: dict[str, Any], agent_channel: str | None) -> str:
    """What an Idempotency-Key of a recording answers for: the audio's bytes and the metadata sent with them."""
    digest = hashlib.sha256(json.dumps([meta, agent_channel], sort_keys=True).encode())
    audio.seek(0)
    while chunk := audio.read(1024 * 1024):
        digest.update(chunk)
    audio.seek(0)
    return digest.hexdigest()


def _body_hash(payload: Any) -> str:
    """What an Idempotency-Key of a text contact answers for: its body, whatever the order of its fields."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def _accept_recording(request: Request, settings: Settings, tenant: str, key: str | None) -> Any:
    upload, filename, audio_type, meta = await _read_upload(request, settings)
    try:
        agent_channel = meta.pop("agent_channel", None)
        if agent_channel not in (None, "left", "right", "auto"):
            raise InvalidInput("metadata.agent_channel must be 'left', 'right' or 'auto'")
        duration = await run_in_threadpool(intake.recording_duration, upload.file)
        if duration is not None and duration > settings.max_audio_seconds:
            raise InvalidInput(f"the recording is longer than the limit of {settings.max_audio_seconds:.0f} s", 413)
        request_hash = await run_in_threadpool(_recording_hash, upload.file, meta, agent_channel) if key else None
        return await run_in_threadpool(
            partial(store_one, tenant=tenant, channel="voice", meta=_meta(meta), idempotency_key=key,
                    audio=upload.file, filename=filename, content_type=audio_type, agent_channel=agent_channel,
                    request_hash=request_hash)
        )  # fmt: skip
    finally:
        await upload.close()


@app.post(
    "/v1/interactions",
    status_code=202,
    response_model=Accepted,
    tags=["interactions"],
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "example": {
                            "channel": "sms",
                            "messages": [{"direction": "inbound", "text": "my card has not arrived"}],
                        },
                    }
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "metadata": {
                                "type": "string",
                                "description": 'JSON object, e.g. {"agent_channel": "left"}',
                            },
                        },
                    }
                },
            },
            "required": True,
        }
    },
)
async def post_interaction(request: Request, who: Ingest, settings: SettingsDep, response: Response) -> Accepted:
    """Store a contact safely, then queue it; answers 202 with its id (a repeated Idempotency-Key: the same id)."""
    key = request.headers.get("idempotency-key")
    store.idempotency_digest(key)  # a key too long or not printable: 422 before anything is read or batched
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        accepted = await _accept_recording(request, settings, who.tenant, key)
        if isinstance(accepted, Exception):
            raise accepted
    elif content_type.startswith("application/json"):
        payload = getattr(request.state, "json", None)  # parsed and checked once, by `api.guard`
        body = parse_text_body(payload)
        turns = turns_from_body(body)
        contact = intake.NewTextContact(who.tenant, body.channel, ContactMeta.model_validate(body.model_dump()), key,
                                       turns, _body_hash(payload) if key else None)  # fmt: skip
        if sum(len(t.text) for t in turns) > LARGE_CONTACT_CHARS:  # stored on its own: no batch waits for it
            accepted = await run_in_threadpool(partial(store_one, **dataclasses.asdict(contact)))
        else:
            accepted = await request.app.state.batcher.submit(contact)  # stored and queued with others (group commit)
        if isinstance(accepted, Exception):
            raise accepted
    else:
        raise InvalidInput("send a JSON body (SMS or chat) or a multipart audio upload", 415)
    if not accepted.created:
        response.status_code = 200
    return Accepted(id=accepted.id, status=accepted.status, created=accepted.created)


def _meta(meta: dict[str, Any]) -> ContactMeta:
    try:
        return ContactMeta.model_validate(meta)
    except ValueError as exc:
        raise InvalidInput(f"metadata: {exc}") from exc


def _qa_hidden(session: Session, who: keys.Principal) -> Callable[[Interaction], bool]:
    """Whether a contact's QA scores are kept from the caller: an agent key sees only its own agent's, and only
    where the tenant allows it (PUT /v1/settings/qa)."""
    if who.role != "agent":
        return lambda _row: False
    allowed = who.agent is not None and scorecards.agents_see_own_qa(session, tenant=who.tenant)
    return lambda row: not allowed or row.agent != who.agent


def _view(row: Interaction, hidden: Callable[[Interaction], bool]) -> dict[str, Any]:
    view = store.interaction_view(row)
    if hidden(row):
        view.pop("qa", None)
    return view


@app.get("/v1/interactions/{interaction_id}", tags=["interactions"])
def get_interaction(interaction_id: str, who: Reader, session: SessionDep) -> dict[str, Any]:
    row = store.get_interaction(session, tenant=who.tenant, interaction_id=interaction_id)
    view = _view(row, _qa_hidden(session, who))
    audit.record(session, who, action="read", target=interaction_id)
    return view


@app.delete("/v1/interactions/{interaction_id}", status_code=204, tags=["interactions"])
def delete_interaction(interaction_id: str, who: Admin, session: SessionDep) -> Response:
    """Erase a contact: recording, turns, analysis, outcome."""
    store.delete_interaction(session, tenant=who.tenant, interaction_id=interaction_id)
    audit.record(session, who, action="delete", target=interaction_id)
    return Response(status_code=204)


@app.get("/v1/interactions", tags=["interactions"])
def list_interactions(
    who: Reader,
    session: SessionDep,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    next: Annotated[str | None, Query(description="the `next` cursor of the previous page")] = None,  # noqa: A002
) -> dict[str, Any]:
    rows, cursor = store.list_interactions(session, tenant=who.tenant, status=status, limit=limit, before=next)
    audit.record(session, who, action="list", target=f"{len(rows)} contacts")
    hidden = _qa_hidden(session, who)
    return {"items": [_view(r, hidden) for r in rows], "next": cursor}


class OutcomeIn(BaseModel):
    handle_time_s: float = Field(gt=0, le=86_400, description="actual handling time in seconds")
    queue: str | None = Field(default=None, max_length=100)
    resolution: str | None = Field(default=None, max_length=100)


@app.post("/v1/interactions/{interaction_id}/outcome", tags=["interactions"])
def post_outcome(interaction_id: str, outcome: OutcomeIn, who: Ingest, session: SessionDep) -> dict[str, Any]:
    """Report what happened; later predictions for the same intent learn from it."""
    row = intake.record_outcome(session, tenant=who.tenant, interaction_id=interaction_id, **outcome.model_dump())
    return {
        "interaction_id": interaction_id,
        "handle_time_s": row.handle_time_s,
        "queue": row.queue,
        "resolution": row.resolution,
    }


class AnalyzeIn(BaseModel):
    """A snippet of customer text, or a whole conversation (chat messages, as `POST /v1/interactions` takes them)."""

    text: str | None = Field(default=None, min_length=1, max_length=20_000)
    messages: list[ChatMessage] | None = Field(default=None, min_length=1, max_length=500)
    channel: str = Field(default="chat", pattern="^(voice|sms|chat)$")

    @model_validator(mode="after")
    def _one_source(self) -> AnalyzeIn:
        if (self.text is None) == (self.messages is None):
            raise ValueError("send exactly one of `text` or `messages`")
        return self

    def turns(self) -> list[Turn]:
        if self.text is not None:
            return [Turn(speaker="customer", text=self.text)]
        return turns_from_body(ChatBody(channel="chat", messages=self.messages))


@app.post("/v1/analyze", tags=["analysis"])
def analyze(body: AnalyzeIn, who: Analyzer, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Synchronous analysis of a snippet of customer text or a conversation, the way a posted contact is analyzed
    (nothing is stored)."""
    row, analysis = analyze_snippet(session, tenant=who.tenant, channel=body.channel, turns=body.turns(),
                                    batch=Batch.from_settings(settings))  # fmt: skip
    turns = public_turns(row.turns)
    return {"text": turns[0]["text"] if turns else "", "turns": turns, **analysis.model_dump(),
            "categories": row.categories or [], "repeat_contact": row.analysis["repeat_contact"]}  # fmt: skip


class WebhookIn(BaseModel):
    url: str = Field(min_length=8, max_length=2000)


@app.post("/v1/webhooks", status_code=201, tags=["webhooks"])
def create_webhook(body: WebhookIn, who: Admin, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Register a URL for finished interactions; the secret (shown once) signs each delivery."""
    hook = webhooks.register(session, tenant=who.tenant, url=body.url, allowed=settings.webhook_allowed_hosts)
    audit.record(session, who, action="create webhook", target=str(hook.id))  # the URL may hold credentials: not kept
    return {"id": hook.id, "url": hook.url, "secret": hook.secret}


@app.get("/v1/webhooks", tags=["webhooks"])
def list_webhooks(who: Admin, session: SessionDep) -> list[dict[str, Any]]:
    return [{"id": h.id, "url": h.url} for h in store.webhooks_for(session, tenant=who.tenant)]


@app.delete("/v1/webhooks/{webhook_id}", status_code=204, tags=["webhooks"])
def delete_webhook(webhook_id: Annotated[int, Path(ge=1, le=2**31 - 1)], who: Admin, session: SessionDep) -> Response:
    store.delete_webhook(session, tenant=who.tenant, webhook_id=webhook_id)
    audit.record(session, who, action="delete webhook", target=str(webhook_id))
    return Response(status_code=204)


class KeyIn(BaseModel):
    role: str = Field(pattern="^(ingest|agent|supervisor|admin)$")
    agent: str | None = Field(
        default=None, min_length=1, max_length=100, description="agent keys only: the agent whose contacts are its own"
    )


@app.post("/v1/keys", status_code=201, tags=["admin"])
def create_key(body: KeyIn, who: Admin, session: SessionDep) -> dict[str, Any]:
    """A new key for the admin's own tenant; shown once, stored hashed."""
    key = keys.create_api_key(session, tenant=who.tenant, role=body.role, agent=body.agent)
    audit.record(session, who, action="create_key", target=key[:10])
    return {"key": key, "prefix": key[:10], "role": body.role, "agent": body.agent}


@app.get("/v1/keys", tags=["admin"])
def list_keys(who: Admin, session: SessionDep) -> list[dict[str, Any]]:
    return [{"prefix": k.prefix, "role": k.role, "agent": k.agent, "revoked": k.revoked,
             "created_at": k.created_at.isoformat()} for k in keys.list_keys(session, tenant=who.tenant)]  # fmt: skip


@app.delete("/v1/keys/{prefix}", status_code=204, tags=["admin"])
def revoke_key(prefix: str, who: Admin, session: SessionDep) -> Response:
    keys.revoke_key(session, tenant=who.tenant, prefix=prefix)
    forget_keys()
    audit.record(session, who, action="revoke_key", target=prefix)
    return Response(status_code=204)


@app.get("/v1/audit", tags=["admin"])
def audit_log(
    who: Admin, session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[dict[str, Any]]:
    """Who read, listed, exported or erased which contacts, newest first."""
    return [{"at": e.at.isoformat(), "key_prefix": e.key_prefix, "action": e.action, "target": e.target}
            for e in audit.events(session, tenant=who.tenant, limit=limit)]  # fmt: skip


class RetentionIn(BaseModel):
    audio_days: int | None = Field(default=None, ge=1, le=36500)
    contact_days: int | None = Field(default=None, ge=1, le=36500)


@app.put("/v1/settings/retention", tags=["admin"])
def set_retention(body: RetentionIn, who: Admin, session: SessionDep) -> dict[str, Any]:
    """Recordings (and optionally whole contacts) older than this are erased by the hourly retention sweep."""
    row = store.set_retention(session, tenant=who.tenant, audio_days=body.audio_days, contact_days=body.contact_days)
    audit.record(session, who, action="set retention", target=f"audio {body.audio_days} contacts {body.contact_days}")
    return {"audio_days": row.audio_retention_days, "contact_days": row.contact_retention_days}


class ChannelMapIn(BaseModel):
    agent_channel: Literal["left", "right", "auto"] = Field(
        description="which channel of the tenant's stereo recordings is the agent; auto: decided per call"
    )


@app.put("/v1/settings/channel-map", tags=["admin"])
def set_channel_map(body: ChannelMapIn, who: Admin, session: SessionDep) -> dict[str, Any]:
    """The tenant's channel map: used for every recording that does not bring its own `agent_channel`."""
    row = store.set_channel_map(session, tenant=who.tenant, agent_channel=body.agent_channel)
    audit.record(session, who, action="set channel map", target=row.agent_channel or "auto")
    return {"agent_channel": row.agent_channel or "auto"}


class RecordingPolicyIn(BaseModel):
    keep_original: bool = Field(description="keep each unredacted recording, sealed with the tenant's key, for admins")


@app.put("/v1/settings/recordings", tags=["admin"])
def set_recording_policy(body: RecordingPolicyIn, who: Admin, session: SessionDep) -> dict[str, Any]:
    """Whether the tenant keeps the original of each recording beside its redacted copy (default: discarded)."""
    store.set_keep_original(session, tenant=who.tenant, keep=body.keep_original)
    policy = "keep original" if body.keep_original else "discard"
    audit.record(session, who, action="set recording policy", target=policy)
    return {"keep_original": body.keep_original}


class QaSettingsIn(BaseModel):
    agents_see_own: bool = Field(description="agent keys that name an agent see the QA scores of that agent's contacts")


@app.put("/v1/settings/qa", tags=["qa"])
def set_qa_settings(body: QaSettingsIn, who: Admin, session: SessionDep) -> dict[str, Any]:
    """Whether agents see their own contacts' QA scores (default: no agent sees any)."""
    scorecards.set_agents_see_own_qa(session, tenant=who.tenant, allow=body.agents_see_own)
    audit.record(session, who, action="set qa visibility", target=str(body.agents_see_own).lower())
    return {"agents_see_own": body.agents_see_own}


class IntentThresholdsIn(BaseModel):
    typed: float | None = Field(
        default=None, ge=0.0, le=1.0, description="chats, SMS: under this confidence a turn is `other` (null: default)"
    )
    spoken: float | None = Field(
        default=None, ge=0.0, le=1.0, description="transcribed calls: the same for what the recognizer heard"
    )


@app.put("/v1/settings/intent-thresholds", tags=["admin"])
def set_intent_thresholds(body: IntentThresholdsIn, who: Admin, session: SessionDep) -> dict[str, Any]:
    """The tenant's point on the intent model's trade-off curve (bench/RESULTS.md): a higher threshold sends more
    out-of-scope turns to `other` and costs some in-scope answers. Contacts analyzed from now on use it."""
    tenant_intents.set_thresholds(session, tenant=who.tenant, typed=body.typed, spoken=body.spoken)
    audit.record(session, who, action="set intent thresholds", target=f"typed {body.typed} spoken {body.spoken}")
    return {"typed": body.typed, "spoken": body.spoken}


FORM_ID = Path(pattern=r"^[a-z0-9_-]{1,60}$", description="lower-case letters, digits, _ and -")
MAX_FORM_BYTES = 256 * 1024


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` written in place (an OpenAPI body schema cannot point into itself)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node

    return walk(schema)


_FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inlined(scorecards.form_schema())},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


def _describe_form(definition: dict[str, Any], *, shipped: bool = False) -> dict[str, Any]:
    return {**definition, "shipped": shipped}


@app.get("/v1/qa/forms", tags=["qa"])
def qa_forms(who: Admin, session: SessionDep) -> dict[str, Any]:
    """The tenant's forms in force, newest first (a contact is scored with the newest for its channel), and the
    shipped default, used when none applies."""
    forms = [_describe_form(row.definition) for row in scorecards.active_forms(session, tenant=who.tenant)]
    return {"forms": forms, "default": _describe_form(scorecards.shipped_form(), shipped=True)}


@app.put("/v1/qa/forms/{form_id}", tags=["qa"], openapi_extra=_FORM_BODY)
async def put_qa_form(request: Request, who: Admin, form_id: str = FORM_ID) -> dict[str, Any]:
    """Define a form, or its next version, as JSON or YAML; contacts analyzed from now on are scored with it."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise InvalidInput(f"a form is at most {MAX_FORM_BYTES} bytes", status_code=413)
    form = scorecards.read_form(raw, form_id=form_id)

    def save() -> dict[str, Any]:
        with open_session() as session:
            row = scorecards.put_form(session, tenant=who.tenant, form=form)
            audit.record(session, who, action="put qa form", target=f"{form_id} v{row.version}")
            return _describe_form(row.definition)

    return await run_in_threadpool(save)


@app.delete("/v1/qa/forms/{form_id}", status_code=204, tags=["qa"])
def delete_qa_form(who: Admin, session: SessionDep, form_id: str = FORM_ID) -> Response:
    """Retire a form: contacts analyzed from now on use the tenant's other forms or the shipped one."""
    scorecards.delete_form(session, tenant=who.tenant, form_id=form_id)
    audit.record(session, who, action="delete qa form", target=form_id)
    return Response(status_code=204)


@app.get("/v1/interactions/{interaction_id}/audio/original", tags=["interactions"],
         responses={200: {"content": {"audio/*": {}}}})  # fmt: skip
def original_audio(interaction_id: str, who: Admin, session: SessionDep) -> Response:
    """The unredacted recording, where the tenant's policy kept it: admins only, every fetch audited."""
    chunks = store.load_original(session, tenant=who.tenant, interaction_id=interaction_id)
    audit.record(session, who, action="contact.audio.original", target=interaction_id)
    no_store = {"Cache-Control": "private, no-store"}
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=no_store)


@app.get("/v1/models/handle-time", tags=["models"])
def handle_time_versions(who: MetricsReader, session: SessionDep) -> dict[str, Any]:
    """Every trained handling-time version of the tenant with its metrics; `active` answers predictions."""
    return {"versions": [model_versions.describe(v) for v in learning.versions(session, tenant=who.tenant)]}


@app.post("/v1/models/handle-time/retrain", status_code=202, tags=["models"])
def retrain_handle_time(who: Admin) -> dict[str, Any]:
    """Queue a retraining from the tenant's stored outcomes now (it also runs on a schedule)."""
    try:
        send_task("callscope.retrain", who.tenant)
    except Exception as exc:
        raise HTTPException(503, "the queue is unavailable", headers={"Retry-After": "5"}) from exc
    return {"queued": True, "tenant": who.tenant}


INTENT_NAME = Path(pattern=r"^[a-z][a-z0-9_]{1,59}$", description="lower-case letters, digits and _")


class IntentIn(BaseModel):
    examples: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        min_length=5, max_length=500, description="at least 5 different example utterances (1,000 characters each)"
    )
    queue: str = Field(min_length=1, max_length=100, description="the queue its contacts go to")
    priority: int = Field(ge=1, le=5, description="1 is the most urgent")
    escalate: bool = False


class IntentFitIn(BaseModel):
    base: Literal["none", "banking77"] = Field(
        default="none", description="none: the tenant's intents alone; banking77: beside the 77 Banking77 intents"
    )


@app.get("/v1/intents", tags=["intents"])
def custom_intents_list(who: Admin, session: SessionDep) -> dict[str, Any]:
    """The tenant's own intents and every model version fitted from them (`active` answers analyses)."""
    intents = tenant_intents.list_intents(session, tenant=who.tenant)
    fitted = tenant_intents.versions(session, tenant=who.tenant)
    return {
        "intents": [tenant_intents.describe_intent(i) for i in intents],
        "versions": [model_versions.describe(v) for v in fitted],
    }


@app.put("/v1/intents/{name}", tags=["intents"])
def custom_intent_put(body: IntentIn, who: Admin, session: SessionDep, name: str = INTENT_NAME) -> dict[str, Any]:
    """Define or replace one intent; fit a new version with `POST /v1/intent-models` to use it."""
    try:
        row = tenant_intents.put_intent(
            session,
            tenant=who.tenant,
            name=name,
            examples=body.examples,
            queue=body.queue,
            priority=body.priority,
            escalate=body.escalate,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    audit.record(session, who, action="put intent", target=name)
    return tenant_intents.describe_intent(row)


@app.delete("/v1/intents/{name}", status_code=204, tags=["intents"])
def custom_intent_delete(who: Admin, session: SessionDep, name: str = INTENT_NAME) -> Response:
    if not tenant_intents.delete_intent(session, tenant=who.tenant, name=name):
        raise HTTPException(404, f"no intent {name!r}")
    audit.record(session, who, action="delete intent", target=name)
    return Response(status_code=204)


@app.post("/v1/intent-models", status_code=202, tags=["intents"])
def custom_intents_fit(body: IntentFitIn, who: Admin, session: SessionDep) -> dict[str, Any]:
    """Queue a fit of the tenant's intent model; the version answers once fitted, if it is not worse."""
    defined = len(tenant_intents.list_intents(session, tenant=who.tenant))
    if defined < tenant_intents.MIN_INTENTS[body.base]:
        raise HTTPException(400, f"{defined} intents defined: a model of the tenant's own intents needs two or more")
    try:
        send_task("callscope.fit_intents", who.tenant, body.base)
    except Exception as exc:
        raise HTTPException(503, "the queue is unavailable", headers={"Retry-After": "5"}) from exc
    audit.record(session, who, action="fit intents", target=body.base)
    return {"queued": True, "tenant": who.tenant, "base": body.base}


app.include_router(live.router)  # live agent assist: WS /v1/live/{session_id}, /agent
app.include_router(platforms.router)  # live calls from Genesys AudioHook (WS /v1/audiohook)


app.include_router(reports.router)  # supervisor reports: /reports, /v1/reports/*, /v1/categories
