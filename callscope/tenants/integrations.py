"""A tenant's contact-center platforms: Genesys AudioHook and Twilio Media Streams credentials.

The platform signs each stream it opens with a secret the tenant shares with Callscope (AudioHook: the client
secret; Twilio: the account's auth token). Secrets are sealed with AES-GCM under a key derived from the service's
customer-hash secret and bound to the tenant and kind; they are never returned, logged or audited.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callscope.errors import Conflict, InvalidInput, NotFound
from callscope.storage.db import Integration

log = logging.getLogger("callscope.integrations")
Kind = Literal["audiohook", "twilio"]
AUDIOHOOK_API_KEY = re.compile(r"[A-Za-z0-9+/_-]{16,200}={0,2}")  # Genesys's own rule, at least 16 characters
MIN_SECRET_BYTES = 16
TWILIO_ID_PREFIX = "tw_"


@dataclass(frozen=True)
class Found:
    tenant: str
    secret: bytes
    integration_id: int


def _sealing_key(service_secret: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), 32, salt=b"callscope-integrations", info=b"secrets").derive(service_secret.encode())


def _aad(tenant: str, kind: str) -> bytes:
    return f"{kind}\x00{tenant}".encode()


def _key_hash(kind: str, key: str) -> str:
    return hashlib.sha256(f"{kind}\x00{key}".encode()).hexdigest()


def _seal(service_secret: str, tenant: str, kind: str, secret: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return nonce + AESGCM(_sealing_key(service_secret)).encrypt(nonce, secret, _aad(tenant, kind))


def _unseal(service_secret: str, row: Integration) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = row.sealed_secret
    return AESGCM(_sealing_key(service_secret)).decrypt(sealed[:12], sealed[12:], _aad(row.tenant, row.kind))


def audiohook_secret(client_secret: str) -> bytes:
    """The HMAC key of an AudioHook client secret (Genesys shows it base64-encoded)."""
    try:
        secret = base64.b64decode(client_secret.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("the client secret must be base64, as Genesys shows it") from exc
    if len(secret) < MIN_SECRET_BYTES:
        raise InvalidInput(f"the client secret must hold at least {MIN_SECRET_BYTES} bytes")
    return secret


def add(
    session: Session, *, tenant: str, kind: Kind, secret: str, service_secret: str, api_key: str | None = None
) -> tuple[Integration, str]:
    """Register a platform; returns the row and the key it is found by (AudioHook: its API key; Twilio: a new id
    that goes into the stream URL)."""
    if kind == "audiohook":
        if not api_key or not AUDIOHOOK_API_KEY.fullmatch(api_key):
            raise InvalidInput("the API key must be 16-200 characters of letters, digits and + / _ - (Genesys's rule)")
        key, raw_secret = api_key, audiohook_secret(secret)
    elif kind == "twilio":
        if len(secret.strip()) < MIN_SECRET_BYTES:
            raise InvalidInput(f"the auth token must be at least {MIN_SECRET_BYTES} characters")
        key, raw_secret = TWILIO_ID_PREFIX + secrets.token_urlsafe(12), secret.strip().encode()
    else:
        raise InvalidInput(f"unknown integration kind {kind!r}: audiohook or twilio")
    if session.scalar(select(Integration.id).where(Integration.key_hash == _key_hash(kind, key))) is not None:
        raise Conflict("this API key is already registered")
    row = Integration(
        tenant=tenant,
        kind=kind,
        key_hash=_key_hash(kind, key),
        key_prefix=key[:6],
        sealed_secret=_seal(service_secret, tenant, kind, raw_secret),
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same key registered at the same moment by another request
        session.rollback()
        raise Conflict("this API key is already registered") from None
    return row, key


def find(session: Session, *, kind: Kind, key: str, service_secret: str) -> Found | None:
    """The tenant and secret behind a platform's key, or None."""
    row = session.scalar(select(Integration).where(Integration.key_hash == _key_hash(kind, key)))
    if row is None or row.kind != kind:
        return None
    from cryptography.exceptions import InvalidTag

    try:
        secret = _unseal(service_secret, row)
    except InvalidTag:  # the service secret changed, or the row was moved: refuse, and say why in the log
        log.warning(
            "integration %s of %s does not open with this service secret: register it again", row.id, row.tenant
        )
        return None
    return Found(tenant=row.tenant, secret=secret, integration_id=row.id)


def listing(session: Session, *, tenant: str) -> list[dict[str, object]]:
    rows = session.scalars(select(Integration).where(Integration.tenant == tenant).order_by(Integration.id))
    return [{"id": r.id, "kind": r.kind, "key_prefix": r.key_prefix, "created_at": r.created_at} for r in rows]


def remove(session: Session, *, tenant: str, kind: Kind, integration_id: int) -> None:
    row = session.get(Integration, integration_id)
    if row is None or row.tenant != tenant or row.kind != kind:
        raise NotFound("no such integration")
    session.delete(row)
    session.commit()
