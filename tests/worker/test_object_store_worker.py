"""A worker on another machine: it shares only the database, the broker and the object store with the API (its own
data folder, so no recording can reach it through a shared disk), and the recording it redacts goes back to S3."""

import time

import httpx
import pytest

from callscope.access.keys import create_api_key
from callscope.storage.db import AudioBlob
from callscope.storage.recordings import RecordingStoreError
from tests.audio import spoken_call
from tests.conftest import DATA_DIR
from tests.services import RedisServer, start_api, start_worker, stop

pytestmark = pytest.mark.slow


def test_a_worker_that_shares_only_database_broker_and_store_redacts_the_recording_in_s3(session, seaweedfs):
    broker = RedisServer(DATA_DIR / "s3-redis", persistent=False)
    broker.start()
    shared = {"CALLSCOPE_BROKER_URL": broker.url, **seaweedfs["env"]}
    api, base = start_api(name="s3-api", env={**shared, "CALLSCOPE_DATA_DIR": str(DATA_DIR / "s3-api")})
    worker = start_worker(name="s3-worker", env={**shared, "CALLSCOPE_DATA_DIR": str(DATA_DIR / "s3-worker")})
    key = create_api_key(session, tenant="s3-bank", role="admin")
    headers = {"Authorization": f"Bearer {key}"}
    call = spoken_call([("agent", "Which account is it, please?"),
                        ("customer", "The account number is 3 1 9 2 6 8 1 9."),
                        ("agent", "Thank you, I have found it.")])  # fmt: skip
    try:
        posted = httpx.post(f"{base}/v1/interactions", headers=headers, files={"file": ("call.wav", call, "audio/wav")})
        assert posted.status_code == 202, posted.text
        interaction_id = posted.json()["id"]
        original_key = session.get(AudioBlob, interaction_id).object_key
        assert seaweedfs["store"].read(original_key) == call  # accepted into S3, not the API's disk
        deadline = time.monotonic() + 180
        while (body := httpx.get(f"{base}/v1/interactions/{interaction_id}", headers=headers).json())["status"] not in (
            "done", "failed"
        ) and time.monotonic() < deadline:  # fmt: skip
            time.sleep(0.5)
    finally:
        stop(worker)
        stop(api)
        broker.stop()
    assert body["status"] == "done", body
    assert "[ACCOUNT]" in " ".join(t["text"] for t in body["turns"]), body["turns"]
    assert body["audio_redactions"] and body["audio_redactions"][0]["kinds"] == ["ACCOUNT"]
    session.expire_all()
    blob = session.get(AudioBlob, interaction_id)
    assert blob.content is None and blob.object_key.endswith("-redacted.wav")
    redacted = seaweedfs["store"].read(blob.object_key)  # the worker wrote the redacted copy to S3
    assert blob.size == len(redacted) and redacted != call
    with pytest.raises(RecordingStoreError):
        seaweedfs["store"].read(original_key)  # and deleted the original there
    assert not (DATA_DIR / "s3-api" / "recordings").exists() and not (DATA_DIR / "s3-worker" / "recordings").exists()
