"""The AudioHook upgrade's HTTP message signature: what verifies, and every way it must not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callscope.access import httpsig

SECRET = b"0123456789abcdef0123456789abcdef"
KEY = "ahkey0123456789abcdef"
NOW = 1_800_000_000
NONCE = "aBcDeFgHiJkLmNoPqRsTuVwX"


def signed(**override: object) -> tuple[dict[str, str], str]:
    """Headers of a request to /v1/audiohook?x=1 signed as the Genesys client signs it."""
    values = {
        "@request-target": "/v1/audiohook?x=1",
        "@authority": "callscope.example:8443",
        "audiohook-organization-id": "d7934305-0972-4844-938e-9060eef73d05",
        "audiohook-session-id": "e160e428-53e2-487c-977d-96989bf5c99d",
        "audiohook-correlation-id": "30b0e395-84d3-4570-ac13-9a62d8f514c0",
        "x-api-key": KEY,
    }
    signature = httpsig.sign(
        values,
        key_id=str(override.get("key_id", KEY)),
        secret=bytes(override.get("secret", SECRET)),  # type: ignore[arg-type]
        created=int(override.get("created", NOW)),
        nonce=str(override.get("nonce", NONCE)),
    )  # type: ignore[arg-type]
    headers = {name: value for name, value in values.items() if not name.startswith("@")}
    headers["host"] = values["@authority"]
    return {**headers, **signature}, values["@request-target"]


def verify(headers: dict[str, str], target: str, *, now: float = NOW + 1) -> httpsig.Signed:
    return httpsig.verify(headers, target=target, secret_for=lambda key: SECRET if key == KEY else None, now=now)


def test_a_request_signed_with_the_client_secret_verifies() -> None:
    headers, target = signed()
    assert verify(headers, target) == httpsig.Signed(key_id=KEY, nonce=NONCE, expires=float(NOW + 30))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda h, t: ({**h, "audiohook-session-id": "another"}, t), "does not verify"),
        (lambda h, t: ({**h, "host": "evil.example"}, t), "does not verify"),
        (lambda h, t: (h, "/v1/audiohook?x=2"), "does not verify"),
        (lambda h, t: ({**h, "x-api-key": "another-key-0123456"}, t), "keyid is not the X-API-KEY"),
        (lambda h, t: ({k: v for k, v in h.items() if k != "signature"}, t), "not signed"),
        (lambda h, t: ({k: v for k, v in h.items() if k != "audiohook-correlation-id"}, t), "missing"),
        (lambda h, t: ({**h, "signature": h["signature"].replace("sig1=:", "sig1=:AA")}, t), "malformed|verify"),
        (lambda h, t: ({**h, "signature-input": 'sig1=("x-api-key");keyid="' + KEY + '"'}, t), "does not cover"),
    ],
)
def test_a_changed_request_is_refused(change, why: str) -> None:  # type: ignore[no-untyped-def]
    headers, target = change(*signed())
    with pytest.raises(httpsig.SignatureError, match=why):
        verify(headers, target)


@pytest.mark.parametrize(
    ("override", "now", "why"),
    [
        ({"secret": b"another secret of thirty-two b."}, NOW + 1, "does not verify"),
        ({"key_id": "unknown-key-0123456789"}, NOW + 1, "keyid is not"),
        ({"nonce": "short"}, NOW + 1, "nonce"),
        ({}, NOW + 60, "time window"),  # replayed a minute later
        ({}, NOW - 60, "time window"),  # created in the future
    ],
)
def test_wrong_secrets_short_nonces_and_stale_signatures_are_refused(override: dict, now: float, why: str) -> None:
    headers, target = signed(**override)
    with pytest.raises(httpsig.SignatureError, match=why):
        verify(headers, target, now=now)


def test_an_unknown_key_is_refused_like_a_wrong_signature() -> None:
    headers, target = signed(key_id="unknown-key-0123456789")
    headers["x-api-key"] = "unknown-key-0123456789"
    with pytest.raises(httpsig.SignatureError, match="unknown API key"):
        verify(headers, target)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["signature", "signature-input", "x-api-key", "host"]), st.text(max_size=200)))
def test_any_malformed_signature_headers_are_a_signature_error(mangled: dict[str, str]) -> None:
    headers, target = signed()
    with pytest.raises(httpsig.SignatureError):
        verify({**headers, **mangled, "signature": mangled.get("signature", "sig1=:AAAA:")}, target)
