"""Live calls from the platforms through the real stack: `callscope serve` in its own process, the real Whisper
model, a Celery worker; spoken stereo calls (espeak-ng) streamed as 8 kHz PCMU by a client that follows Genesys's
AudioHook protocol, and by `streamdouble` (a third-party Twilio Media Streams simulator).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
import httpx
import numpy as np
import pytest
import websockets
from scipy.signal import resample_poly
from sqlalchemy import select

from callscope.live.audiohook import from_duration
from callscope.storage.db import Interaction
from callscope.storage.store import by_idempotency_key, idempotency_digest
from callscope.voice.g711 import mulaw_encode
from tests.conftest import auth, wait_final
from tests.platform_clients import AudioHookClient, pcmu_frames, signed_headers
from tests.services import start_api, stop
from tests.speech import speak

pytestmark = pytest.mark.slow
SECRET = b"callscope-test-client-secret-32b"
CARD_INTENTS = ("lost_or_stolen_card", "card_payment_not_recognised", "compromised_card")
CALL = [  # (speaker, text): words a recognizer cannot mishear into another meaning
    ("agent", "Thank you for calling the bank. How can I help you today?"),
    ("customer", "Hello. I lost my credit card yesterday and I need to block it."),
    ("agent", "I am sorry to hear that. Can you read me the card number please?"),
    ("customer", "The card number is four one one one, one one one one, one one one one, one one one one."),
    ("agent", "Thank you. The card is blocked now and a new card is on its way."),
]
DIGITS = re.compile(r"\d{4}")
LOST_CARD = re.compile(r"lost my credit\w* card")  # live decoding once heard "credits card": the same meaning


@pytest.fixture(scope="module")
def server() -> Any:
    proc, base = start_api(name="platforms-api", env={"OMP_WAIT_POLICY": "PASSIVE"})
    yield base
    stop(proc)


def spoken(turns: list[tuple[str, str]], gap_s: float = 0.8) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """(customer, agent) 8 kHz int16 channels of the turns, and where each turn's speech starts."""
    sides: dict[str, list[np.ndarray]] = {"agent": [], "customer": []}
    starts, at = [], 0.0
    for speaker, text in turns:
        voice = speak(text, voice="en-us" if speaker == "agent" else "en-gb", wpm=150)
        speech = np.flatnonzero(np.abs(voice) > 0.02)
        starts.append(at + speech[0] / 16000)
        piece = np.concatenate([voice, np.zeros(int(gap_s * 16000), np.float32)])
        sides[speaker].append(piece)
        sides["customer" if speaker == "agent" else "agent"].append(np.zeros_like(piece))
        at += piece.size / 16000
    customer, agent = (np.concatenate(sides[s]) for s in ("customer", "agent"))
    to_8k = [(np.clip(resample_poly(x, 1, 2), -1, 1) * 32767).astype(np.int16) for x in (customer, agent)]
    return to_8k[0], to_8k[1], starts


