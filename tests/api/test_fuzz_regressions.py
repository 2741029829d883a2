"""Inputs schemathesis once found to cause 500s: each must be a clear 4xx now."""

from tests.conftest import auth


def test_out_of_range_numbers_and_nul_bytes_are_refused_not_500(client, make_key):
    key = make_key("admin")
    r = client.get("/v1/reports/contacts?offset=9223372036854775808", headers=auth(key))
    assert r.status_code == 422, r.text
    r = client.get("/v1/reports/export.csv?q=%00&queue=chat", headers=auth(key))
    assert r.status_code == 422, r.text
    r = client.post(
        "/v1/interactions", json={"channel": "sms", "direction": "inbound", "text": "a\x00b"}, headers=auth(key)
    )
    assert r.status_code in (202, 422), r.text
