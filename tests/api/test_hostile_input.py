"""Hostile input on every route answers a clear 4xx: deep, huge, non-finite and invalid-Unicode JSON, bodies over
their limit (chunked too), reused and over-long idempotency keys, tenant patterns and documents that would run or
grow without bound."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from fastapi.routing import APIRoute

from api.app import app
from callscope.storage.search import MAX_SEARCH_TERMS, fts5_query
from tests.conftest import auth

SMS = {"channel": "sms", "direction": "inbound", "text": "my card was declined"}
HOSTILE_JSON = {
    "deep array": "[" * 100_000 + "]" * 100_000,
    "deep object": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "NaN": '{"channel": "sms", "text": NaN, "handle_time_s": NaN}',
    "Infinity": '{"handle_time_s": Infinity, "text": -Infinity}',
    "1e309": '{"handle_time_s": 1e309}',
    "huge integer": '{"handle_time_s": ' + "9" * 5000 + "}",
    "lone surrogate": '{"text": "\\ud800", "name": "\\udfff", "url": "\\ud800", "role": "\\ud800"}',
    "surrogate key": '{"\\ud800": 1}',
    "NUL": '{"text": "a\\u0000b", "url": "http://x\\u0000y"}',
}


def _json_routes() -> list[tuple[str, str]]:
    """Every route that takes a body: the list grows by itself with the app."""
    routes = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in route.methods & {"POST", "PUT", "PATCH"}:
                path = route.path.replace("{interaction_id}", "x").replace("{form_id}", "f1").replace("{name}", "n1")
                path = path.replace("{category_id}", "1").replace("{question_id}", "q").replace("{prefix}", "cs_x")
                routes.append((method, path))
    return sorted(routes)


@pytest.mark.parametrize(("method", "path"), _json_routes())
def test_every_body_route_refuses_hostile_json_with_a_4xx(client, make_key, method, path):
    key = make_key("admin")
    for name, body in HOSTILE_JSON.items():
        response = client.request(method, path, content=body,
                                  headers={**auth(key), "Content-Type": "application/json"})  # fmt: skip
        assert 400 <= response.status_code < 500, (name, path, response.status_code, response.text[:200])
        response.json()  # the error itself is valid JSON (a lone surrogate once broke the 422's own encoding)


def test_a_declared_body_over_its_limit_is_refused_before_it_is_read(client, make_key):
    headers = {**auth(make_key("ingest")), "Content-Type": "application/json"}
    assert client.post("/v1/interactions", content=b"[" * 2_000_000, headers=headers).status_code == 413
    assert client.post("/v1/analyze", content=b" " * 1_100_000, headers=headers).status_code == 413


def test_multipart_metadata_is_held_to_the_json_rules(client, make_key):
    deep = "[" * 100_000 + "]" * 100_000
    for metadata, status in ((deep, 400), ('{"external_id": NaN}', 400), ("[1]", 400)):
        response = client.post("/v1/interactions", files={"file": ("a.wav", b"RIFF", "audio/wav")},
                               data={"metadata": metadata}, headers=auth(make_key("ingest")))  # fmt: skip
        assert response.status_code == status, (metadata[:20], response.text)


def test_query_numbers_out_of_range_and_long_searches_answer_422(client, make_key):
    key = make_key("admin")
    assert client.get("/v1/reports/contacts?offset=99999999999999999999", headers=auth(key)).status_code == 422
    assert client.get("/v1/reports/search?q=card&offset=1000000000", headers=auth(key)).status_code == 422
    too_many = " or ".join(f"w{i}" for i in range(MAX_SEARCH_TERMS + 1))
    for route in ("/v1/reports/search", "/v1/reports/export.csv"):
        response = client.get(route, params={"q": too_many}, headers=auth(key))
        assert response.status_code == 422 and "at most" in response.json()["detail"]
    allowed = " or ".join(["a"] * MAX_SEARCH_TERMS)
    assert client.get("/v1/reports/search", params={"q": allowed}, headers=auth(key)).status_code == 200
    export = client.get("/v1/reports/export.csv", params={"q": allowed}, headers=auth(key))
    assert export.status_code == 200 and export.text.startswith("id,")


def test_many_alternatives_make_one_flat_fts5_group_that_sqlite_runs():
    """Each `or` once nested the query one level deeper: FTS5's parser stack overflowed (a false 503)."""
    query = fts5_query(" or ".join(f"word{i}" for i in range(MAX_SEARCH_TERMS)) + " -spam")
    assert query.count("(") == 1
    db = sqlite3.connect(":memory:")
    db.execute("create virtual table docs using fts5(body)")
    db.execute("insert into docs values ('word7 and more')")
    assert db.execute("select count(*) from docs where docs match ?", (query,)).fetchone() == (1,)


