"""Rollups give the same figures as the contact rows: a property test over random contacts and outcomes, with late
outcomes, repeats and deletions (retention, erasure), on SQLite and on the real PostgreSQL; percentiles within the
histogram's stated error; the marks the triggers leave; the rebuild command."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from callscope.reports import dashboard, rollups
from callscope.reports.filters import Filters
from callscope.storage.db import Interaction, get_sessionmaker, migrate
from callscope.storage.search import report_contacts

TODAY = datetime.now(UTC).date()
START = rollups.month_start(TODAY) - timedelta(days=70)  # whole past months and the current one
PERCENTILE_KEYS = {"median_s", "p90_s"}
FIELDS = {
    "day": st.integers(0, (TODAY - START).days),
    "channel": st.sampled_from(["voice", "chat", "sms"]),
    "intent": st.sampled_from(["lost_card", "refund", "balance", None]),
    "queue": st.sampled_from(["cards", "payments", None]),
    "outcome_queue": st.sampled_from([None, None, "security"]),
    "agent": st.sampled_from(["a-1", "a-2", "a-3", None]),
    "categories": st.sampled_from([None, "|complaint|", "|complaint|fraud|", "|fraud|"]),
    # sums of these are exact in binary floating point, so both paths round alike
    "actual_s": st.one_of(st.none(), st.integers(0, 2000).map(float)),
    "predicted_p50_s": st.one_of(st.none(), st.integers(30, 900).map(float)),
    "resolution": st.sampled_from(["resolved", "transferred", None]),
    "sentiment": st.one_of(st.none(), st.integers(-8, 8).map(lambda v: v / 8)),
    "sentiment_start": st.one_of(st.none(), st.integers(-8, 8).map(lambda v: v / 8)),
    "silence_ratio": st.one_of(st.none(), st.integers(0, 16).map(lambda v: v / 32)),
    "longest_silence_s": st.one_of(st.none(), st.integers(0, 60).map(float)),
    "overtalk_ratio": st.one_of(st.none(), st.integers(0, 4).map(lambda v: v / 32)),
    "repeat": st.booleans(),
    "qa_score": st.one_of(st.none(), st.integers(0, 4).map(lambda v: v * 25.0)),
    "known_customer": st.booleans(),
    "repeats": st.one_of(st.none(), st.integers(0, 200)),  # the earlier contact (by index) this one repeats
}
contact = st.fixed_dictionaries(FIELDS)
FILTERS = [
    Filters(),
    Filters(channel="voice"),
    Filters(category="complaint"),
    Filters(date_from=START + timedelta(days=20), date_to=TODAY),
    Filters(agent="a-2", channel="chat"),
    Filters(queue="security"),
]


def store_contacts(session: Any, tenant: str, drawn: list[dict[str, Any]]) -> list[str]:
    """Interactions and their report rows as the analysis would leave them (a repeat points at an earlier one)."""
    ids = [str(uuid.uuid4()) for _ in drawn]
    rows = []
    for i, (cid, c) in enumerate(zip(ids, drawn, strict=True)):
        day = START + timedelta(days=c["day"])
        created = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        session.add(Interaction(id=cid, tenant=tenant, channel=c["channel"], status="done", created_at=created))
        earlier = c["repeats"] % i if c["repeats"] is not None and i else None
        p50 = c["predicted_p50_s"]
        rows.append({
            **{k: v for k, v in c.items() if k not in ("day", "repeats")},
            "interaction_id": cid, "tenant": tenant, "created_at": created, "day": day,
            "predicted_p90_s": None if p50 is None else 2 * p50, "sentiment_end": c["sentiment_start"],
            "qa_form": "default:1" if c["qa_score"] is not None else None,
            "qa_pattern": None if c["qa_score"] is None else "yyna" if c["qa_score"] > 50 else "nnya",
            "repeat_of": ids[earlier] if earlier is not None and c["known_customer"] else None,
        })  # fmt: skip
    session.flush()
    session.execute(sa.insert(report_contacts), rows)
    session.commit()
    return ids


def close(rows: Any, rollup: Any, path: str = "") -> None:
    """Equal, except percentiles: within the histogram's relative error (and the 0.1 s the reports round to)."""
    if isinstance(rows, dict):
        assert rows.keys() == rollup.keys(), path
        for key in rows:
            if key in PERCENTILE_KEYS and rows[key] is not None:
                assert rollup[key] is not None, f"{path}.{key}"
                assert abs(rollup[key] - rows[key]) <= rollups.PERCENTILE_ERROR * rows[key] + 0.1, f"{path}.{key}"
            else:
                close(rows[key], rollup[key], f"{path}.{key}")
    elif isinstance(rows, list):
        assert len(rows) == len(rollup), path
        for i, (a, b) in enumerate(zip(rows, rollup, strict=True)):
            close(a, b, f"{path}[{i}]")
    else:
        assert rows == rollup, path


