"""The broker URL forms: one Redis, the embedded one, or a primary found through Sentinel (kombu's form + master)."""

from __future__ import annotations

import pytest

from callscope.storage import broker

pytestmark = pytest.mark.fast


def test_a_sentinel_url_names_every_sentinel_the_master_and_the_database() -> None:
    url = "sentinel://s1:26379;sentinel://s2;sentinel://:pw@s3:26380/2?master_name=callscope"
    found = broker.parse_sentinel(url)
    assert found == broker.SentinelBroker((("s1", 26379), ("s2", 26379), ("s3", 26380)), "callscope", 2, "pw")
    celery_url, options = broker.celery_broker(url)
    assert celery_url == "sentinel://:pw@s1:26379/2;sentinel://:pw@s2:26379/2;sentinel://:pw@s3:26380/2"
    assert options["master_name"] == "callscope" and "?" not in celery_url


def test_other_brokers_pass_through_and_a_sentinel_url_without_its_master_is_refused() -> None:
    assert broker.parse_sentinel("redis://h:6379/0") is None
    assert broker.celery_broker("redis://h:6379/0") == ("redis://h:6379/0", {})
    with pytest.raises(ValueError, match="master_name"):
        broker.parse_sentinel("sentinel://s1:26379;sentinel://s2:26379/0")
    with pytest.raises(ValueError):
        broker.parse_sentinel("sentinel://s1:26379;redis://s2:6379/0?master_name=m")