def test_idempotency_keys_over_long_reused_or_odd_are_refused_alone(client, make_key):
    key = make_key("ingest")
    long_key = {**auth(key), "Idempotency-Key": "k" * 300}
    assert client.post("/v1/interactions", json=SMS, headers=long_key).status_code == 422
    odd = {**auth(key), "Idempotency-Key": "tab\there"}
    assert client.post("/v1/interactions", json=SMS, headers=odd).status_code == 422
    same = {**auth(key), "Idempotency-Key": "order-1"}
    first = client.post("/v1/interactions", json=SMS, headers=same)
    again = client.post("/v1/interactions", json=dict(reversed(list(SMS.items()))), headers=same)  # same body
    assert first.status_code == 202 and again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = client.post("/v1/interactions", json={**SMS, "text": "a different contact"}, headers=same)
    assert other.status_code == 409 and "different request" in other.json()["detail"]
    recording = {"file": ("a.wav", open("samples/call_dual_channel.wav", "rb").read(), "audio/wav")}  # noqa: SIM115
    voice = {**auth(key), "Idempotency-Key": "call-1"}
    posted = client.post("/v1/interactions", files=recording, headers=voice)
    assert client.post("/v1/interactions", files=recording, headers=voice).json()["id"] == posted.json()["id"]
    changed = {"file": ("a.wav", recording["file"][1][:-2000] + b"\x01" * 2000, "audio/wav")}  # other samples
    assert client.post("/v1/interactions", files=changed, headers=voice).status_code == 409


CATASTROPHIC = {"id": "evil", "name": "Evil", "questions": [
    {"id": "q", "text": "Q", "check": {"type": "phrase", "pattern": "(a+)+$", "speaker": "customer"}}]}  # fmt: skip


def test_a_backtracking_pattern_runs_in_linear_time(client, make_key):
    """`(a+)+$` over 40 a's and a '!' took minutes with Python's re (it tripled per character)."""
    from callscope.contacts import Turn
    from callscope.understanding import qa

    admin = make_key("admin")
    assert client.put("/v1/qa/forms/evil", json=CATASTROPHIC, headers=auth(admin)).status_code == 200
    form = qa.parse_form(CATASTROPHIC)
    contact = qa.Contact(turns=[Turn(speaker="customer", text="a" * 40 + "!")], channel="sms")
    started = time.process_time()
    answer = qa.evaluate(form, contact)["answers"][0]
    assert answer["answer"] == "no" and time.process_time() - started < 5  # a bound no backtracking engine meets
    for refused in ("(a)\\1", "(?=a)b", "a" * 600):
        bad = {**CATASTROPHIC, "questions": [{**CATASTROPHIC["questions"][0], "check": {"type": "phrase",
                                                                                       "pattern": refused}}]}
        assert client.put("/v1/qa/forms/evil", json=bad, headers=auth(admin)).status_code == 422, refused


def test_yaml_forms_refuse_aliases_and_deep_nesting(client, make_key):
    admin = {**auth(make_key("admin")), "Content-Type": "application/yaml"}
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 8)
    ]
    bomb = "\n".join(levels).encode()
    assert len(bomb) < 1000
    response = client.put("/v1/qa/forms/bomb", content=bomb, headers=admin)
    assert response.status_code == 422 and "aliases" in response.json()["detail"]
    deep = client.put("/v1/qa/forms/deep", content=b"[" * 50_000, headers=admin)
    assert deep.status_code == 422
    merge = b"base: &b {id: q}\nquestions: [{<<: *b, text: T, check: {type: greeting}}]\nid: m\nname: M\n"
    assert client.put("/v1/qa/forms/merge", content=merge, headers=admin).status_code == 422


def test_errors_are_json_and_never_echo_a_lone_surrogate(client, make_key):
    key = make_key("admin")
    body = json.dumps({"text": "\ud800"}, ensure_ascii=True)
    response = client.post("/v1/analyze", content=body, headers={**auth(key), "Content-Type": "application/json"})
    assert response.status_code == 422 and "surrogate" in response.json()["detail"]
