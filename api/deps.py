"""What every route depends on, built once: database sessions, settings, and the caller (API key -> principal ->
role check). The API's routes, the report pages and the live WebSocket all take them from here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from callscope.access import keys
from callscope.settings import Settings, get_settings
from callscope.storage.db import get_sessionmaker


def open_session() -> Session:
    """A database session on the configured database (a context manager)."""
    return get_sessionmaker(get_settings().resolved_database_url)()


bearer = HTTPBearer(auto_error=False)


def get_session() -> Iterator[Session]:
    with open_session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def _settings() -> Settings:
    return get_settings()


SettingsDep = Annotated[Settings, Depends(_settings)]  # async: no thread hop for a cached value


_KEY_CACHE: dict[str, tuple[float, keys.Principal]] = {}
KEY_CACHE_TTL_S = 5.0  # a revoked key stops working within this many seconds in every API process
_KEY_LOCKS: dict[str, asyncio.Lock] = {}


def forget_keys() -> None:
    """A revoked key stops working at once in this process (other API processes within KEY_CACHE_TTL_S)."""
    _KEY_CACHE.clear()


def authenticate_cached(key: str) -> keys.Principal | None:
    """Valid keys are remembered briefly, so a busy client costs no database round trip per request."""
    digest = keys.hash_key(key)
    cached = _KEY_CACHE.get(digest)
    if cached is not None and time.monotonic() - cached[0] < KEY_CACHE_TTL_S:
        return cached[1]
    with open_session() as session:
        found = keys.authenticate(session, key=key)
    if found is not None:
        if len(_KEY_CACHE) > 10_000:
            _KEY_CACHE.clear()
        _KEY_CACHE[digest] = (time.monotonic(), found)
    return found


async def principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> keys.Principal:
    """Async, with blocking work in a thread only when needed: a cached key costs no thread hop at all."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401, "missing API key: send `Authorization: Bearer <key>`", headers={"WWW-Authenticate": "Bearer"}
        )
    digest = keys.hash_key(credentials.credentials)
    cached = _KEY_CACHE.get(digest)
    if cached is not None and time.monotonic() - cached[0] < KEY_CACHE_TTL_S:
        found: keys.Principal | None = cached[1]
    else:
        if len(_KEY_LOCKS) > 10_000:
            _KEY_LOCKS.clear()
        async with _KEY_LOCKS.setdefault(digest, asyncio.Lock()):  # when the entry expires, one request looks
            found = await run_in_threadpool(authenticate_cached, credentials.credentials)  # the rest: cached
    if found is None:
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
    return found  # rate limits: `api.guard`, for every route


def requires(permission: str) -> Any:
    async def check(who: Annotated[keys.Principal, Depends(principal)]) -> keys.Principal:
        if not who.may(permission):
            raise HTTPException(403, f"role {who.role!r} may not {permission}")
        return who

    return Depends(check)


Ingest = Annotated[keys.Principal, requires("ingest")]
Reader = Annotated[keys.Principal, requires("read")]
Analyzer = Annotated[keys.Principal, requires("analyze")]
Admin = Annotated[keys.Principal, requires("admin")]
MetricsReader = Annotated[keys.Principal, requires("metrics")]