def register(server: str, key: str, api_key: str) -> dict[str, Any]:
    body = {"api_key": api_key, "client_secret": base64.b64encode(SECRET).decode()}
    answer = httpx.post(f"{server}/v1/integrations/audiohook", json=body, headers=auth(key), timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def stored_contact(session: Any, client: Any, key: str, tenant: str, source: str, call_id: str) -> dict[str, Any]:
    digest = idempotency_digest(f"{source}:{call_id}")
    deadline = time.monotonic() + 30
    while (row := by_idempotency_key(session, tenant=tenant, key=digest or "")) is None:
        assert time.monotonic() < deadline, "the call was not stored"
        time.sleep(0.2)
        session.expire_all()
    return wait_final(client, key, row.id, timeout_s=240)


def check_stored_call(client: Any, key: str, stored: dict[str, Any], seconds: float) -> None:
    """Stored like a posted call: roles from the channels, the intent, redacted text, a playable recording."""
    assert stored["status"] == "done" and stored["channel"] == "voice", stored
    customer = " ".join(t["text"] for t in stored["turns"] if t["speaker"] == "customer").lower()
    agent = " ".join(t["text"] for t in stored["turns"] if t["speaker"] == "agent").lower()
    assert LOST_CARD.search(customer) and "thank you for calling" in agent, stored["turns"]
    assert stored["intent"]["label"] in CARD_INTENTS, stored["intent"]
    assert not DIGITS.search(" ".join(t["text"] for t in stored["turns"])), stored["turns"]  # (a card's last4 is kept)
    audio = client.get(f"/v1/interactions/{stored['id']}/audio", headers=auth(key))
    assert audio.status_code == 200, audio.text
    with av.open(io.BytesIO(audio.content)) as container:
        stream = container.streams.audio[0]
        frames = sum(f.samples for f in container.decode(audio=0))
        assert stream.channels == 2 and abs(frames / stream.rate - seconds) < 0.5


def test_a_call_over_audiohook_is_transcribed_live_and_stored_like_a_posted_one(
    server: str, make_key: Any, live_worker: Any, session: Any, client: Any
) -> None:
    tenant = f"ah-{uuid.uuid4().hex[:8]}"
    admin, api_key = make_key("admin", tenant=tenant), "genesys-key-" + uuid.uuid4().hex[:12]
    registered = register(server, admin, api_key)
    listed = httpx.get(f"{server}/v1/integrations", headers=auth(admin), timeout=10).json()
    assert registered["path"] == "/v1/audiohook" and [i["key_prefix"] for i in listed] == ["genesy"]
    assert base64.b64encode(SECRET).decode() not in json.dumps(listed)
    customer, agent, starts = spoken(CALL)
    url = server.replace("http://", "ws://") + "/v1/audiohook"

    async def call() -> AudioHookClient:
        peer = await AudioHookClient.connect(url, api_key=api_key, secret=SECRET)
        opened = await peer.open(custom={"queue": "cards"})
        assert opened["parameters"]["media"][0]["channels"] == ["external", "internal"]
        await peer.stream(pcmu_frames(customer, agent), speed=3.0)
        await peer.close()
        return peer

    peer = asyncio.run(call())
    transcripts = peer.transcripts()
    said = [(t["channelId"], from_duration(t["offset"]), t["alternatives"][0]["interpretations"][0]["transcript"])
            for t in transcripts]  # fmt: skip
    first = {channel: min(at for c, at, _ in said if c == channel) for channel in (0, 1)}  # each side's first words
    assert abs(first[1] - starts[0]) < 0.6 and abs(first[0] - starts[1]) < 0.6, (said, starts)
    assert any(c == 0 and LOST_CARD.search(text.lower()) for c, _, text in said), said
    assert all(0 < t["alternatives"][0]["confidence"] <= 1 for t in transcripts)
    shown = [t["alternatives"][0]["interpretations"][0] for t in transcripts]
    texts = [s["transcript"] for s in shown] + [token["value"] for s in shown for token in s["tokens"]]
    for assist in peer.agent_assist():
        texts += [u["text"] for u in assist["utterances"]]
        texts += [str(s.get(f, "")) for s in assist["suggestions"] for f in ("question", "answer", "title", "excerpts")]
    out = " | ".join(texts)
    leaked = DIGITS.search(out) or re.search("one one", out)
    assert not leaked, f"a card digit left Callscope in an event: {out[leaked.start() - 300 : leaked.end() + 40]}"
    assist = peer.agent_assist()
    assert assist and any(a["suggestions"] for a in assist)
    assert {u["channel"] for a in assist for u in a["utterances"]} == {"external", "internal"}
    stored = stored_contact(session, client, admin, tenant, "audiohook", peer.session_id)
    check_stored_call(client, admin, stored, seconds=customer.size / 8000)
    assert stored["queue"] == "cards"


def test_audio_paused_or_discarded_keeps_transcripts_on_the_calls_timeline(server: str, make_key: Any) -> None:
    """The client pauses 4 s and later discards 3 s it never sends: what is said afterwards is placed 4 and 7 s
    later on the call's timeline than in the audio received."""
    admin, api_key = make_key("admin"), "genesys-key-" + uuid.uuid4().hex[:12]
    register(server, admin, api_key)
    turns = [("customer", "Hello. I lost my credit card yesterday."), ("customer", "Please block the card now."),
             ("customer", "Thank you very much for your help.")]  # fmt: skip
    customer, _, starts = spoken(turns, gap_s=1.2)
    frames = pcmu_frames(customer, None)
    cut = [int(round((starts[1] - 0.6) / 0.2)), int(round((starts[2] - 0.6) / 0.2))]  # in the silence before
    url = server.replace("http://", "ws://") + "/v1/audiohook"

    async def call() -> AudioHookClient:
        peer = await AudioHookClient.connect(url, api_key=api_key, secret=SECRET)
        await peer.open(channels=("external",))
        await peer.stream(frames[: cut[0]], speed=4.0, channels=1)
        await peer.send("paused")
        at = peer.position_s
        peer.position_s += 4.0  # the platform's timeline goes on while it sends nothing
        await peer.send("resumed", {"start": f"PT{at:.3f}S", "discarded": "PT4S"})
        await peer.stream(frames[cut[0] : cut[1]], speed=4.0, channels=1)
        at = peer.position_s
        peer.position_s += 3.0
        await peer.send("discarded", {"start": f"PT{at:.3f}S", "discarded": "PT3S"})
        await peer.stream(frames[cut[1] :], speed=4.0, channels=1)
        await peer.close()
        return peer

    peer = asyncio.run(call())
    said = {t["alternatives"][0]["interpretations"][0]["transcript"].lower(): from_duration(t["offset"])
            for t in peer.transcripts()}  # fmt: skip
    expected = {"hello": starts[0], "please": starts[1] + 4.0, "thank": starts[2] + 7.0}
    for word, at in expected.items():
        heard = next((offset for text, offset in said.items() if word in text), None)
        assert heard is not None and abs(heard - at) < 0.6, (word, at, said)


def signed_connect(url: str, api_key: str, secret: bytes, **headers: Any) -> Any:
    signed = signed_headers(url, api_key=api_key, secret=secret, session_id=str(uuid.uuid4()),
                            organization_id=str(uuid.uuid4()), **headers)  # fmt: skip
    return websockets.connect(url, additional_headers=signed), signed


def test_an_upgrade_that_is_not_signed_right_is_refused_with_401(server: str, make_key: Any) -> None:
    api_key = "genesys-key-" + uuid.uuid4().hex[:12]
    register(server, make_key("admin"), api_key)
    url = server.replace("http://", "ws://") + "/v1/audiohook"

    async def status(connect: Any) -> int:
        try:
            async with connect:
                return 101
        except websockets.InvalidStatus as exc:
            return exc.response.status_code

    async def attempts() -> list[int]:
        good, headers = signed_connect(url, api_key, SECRET)
        results = [await status(good)]
        results.append(await status(websockets.connect(url, additional_headers=headers)))  # the same nonce again
        results.append(await status(signed_connect(url, api_key, b"a wrong secret of thirty-two b.")[0]))
        results.append(await status(signed_connect(url, api_key, SECRET, created=int(time.time()) - 120)[0]))
        results.append(await status(signed_connect(url, "unknown-key-0123456789", SECRET)[0]))
        results.append(await status(websockets.connect(url, additional_headers={"X-API-KEY": api_key})))
        return results

    assert asyncio.run(attempts()) == [101, 401, 401, 401, 401, 401]


@pytest.mark.parametrize(
    ("misbehave", "info"),
    [
        (lambda peer: peer.ws.send(b"\xff" * 320), "before opened"),
        (lambda peer: peer.send("ping", seq=7), "out of order"),
        (lambda peer: peer.ws.send("{not json"), "malformed JSON"),
    ],
)
def test_a_peer_that_breaks_the_protocol_is_disconnected_with_a_reason(
    server: str, make_key: Any, misbehave: Any, info: str
) -> None:
    api_key = "genesys-key-" + uuid.uuid4().hex[:12]
    register(server, make_key("admin"), api_key)
    url = server.replace("http://", "ws://") + "/v1/audiohook"

    async def session() -> dict[str, Any]:
        peer = await AudioHookClient.connect(url, api_key=api_key, secret=SECRET)
        await misbehave(peer)
        return await peer.wait_for("disconnect", 10)

    disconnect = asyncio.run(session())
    assert disconnect["parameters"]["reason"] == "error" and info in disconnect["parameters"]["info"]
    assert httpx.get(f"{server}/healthz", timeout=5).status_code == 200


def test_an_oversized_frame_after_audio_ends_the_session_and_keeps_what_was_heard(
    server: str, make_key: Any, session: Any
) -> None:
    tenant = f"ah-{uuid.uuid4().hex[:8]}"
    admin, api_key = make_key("admin", tenant=tenant), "genesys-key-" + uuid.uuid4().hex[:12]
    register(server, admin, api_key)
    url = server.replace("http://", "ws://") + "/v1/audiohook"

    async def call() -> tuple[AudioHookClient, dict[str, Any]]:
        peer = await AudioHookClient.connect(url, api_key=api_key, secret=SECRET)
        await peer.open()
        await peer.stream([mulaw_encode(np.zeros(3200, np.int16))] * 10, speed=10.0)
        await peer.ws.send(b"\xff" * 8000 * 2 * 3)
        return peer, await peer.wait_for("disconnect", 10)

    peer, disconnect = asyncio.run(call())
    assert "over 2 s" in disconnect["parameters"]["info"]
    deadline = time.monotonic() + 20
    while (
        row := by_idempotency_key(session, tenant=tenant, key=idempotency_digest(f"audiohook:{peer.session_id}") or "")
    ) is None:
        assert time.monotonic() < deadline, "the 2 s heard before the bad frame were not stored"
        time.sleep(0.2)
        session.expire_all()
    assert row.duration_s is None or row.duration_s >= 1.9


def test_a_twilio_media_stream_from_streamdouble_becomes_a_stored_call(
    server: str, make_key: Any, live_worker: Any, session: Any, client: Any
) -> None:
    from streamdouble import api as streamdouble
    from streamdouble import session as streamdouble_session
    from streamdouble.session import SessionConfig
    from twilio.request_validator import RequestValidator

    tenant, token = f"tw-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = make_key("admin", tenant=tenant)
    answer = httpx.post(f"{server}/v1/integrations/twilio", json={"auth_token": token}, headers=auth(admin), timeout=10)
    assert answer.status_code == 201 and token not in answer.text
    url = server.replace("http://", "ws://") + answer.json()["stream_path"]
    customer, agent, _ = spoken(CALL)

    # Twilio signs the upgrade; streamdouble, standing in for Twilio, does not: add the header Twilio would send
    signature = RequestValidator(token).compute_signature(url, {})
    real_connect = websockets.connect
    original = streamdouble_session.websockets.connect
    streamdouble_session.websockets.connect = lambda u, **kw: real_connect(
        u, additional_headers={"X-Twilio-Signature": signature}, **kw
    )
    try:
        config = SessionConfig(fork=True, tracks=["inbound", "outbound"], agent_frames=frames(agent),
                               custom_parameters={"queue": "cards", "customer_ref": "CUST-42"})  # fmt: skip
        report = asyncio.run(streamdouble.call(url, frames=frames(customer), config=config))
        assert report.violations == [] and not report.result.closed_early, report.result
        streamdouble_session.websockets.connect = lambda u, **kw: real_connect(
            u, additional_headers={"X-Twilio-Signature": "bm90IHRoZSBzaWduYXR1cmU="}, **kw
        )
        with pytest.raises(websockets.InvalidStatus) as refused:
            asyncio.run(streamdouble.call(url, frames=frames(customer)[:50], config=SessionConfig()))
        assert refused.value.response.status_code == 401
    finally:
        streamdouble_session.websockets.connect = original
    rows: list[Any] = []
    deadline = time.monotonic() + 30
    while not rows:
        assert time.monotonic() < deadline, "the Twilio call was not stored"
        session.expire_all()
        rows = session.scalars(select(Interaction).where(Interaction.tenant == tenant)).all()
        time.sleep(0.2)
    stored = wait_final(client, admin, rows[0].id, timeout_s=240)
    check_stored_call(client, admin, stored, seconds=max(customer.size, agent.size) / 8000)
    assert stored["queue"] == "cards"


def frames(samples: np.ndarray) -> list[bytes]:
    """20 ms mu-law frames, as Twilio sends them."""
    return [mulaw_encode(samples[k : k + 160]) for k in range(0, samples.size - 159, 160)]


def test_the_agent_page_follows_a_platform_call_by_its_id_and_other_tenants_see_nothing(
    server: str, make_key: Any
) -> None:
    """The /agent page opened as a Genesys widget would open it (?call=<conversation id>) shows the call's
    transcript, intent and suggestions while it streams; a desktop integration subscribed with another tenant's key
    for the same id hears nothing of it."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_chromium

    tenant = f"ah-{uuid.uuid4().hex[:8]}"
    admin, agent_key = make_key("admin", tenant=tenant), make_key("agent", tenant=tenant)
    stranger = make_key("agent")
    api_key, conversation = "genesys-key-" + uuid.uuid4().hex[:12], str(uuid.uuid4())
    register(server, admin, api_key)
    customer, agent, _ = spoken(CALL[:2] + CALL[4:])
    ws_url = server.replace("http://", "ws://")

    async def stranger_hears() -> list[dict[str, Any]]:
        heard = []
        follow_url = f"{ws_url}/v1/live/calls/{conversation}"
        async with websockets.connect(follow_url, additional_headers=auth(stranger)) as ws:
            heard.append(json.loads(await ws.recv()))
            try:
                while True:
                    heard.append(json.loads(await asyncio.wait_for(ws.recv(), 25)))
            except TimeoutError:
                return heard

    async def stream_call() -> None:
        peer = await AudioHookClient.connect(f"{ws_url}/v1/audiohook", api_key=api_key, secret=SECRET)
        await peer.open(conversation_id=conversation)
        await peer.stream(pcmu_frames(customer, agent), speed=1.5)
        await peer.close()

    async def both() -> list[dict[str, Any]]:
        listening = asyncio.create_task(stranger_hears())
        await asyncio.sleep(0.5)
        await stream_call()
        return await listening

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server}/agent?call={conversation}")
        assert page.input_value("#call") == conversation
        page.fill("#key", agent_key)
        page.click("#connect-btn")
        page.wait_for_selector("text=waiting for call", timeout=10_000)
        with ThreadPoolExecutor(1) as pool:  # the call streams from another thread while the page is watched
            streaming = pool.submit(asyncio.run, both())
            page.wait_for_selector('#transcript li:has-text("lost my")', timeout=60_000)
            page.wait_for_selector("#suggestions li", timeout=30_000)
            page.wait_for_selector("text=call ended", timeout=60_000)
            stranger = streaming.result(timeout=120)
        transcript = page.inner_text("#transcript").lower()
        intent = page.inner_text("#intent")
        browser.close()
    assert "customer" in transcript and "agent" in transcript and "thank you for calling" in transcript
    assert any(label in intent for label in CARD_INTENTS), intent
    assert errors == []
    assert [m["type"] for m in stranger] == ["ready"], stranger  # another tenant's key hears nothing of the call
