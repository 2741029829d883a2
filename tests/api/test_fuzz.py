"""Fuzz every route of the OpenAPI schema with schemathesis: no 500s, no responses that break the schema."""

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from api.app import app

schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def admin_key(database):
    from callscope.access.keys import create_api_key
    from callscope.storage.db import get_sessionmaker

    with get_sessionmaker(database)() as session:
        return create_api_key(session, tenant="fuzz", role="admin")


# Queuing an intent fit is left out: each accepted call makes the suite's one worker fit a model (up to a minute
# with the Banking77 base), which would hold up every later test; tests/worker/test_custom_intents_worker.py calls it.
@schema.exclude(path="/v1/intent-models", method="POST").parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_fails_or_breaks_its_schema(case, admin_key):
    # Left out, each for a reason: the schema cannot say "this binary must be audio", so a schema-valid PNG upload is
    # rightly refused (415); and FastAPI takes the last of a repeated scalar query parameter instead of refusing it.
    excluded = [positive_data_acceptance, negative_data_rejection]
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_key}"}, excluded_checks=excluded)


# The same routes with hostile values planted in the generated bodies: deep nesting, numbers no JSON reader should
# accept, lone surrogates, NUL bytes and huge strings, at a random place of each body. Every answer is a 4xx or a
# success, never a 5xx (a lone surrogate once broke the 422's own encoding; NaN reached the database).
hostile_schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/v1/intent-models", method="POST")
HOSTILE_VALUES = st.sampled_from([
    float("nan"), float("inf"), -float("inf"), 10**400, "\ud800", "a\x00b", "x" * 300_000,
    [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
])  # fmt: skip


def _plant(body, value, where):
    if isinstance(body, dict) and body:
        key = sorted(body)[where % len(body)]
        return {**body, key: _plant(body[key], value, where // 7)}
    if isinstance(body, list) and body:
        return [*body[:-1], _plant(body[-1], value, where // 7)]
    return value


@pytest.fixture(scope="module")
def hostile_client():
    """The app's own test client: schemathesis's calls and these share one event loop (the ingest batcher's)."""
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        yield client


def flatmap_body(ctx, body):
    return st.tuples(HOSTILE_VALUES, st.integers(0, 10_000)).map(lambda drawn: _plant(body, *drawn))


@hostile_schema.hooks.apply(flatmap_body)
@hostile_schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_hostile_values_anywhere_in_a_body_get_a_4xx_never_a_5xx(case, admin_key, hostile_client):
    headers = {"Authorization": f"Bearer {admin_key}"}
    if case.media_type not in (None, "application/json"):
        return  # multipart bodies: the schema fuzz above sends them
    body = None  # written as Python's json writes it (NaN, Infinity, huge integers), which HTTP clients refuse to
    if case.media_type == "application/json":
        body, headers = json.dumps(case.body, allow_nan=True), {**headers, "Content-Type": "application/json"}
    response = hostile_client.request(case.method, case.formatted_path, params=case.query, content=body,
                                      headers=headers)  # fmt: skip
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
