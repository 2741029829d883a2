"""Webhook delivery: the interaction's result posted to the tenant's URL, signed as Standard Webhooks sign.

Each delivery carries `webhook-id` (the same on every retry of one event: receivers drop repeats),
`webhook-timestamp` (seconds since the epoch, at this attempt) and `webhook-signature`
(`v1,` + base64 HMAC-SHA256 over `{id}.{timestamp}.{body}` with the secret shown once at registration, a
`whsec_` base64 secret). A receiver verifies the signature and refuses a timestamp more than five minutes from its
own clock, so a captured delivery cannot be replayed later (docs/security.md).

Targets: a webhook may only point at a public address, checked by every address its name resolves to, when it is
registered and again before each delivery (DNS can change); `allowed` names hosts or networks an on-premises bank
allows on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session

from callscope.errors import InvalidInput
from callscope.storage import store
from callscope.storage.db import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    """The secret's bytes as Standard Webhooks libraries read it (secrets of older hooks included)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")


def sign(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def message_id(webhook_id: int, interaction_id: str, event: str) -> str:
    """One id per event and receiver, the same on every retry."""
    return "msg_" + uuid.uuid5(uuid.NAMESPACE_URL, f"{webhook_id}/{interaction_id}/{event}").hex


def headers(secret: str, *, message_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id=message_id, timestamp=timestamp, body=body),
    }


def encode(event: str, interaction: dict[str, Any]) -> bytes:
    return json.dumps({"event": event, "interaction": interaction}, separators=(",", ":")).encode()


def _allowed(host: str, addresses: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address], allowed: str) -> bool:
    entries = [e.strip().lower() for e in allowed.split(",") if e.strip()]
    if host.lower() in entries:
        return True
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    return all(any(a in n for n in networks) for a in addresses) if networks else False


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_target(url: str, *, allowed: str = "") -> None:
    """Refuse a webhook URL that is not http(s) or whose host resolves to a loopback, private, link-local or other
    non-public address (InvalidInput), unless `allowed` (comma-separated host names, addresses or networks) lets
    that host in."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("webhook url must be http:// or https:// with a host")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise InvalidInput(f"webhook host {host!r} does not resolve") from exc
    addresses = {ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in found}
    if _allowed(host, addresses, allowed):
        return
    if not addresses or not all(_public(a) for a in addresses):
        raise InvalidInput(
            f"webhook host {host!r} is not a public address: loopback, private, link-local and other internal "
            "targets are refused (an operator may allow named internal receivers: CALLSCOPE_WEBHOOK_ALLOWED_HOSTS)"
        )


def deliver(url: str, body: bytes, *, secret: str, message_id: str, timeout_s: float, allowed: str = "") -> int:
    """Check the target again, then POST once (no redirects followed); raises on a refused target, a network error
    or a non-2xx answer so the caller can retry with backoff."""
    check_target(url, allowed=allowed)
    response = httpx.post(url, content=body, headers=headers(secret, message_id=message_id, body=body),
                          timeout=timeout_s, follow_redirects=False)  # fmt: skip
    response.raise_for_status()
    return response.status_code


def register(session: Session, *, tenant: str, url: str, allowed: str) -> Webhook:
    """A receiver at a public address (or one the operator allows); its Standard Webhooks secret is made here."""
    check_target(url, allowed=allowed)
    return store.add_webhook(session, tenant=tenant, url=url, secret=new_secret())
