"""PII never reaches storage, logs or error messages: a scan of the database rows and every process log."""

import json
import time

import httpx
import pytest
from sqlalchemy import text

from callscope.storage.store import create_api_key
from tests.conftest import BROKER_URL, DATA_DIR
from tests.services import start_api, start_worker, stop

RAW = {
    "card": "4539 1488 0343 6467",
    "account": "31926819",
    "email": "jane.doe@example.com",
    "phone": "+44 20 7946 0958",
    "iban": "GB29 NWBK 6016 1331 9268 19",
}


@pytest.mark.slow
def test_raw_pii_is_nowhere_in_the_database_or_the_logs(session, database):
    key = create_api_key(session, tenant="privacy", role="admin")
    env = {"CALLSCOPE_BROKER_URL": BROKER_URL}
    api, base = start_api(name="privacy-api", env=env, log_level="debug")
    worker = start_worker(name="privacy-worker", env=env)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        said = (f"my card {RAW['card']} was stolen, account {RAW['account']}, mail me at {RAW['email']} "
                f"or call {RAW['phone']}, my IBAN is {RAW['iban']}")  # fmt: skip
        ids = [
            httpx.post(f"{base}/v1/interactions", headers=headers, json={"channel": "sms", "direction": "inbound",
                                                                        "text": said}).json()["id"],
            httpx.post(f"{base}/v1/interactions", headers=headers,
                       json={"channel": "chat", "transcript": f"Customer: {said}\nAgent: thanks"}).json()["id"],
        ]  # fmt: skip
        bad = httpx.post(f"{base}/v1/interactions", headers=headers, json={"channel": "sms", "direction": "up",
                                                                          "text": said})  # fmt: skip
        assert bad.status_code == 422
        analyzed = httpx.post(f"{base}/v1/analyze", headers=headers, json={"text": said}, timeout=30).json()
        for interaction_id in ids:
            for _ in range(200):
                body = httpx.get(f"{base}/v1/interactions/{interaction_id}", headers=headers).json()
                if body["status"] == "done":
                    break
                time.sleep(0.2)
            assert body["status"] == "done"
        answers = json.dumps([body, analyzed, bad.json()])
    finally:
        stop(worker)
        stop(api)
    rows = session.execute(text("select * from interactions where tenant = 'privacy'")).mappings().all()
    stored = json.dumps([dict(r) for r in rows], default=str)
    audit = json.dumps([dict(r) for r in session.execute(text("select * from audit_events")).mappings()], default=str)
    logs = "".join((DATA_DIR / f"{name}.log").read_text(errors="replace") for name in ("privacy-api", "privacy-worker"))
    assert "stolen" in stored and "POST /v1/interactions" in logs  # the scan looks at real content
    for what, value in RAW.items():
        for where, haystack in (("database", stored), ("logs", logs), ("answers", answers), ("audit", audit)):
            assert value not in haystack, f"raw {what} found in {where}"
            assert value.replace(" ", "") not in haystack.replace(" ", ""), f"raw {what} (unspaced) in {where}"
