"""Webhook delivery: the interaction's result posted to the tenant's URL, signed with HMAC-SHA256.

Receivers verify `X-Callscope-Signature: sha256=<hex>` as HMAC(secret, raw body).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

SIGNATURE_HEADER = "X-Callscope-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature)


def encode(event: str, interaction: dict[str, Any]) -> bytes:
    return json.dumps({"event": event, "interaction": interaction}, separators=(",", ":")).encode()


def deliver(url: str, body: bytes, *, secret: str, timeout_s: float) -> int:
    """POST once; raises on a network error or a non-2xx answer so the caller can retry with backoff."""
    response = httpx.post(
        url,
        content=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)},
        timeout=timeout_s,
    )
    response.raise_for_status()
    return response.status_code
