"""Report rollups through the real stack: the scheduled task on a live Celery worker brings a tenant's rollups and
histograms up to date, and the API's reports read from them give the row scan's figures."""

from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa

from callscope.reports import dashboard, rollups
from callscope.reports.filters import Filters
from callscope.settings import get_settings
from tests.conftest import auth
from tests.reports.test_rollups import FIELDS, close, store_contacts

pytestmark = pytest.mark.usefixtures("live_worker")


def test_the_worker_refreshes_rollups_that_the_api_reports_read(session, client, make_key, monkeypatch):
    from worker.tasks import refresh_rollups

    tenant = f"t-{uuid.uuid4().hex[:10]}"
    base = dict.fromkeys(FIELDS, None) | {"repeat": False, "known_customer": True}
    drawn = [
        base | {"day": d, "channel": ("voice", "chat", "sms")[d % 3], "intent": ("lost_card", "refund")[d % 2],
                "agent": f"a-{d % 4}", "queue": "cards", "actual_s": float(60 + 7 * d), "repeats": d // 2 or None}
        for d in range(0, 70, 2)
    ]  # fmt: skip
    store_contacts(session, tenant, drawn)
    assert rollups.stale_days(session, tenant) == len(drawn)  # the triggers marked every day
    refresh_rollups.delay()
    deadline = time.monotonic() + 90
    marks = rollups.marks
    while session.scalar(sa.select(sa.func.count()).select_from(marks).where(marks.c.tenant == tenant)):
        assert time.monotonic() < deadline, "the worker did not refresh the rollups"
        time.sleep(0.5)
        session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(rollups.histogram).where(
        rollups.histogram.c.tenant == tenant)) > 0  # fmt: skip
    monkeypatch.setenv("CALLSCOPE_REPORT_ROWS_BELOW", "0")  # the API reads the rollups however few the contacts
    get_settings.cache_clear()
    try:
        key = make_key("supervisor", tenant)
        for name in ("handle-time", "queues-agents", "repeats", "volume"):
            response = client.get(f"/v1/reports/{name}", headers=auth(key))
            assert response.status_code == 200, response.text
            exact = dashboard.build(session, tenant, name, Filters(), rows=True)
            close(exact, response.json(), name)
    finally:
        monkeypatch.delenv("CALLSCOPE_REPORT_ROWS_BELOW")
        get_settings.cache_clear()
