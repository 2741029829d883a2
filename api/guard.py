"""Rules every HTTP request meets before any route runs, so that no route can skip them.

- A body is read only up to its limit (a chunked body too): past it the answer is 413 and nothing more is read.
- A JSON body is parsed once here with `callscope.contacts.load_json` (no NaN or Infinity, no number out of range,
  no deep nesting, no NUL byte or lone surrogate); routes get the same bytes, and the parsed document in
  `request.state.json`.
- Every caller is rate limited: by API key, report session or platform integration, else by address (all but
  `/healthz`), and an address that keeps failing to authenticate (wrong keys, wrong logins) is held off with 429
  for the rest of the minute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.responses import JSONResponse

from callscope.access import ratelimit
from callscope.contacts import load_json
from callscope.errors import InvalidInput
from callscope.settings import Settings, get_settings

EXEMPT = ("/healthz",)  # load balancers' probes: no key, no body, no state
JSON_BODY_LIMIT = 1024 * 1024  # every JSON route but the contacts' (the settings' max_text_chars bound that)
SESSION_COOKIE = "callscope_session"


class BodyTooLarge(Exception):
    pass


def body_limit(scope: dict[str, Any], settings: Settings) -> int:
    content_type = _header(scope, b"content-type")
    if content_type.startswith("multipart/form-data"):
        return settings.max_upload_bytes
    if scope["path"] == "/v1/interactions":
        return max(JSON_BODY_LIMIT, settings.max_text_chars * 4)
    return JSON_BODY_LIMIT


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def caller(scope: dict[str, Any]) -> tuple[str, str]:
    """(rate-limit bucket, address): the key's digest, the report session's, else the client's address."""
    address = (scope.get("client") or ("unknown", 0))[0]
    scheme, _, credentials = _header(scope, b"authorization").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return "key:" + hashlib.sha256(credentials.strip().encode()).hexdigest()[:24], address
    platform = _header(scope, b"x-api-key") or _query_value(scope, b"integration")  # AudioHook's key, Twilio's id
    if platform:
        return "platform:" + hashlib.sha256(platform.strip().encode()).hexdigest()[:24], address
    cookie = _header(scope, b"cookie")
    if f"{SESSION_COOKIE}=" in cookie:
        token = cookie.split(f"{SESSION_COOKIE}=", 1)[1].split(";", 1)[0]
        return "session:" + hashlib.sha256(token.encode()).hexdigest()[:24], address
    return "address:" + address, address


def _query_value(scope: dict[str, Any], name: bytes) -> str:
    for pair in scope.get("query_string", b"").split(b"&"):
        key, _, value = pair.partition(b"=")
        if key == name:
            return value.decode("latin-1")
    return ""


def _refusal(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _too_large(limit: int) -> JSONResponse:
    """413, and the connection closed after it: the server reads no more of what the client still sends."""
    return _refusal(413, f"the request body is over the limit of {limit} bytes", {"Connection": "close"})


class RequestGuard:
    """Pure ASGI middleware: limits, JSON checks and rate limits for every HTTP route."""

    def __init__(self, asgi: Any) -> None:
        self.asgi = asgi

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        websocket = scope["type"] == "websocket"  # a live session: its connection counts against its caller's limit
        if websocket and await anyio.to_thread.run_sync(_rate_limited, get_settings(), scope) is not None:
            await receive()
            return await send({"type": "websocket.close", "code": 1008, "reason": "rate limit exceeded"})
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            return await self.asgi(scope, receive, send)
        if b"%00" in scope.get("query_string", b""):
            return await _refusal(422, "NUL bytes are not allowed in query parameters")(scope, receive, send)
        settings = get_settings()
        refused = await anyio.to_thread.run_sync(_rate_limited, settings, scope)
        if refused is not None:
            return await refused(scope, receive, send)
        status = {"code": 0}

        async def send_watched(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        limit = body_limit(scope, settings)
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            return await _too_large(limit)(scope, receive, send)
        content_type = _header(scope, b"content-type")
        try:
            if content_type.startswith("multipart/form-data"):
                await self.asgi(scope, _counting(receive, limit), send_watched)
            else:
                body = await _read_body(receive, limit)
                if body and _is_json(content_type):
                    scope.setdefault("state", {})["json"] = load_json(body)
                elif body and not content_type.strip():  # FastAPI reads a body without a type as JSON
                    _check_untyped(body)
                await self.asgi(scope, _replay(body, receive), send_watched)
        except BodyTooLarge:
            if not status["code"]:
                await _too_large(limit)(scope, receive, send)
        except InvalidInput as exc:
            if not status["code"]:
                await _refusal(exc.status_code, str(exc))(scope, receive, send)
        if status["code"] == 401:
            await anyio.to_thread.run_sync(note_failure, settings, scope)


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def _check_untyped(body: bytes) -> None:
    """A body without a content type: if it is JSON, it meets the JSON rules; if not, the route decides (a QA form
    may be YAML)."""
    try:
        load_json(body)
    except InvalidInput as exc:
        if exc.status_code != 400:
            raise


async def _read_body(receive: Callable[[], Awaitable[dict[str, Any]]], limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _counting(receive: Any, limit: int) -> Any:
    size = 0

    async def counted() -> dict[str, Any]:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        if size > limit:
            raise BodyTooLarge
        return message

    return counted


def _rate_limited(settings: Settings, scope: dict[str, Any]) -> JSONResponse | None:
    bucket, address = caller(scope)
    exceeded, reset_s = ratelimit.check(
        settings.broker_url, bucket=bucket, address=address, per_minute=settings.rate_limit_per_minute,
        failures_per_minute=settings.auth_failures_per_minute,
    )  # fmt: skip
    if exceeded == "failures":
        return _refusal(429, "too many failed keys or logins from this address", {"Retry-After": str(reset_s)})
    if exceeded == "requests":
        return _refusal(429, "rate limit exceeded for this caller", {"Retry-After": str(reset_s)})
    return None


def note_failure(settings: Settings, scope: dict[str, Any]) -> None:
    """Count a failed authentication against the caller's address (blocking: run it in a thread)."""
    ratelimit.note_failure(settings.broker_url, address=caller(scope)[1], per_minute=settings.auth_failures_per_minute)