def comparable(name: str, report: dict[str, Any]) -> dict[str, Any]:
    """What must agree: every figure, except the opportunities ranked by median (thresholds on a percentile)."""
    if name == "opportunities":
        return {"days": report["days"]}
    return report


def same_figures(session: Any, tenant: str) -> None:
    for f in FILTERS:
        for name in dashboard.REPORTS:
            exact = dashboard.build(session, tenant, name, f, rows=True)
            summed = dashboard.build(session, tenant, name, f, rows=False)
            close(comparable(name, exact), comparable(name, summed), f"{name} {f.as_query()}")


def check_rollups_against_rows(session: Any, drawn: list[dict[str, Any]], late: list[int], gone: list[int]) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    other = f"o-{uuid.uuid4().hex[:10]}"
    ids = store_contacts(session, tenant, drawn)
    store_contacts(session, other, drawn[:5])  # another tenant's contacts never count
    rollups.rebuild(session, tenant)
    same_figures(session, tenant)
    # late outcomes (and an outcome queue) arrive; contacts are erased, some of them repeated by others
    for i in late:
        session.execute(
            sa.update(report_contacts)
            .where(report_contacts.c.interaction_id == ids[i % len(ids)])
            .values(actual_s=float(100 + i), resolution="resolved", outcome_queue="payments")
        )
    for i in gone:
        session.execute(sa.delete(Interaction).where(Interaction.id == ids[i % len(ids)]))
    session.commit()
    assert rollups.stale_days(session, tenant) > 0 or not (late or gone)
    same_figures(session, tenant)  # the stale days are rebuilt before reading; their months read from the rows
    rollups.refresh(session, tenant)  # the scheduled task: months' histograms too
    same_figures(session, tenant)


@pytest.fixture(scope="module")
def sqlite_session(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('rollups') / 'callscope.db'}"
    migrate(url)
    with get_sessionmaker(url)() as s:
        yield s


FIND = [Phase.explicit, Phase.reuse, Phase.generate]  # no shrinking: each example runs every report many times
draws = st.lists(contact, min_size=1, max_size=60)
late_outcomes = st.lists(st.integers(0, 500), max_size=6)
deletions = st.lists(st.integers(0, 500), max_size=6)


@settings(max_examples=15, deadline=None, phases=FIND, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=draws, late=late_outcomes, gone=deletions)
def test_rollups_give_the_rows_figures_on_sqlite(sqlite_session, drawn, late, gone):
    check_rollups_against_rows(sqlite_session, drawn, late, gone)


@settings(max_examples=5, deadline=None, phases=FIND, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=draws, late=late_outcomes, gone=deletions)
def test_rollups_give_the_rows_figures_on_postgresql(session, drawn, late, gone):
    check_rollups_against_rows(session, drawn, late, gone)


def test_percentiles_from_buckets_are_within_the_stated_error(sqlite_session):
    values = [0.0, 0.4, 1.0, 1.04, 7.5, 59.9, 60.0, 61.0, 299.0, 300.0, 3601.0, 86_400.0]
    for v in values:
        bucket = sqlite_session.scalar(sa.select(rollups.bucket_of(sa.literal(v, sa.Float))))
        assert abs(rollups.bucket_value(bucket) - v) <= rollups.PERCENTILE_ERROR * v + 1e-9
    assert rollups.rank_percentiles({1: 1, 5: 3, 9: 1}, (0.5, 0.9)) == [
        rollups.bucket_value(5),
        rollups.bucket_value(9),
    ]
    assert rollups.rank_percentiles({}, (0.5,)) == [None]


def test_triggers_mark_the_days_that_change(session):
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    base = dict.fromkeys(FIELDS, None) | {"channel": "chat", "repeat": False, "known_customer": True}
    _first, second = store_contacts(session, tenant, [base | {"day": 0}, base | {"day": 30, "repeats": 0}])
    marked = set(session.scalars(sa.select(rollups.marks.c.day).where(rollups.marks.c.tenant == tenant)))
    assert {rollups.as_date(d) for d in marked} == {START, START + timedelta(days=30)}
    assert rollups.refresh_days(session, tenant) == 2 and rollups.stale_days(session, tenant) == 0
    # an outcome for the repeat makes its own day and the repeated contact's day stale
    session.execute(sa.update(report_contacts).where(report_contacts.c.interaction_id == second).values(actual_s=60.0))
    session.commit()
    stale = {
        rollups.as_date(d)
        for d in session.scalars(
            sa.select(rollups.marks.c.day).where(rollups.marks.c.tenant == tenant, rollups.marks.c.scope == "d")
        )
    }
    assert stale == {START, START + timedelta(days=30)}


