"""Rate limits in the real Redis, at any request times: no burst past the limit, and Retry-After is honest."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from callscope.access import ratelimit
from tests.conftest import BROKER_URL

START = 1_800_000_000.0  # a minute's edge
gaps = st.lists(st.one_of(st.floats(0, 3), st.floats(0, 90)), min_size=1, max_size=40)
before_edge = st.floats(0, 5)  # the first request falls this long before a minute's edge


def _requests(limit: int, times: list[float]) -> list[tuple[float, str | None, int]]:
    bucket = f"test:{uuid.uuid4().hex}"
    return [
        (t, *ratelimit.check(BROKER_URL, bucket=bucket, address="-", per_minute=limit, failures_per_minute=0, now=t))
        for t in times
    ]


def _times(before: float, spaces: list[float]) -> list[float]:
    times, now = [], START - before
    for space in spaces:
        now += space
        times.append(now)
    return times


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(1, 8), before=before_edge, spaces=gaps)
def test_no_span_of_time_lets_more_through_than_the_limit_plus_what_it_earns(limit, before, spaces):
    """Wherever the requests fall (a minute's edge included), any span of d seconds admits at most
    limit + d * limit / 60: a full bucket, then one back every 60/limit seconds."""
    admitted = [t for t, exceeded, _ in _requests(limit, _times(before, spaces)) if exceeded is None]
    for i, first in enumerate(admitted):
        for j in range(i, len(admitted)):
            assert j - i + 1 <= limit + (admitted[j] - first) * limit / 60 + 1e-6, (limit, admitted[i : j + 1])


@settings(max_examples=40, deadline=None)
@given(limit=st.integers(1, 8), before=before_edge, burst_s=st.floats(0, 2))
def test_a_refused_caller_is_let_in_when_retry_after_says(limit, before, burst_s):
    """The request after a full bucket is refused, and the same caller gets in after the Retry-After it was given
    (not before that whole second)."""
    bucket = f"test:{uuid.uuid4().hex}"
    now = START - before

    def ask(t: float) -> tuple[str | None, int]:
        return ratelimit.check(BROKER_URL, bucket=bucket, address="-", per_minute=limit, failures_per_minute=0, now=t)

    assert all(ask(now + burst_s * k / limit)[0] is None for k in range(limit))
    exceeded, retry_after = ask(now + burst_s)
    assert exceeded == "requests" and 1 <= retry_after <= 60
    if retry_after > 1:
        assert ask(now + burst_s + retry_after - 1)[0] == "requests"
    assert ask(now + burst_s + retry_after)[0] is None


def test_failed_authentications_hold_the_address_off_and_drain():
    address = f"203.0.113.{uuid.uuid4().int % 250}:{uuid.uuid4().hex[:6]}"

    def ask(t: float) -> tuple[str | None, int]:
        return ratelimit.check(BROKER_URL, bucket=f"test:{uuid.uuid4().hex}", address=address, per_minute=0,
                               failures_per_minute=3, now=t)  # fmt: skip

    for k in range(3):
        assert ask(START + k)[0] is None
        ratelimit.note_failure(BROKER_URL, address=address, per_minute=3, now=START + k)
    exceeded, retry_after = ask(START + 3)
    assert exceeded == "failures" and 1 <= retry_after <= 60
    assert ask(START + 3 + retry_after)[0] is None  # one failure's worth has drained: one more try


def test_no_limit_and_no_broker_let_everything_through():
    assert ratelimit.check(BROKER_URL, bucket="x", address="-", per_minute=0, failures_per_minute=0) == (None, 0)
    assert ratelimit.check("redis://127.0.0.1:1/0", bucket="x", address="-", per_minute=1, failures_per_minute=1) == (
        None,
        0,
    )  # fails open: an outage must not lock every client out
