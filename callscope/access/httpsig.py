"""HTTP Message Signatures (RFC 9421, `hmac-sha256`) as Genesys AudioHook signs its WebSocket upgrade.

The client signs the request target, the authority, its organization, session and correlation ids and its API key
with the integration's client secret, and adds `keyid` (the API key), a `nonce`, `created` and `expires`. Pure code:
the caller looks up the secret and remembers nonces (`access.ratelimit.first_use`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import http_sfv

AUDIOHOOK_COMPONENTS = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)
MIN_NONCE_CHARS = 22  # Genesys sends 24 base64 characters (18 random bytes); the reference server asks for 22
MAX_AGE_S = 10.0  # a signature older than this is refused, whatever its `expires` says
CLOCK_SKEW_S = 5.0  # a client clock this far ahead is still believed


class SignatureError(ValueError):
    """Why a request's signature does not verify; said to nobody but the log (the client gets a plain 401)."""


@dataclass(frozen=True)
class Signed:
    key_id: str
    nonce: str
    expires: float


def verify(
    headers: Mapping[str, str],
    *,
    target: str,
    secret_for: Callable[[str], bytes | None],
    now: float,
    required: tuple[str, ...] = AUDIOHOOK_COMPONENTS,
) -> Signed:
    """Check the request's `Signature-Input` and `Signature`; the key id must equal the `X-API-KEY` header.

    `target` is the path and query the client asked for; `headers` are lower-case names. An unknown key is checked
    against a random secret, so a wrong key and a wrong signature take the same time."""
    label, components, params, signature = _parse(headers)
    missing = [name for name in required if name not in components]
    if missing:
        raise SignatureError(f"the signature does not cover {', '.join(missing)}")
    if params.get("alg", "hmac-sha256") != "hmac-sha256":
        raise SignatureError(f"algorithm {params.get('alg')!r} is not hmac-sha256")
    key_id, nonce = params.get("keyid"), params.get("nonce")
    if not isinstance(key_id, str) or key_id != headers.get("x-api-key", "").strip():
        raise SignatureError("the signature's keyid is not the X-API-KEY header")
    if not isinstance(nonce, str) or len(nonce) < MIN_NONCE_CHARS:
        raise SignatureError(f"the nonce must be at least {MIN_NONCE_CHARS} characters")
    created, expires = params.get("created"), params.get("expires")
    if not isinstance(created, int) or not isinstance(expires, int):
        raise SignatureError("the signature needs integer created and expires parameters")
    if created > now + CLOCK_SKEW_S or now - created > MAX_AGE_S + CLOCK_SKEW_S or expires < now:
        raise SignatureError("the signature is outside its time window")
    secret = secret_for(key_id)
    base = _signature_base(components, label_params=params.raw, headers=headers, target=target)
    expected = hmac.new(secret if secret is not None else os.urandom(32), base, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature) or secret is None:
        raise SignatureError("the signature does not verify" if secret is not None else "unknown API key")
    return Signed(key_id=key_id, nonce=nonce, expires=float(expires))


@dataclass(frozen=True)
class _Params:
    values: dict[str, object]
    raw: str  # the inner list as serialized: the `@signature-params` line of the base

    def get(self, name: str, default: object = None) -> object:
        return self.values.get(name, default)


def _parse(headers: Mapping[str, str]) -> tuple[str, list[str], _Params, bytes]:
    signature_input, signature = headers.get("signature-input"), headers.get("signature")
    if not signature_input or not signature:
        raise SignatureError("the request is not signed (Signature-Input and Signature headers)")
    inputs, signatures = http_sfv.Dictionary(), http_sfv.Dictionary()
    try:
        inputs.parse(signature_input.encode())
        signatures.parse(signature.encode())
    except ValueError as exc:
        raise SignatureError(f"malformed signature headers: {exc}") from exc
    if len(inputs) != 1:
        raise SignatureError("exactly one signature is expected")
    label = next(iter(inputs))
    members, value = inputs[label], signatures.get(label) if label in signatures else None
    if not isinstance(members, http_sfv.InnerList) or value is None or not isinstance(value.value, bytes):
        raise SignatureError(f"signature {label!r} is malformed or missing")
    components = [item.value for item in members]
    if not all(isinstance(c, str) for c in components) or any(item.params for item in members):
        raise SignatureError("signature components must be plain strings")
    return label, components, _Params(dict(members.params), str(members)), value.value


def _signature_base(components: list[str], *, label_params: str, headers: Mapping[str, str], target: str) -> bytes:
    lines = []
    for name in components:
        if name == "@request-target":
            value = target
        elif name == "@authority":
            value = headers.get("host", "").strip().lower()
        elif name.startswith("@"):
            raise SignatureError(f"derived component {name!r} is not supported")
        elif name in headers:
            value = headers[name].strip()
        else:
            raise SignatureError(f"the signed header {name!r} is missing")
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {label_params}')
    return "\n".join(lines).encode()


def sign(
    components: Mapping[str, str], *, key_id: str, secret: bytes, created: int, nonce: str, lifetime_s: int = 30
) -> dict[str, str]:
    """`Signature-Input` and `Signature` for the given component values (as the AudioHook client builds them)."""
    members = http_sfv.InnerList([http_sfv.Item(name) for name in components])
    for name, value in (("keyid", key_id), ("nonce", nonce), ("alg", "hmac-sha256"), ("created", created),
                        ("expires", created + lifetime_s)):  # fmt: skip
        members.params[name] = value
    lines = [f'"{name}": {value}' for name, value in components.items()]
    lines.append(f'"@signature-params": {members}')
    digest = hmac.new(secret, "\n".join(lines).encode(), hashlib.sha256).digest()
    return {"signature-input": f"sig1={members}", "signature": f"sig1=:{base64.b64encode(digest).decode()}:"}