def test_reports_read_the_rollups_above_the_threshold(session, monkeypatch):
    """With the threshold at 0 the rollups answer; below it the rows do; a search always reads the rows."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    base = dict.fromkeys(FIELDS, None) | {"channel": "voice", "repeat": False, "known_customer": False}
    varied = {"intent": "refund", "agent": "a-7", "queue": "cards", "outcome_queue": "security", "channel": "sms"}
    store_contacts(session, tenant, [base | {"day": d, "actual_s": 100.0 + d} | (varied if d % 2 else {})
                                     for d in range(0, 60, 3)])  # fmt: skip
    rollups.refresh(session, tenant)
    assert dashboard.Reader(session, tenant, Filters()).rows  # 20 contacts: below the default threshold
    options = dashboard.filter_options(session, tenant)
    assert options["queue"] == ["security"] and options["agent"] == ["a-7"] and options["channel"] == ["sms", "voice"]
    monkeypatch.setenv("CALLSCOPE_REPORT_ROWS_BELOW", "0")
    from callscope.settings import get_settings

    get_settings.cache_clear()
    try:
        assert not dashboard.Reader(session, tenant, Filters()).rows
        assert dashboard.Reader(session, tenant, Filters(q="card")).rows
        assert dashboard.filter_options(session, tenant) == options  # now from the rollups
        report = dashboard.handle_time(session, tenant, Filters())
        assert report["overall"]["handled"] == 20
        assert math.isclose(report["overall"]["total_s"], sum(100.0 + d for d in range(0, 60, 3)))
    finally:
        monkeypatch.delenv("CALLSCOPE_REPORT_ROWS_BELOW")
        get_settings.cache_clear()


def test_the_rollup_command_rebuilds(session):
    from typer.testing import CliRunner

    from cli.main import app

    tenant = f"t-{uuid.uuid4().hex[:10]}"
    base = dict.fromkeys(FIELDS, None) | {"channel": "sms", "repeat": False, "known_customer": False}
    store_contacts(session, tenant, [base | {"day": 1}, base | {"day": 40}])
    session.execute(sa.delete(rollups.marks).where(rollups.marks.c.tenant == tenant))
    session.commit()
    result = CliRunner().invoke(app, ["reports", "rollup", "--tenant", tenant, "--rebuild"])
    assert result.exit_code == 0, result.output
    total = session.scalar(
        sa.select(sa.func.sum(rollups.rollup.c.contacts)).where(
            rollups.rollup.c.tenant == tenant, rollups.rollup.c.level == "total"
        )
    )
    assert total == 2


def test_retention_and_erasure_keep_the_rollups_right(session, client, make_key):
    """A contact erased through the API and contacts past the tenant's retention leave the rollups' figures equal
    to the rows' (the cascade deletes their report rows; the triggers mark their days)."""
    from callscope.storage import store
    from callscope.storage.db import TenantSettings
    from tests.conftest import auth

    tenant = f"t-{uuid.uuid4().hex[:10]}"
    base = dict.fromkeys(FIELDS, None) | {"channel": "chat", "repeat": False, "known_customer": True}
    drawn = [base | {"day": d, "actual_s": 30.0 * (d + 1), "agent": "a-1", "repeats": 0} for d in range(0, 60, 3)]
    ids = store_contacts(session, tenant, drawn)
    rollups.refresh(session, tenant)
    assert dashboard.build(session, tenant, "volume", Filters(), rows=False)["total"] == 20
    response = client.delete(f"/v1/interactions/{ids[-1]}", headers=auth(make_key("admin", tenant)))
    assert response.status_code == 204, response.text
    session.merge(TenantSettings(tenant=tenant, contact_retention_days=(TODAY - START).days - 30))
    session.commit()
    store.apply_retention(session)
    session.expire_all()
    remaining = session.scalar(
        sa.select(sa.func.count()).select_from(report_contacts).where(report_contacts.c.tenant == tenant)
    )
    assert 0 < remaining < 19
    assert dashboard.build(session, tenant, "volume", Filters(), rows=False)["total"] == remaining
    for name in ("handle-time", "queues-agents", "repeats", "sentiment"):
        close(dashboard.build(session, tenant, name, Filters(), rows=True),
              dashboard.build(session, tenant, name, Filters(), rows=False), name)  # fmt: skip
