"""Log lines keep the addresses of hosts (an access log must say which host) and lose every card number."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callscope.access.scrub import scrub

pytestmark = pytest.mark.fast

octet = st.integers(0, 255).map(str)
address = st.tuples(octet, octet, octet, octet).map(".".join)
port = st.integers(1, 65535).map(str)


def luhn_completed(digits: str) -> str:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return digits + str((10 - total % 10) % 10)


cards = st.text("0123456789", min_size=15, max_size=15).map(lambda d: luhn_completed("4" + d[1:]))


@settings(max_examples=200, deadline=None)
@given(address, port, cards, st.sampled_from([" ", ".", "-"]))
def test_an_address_and_port_stay_whole_and_a_card_beside_it_does_not(host: str, number: str, card: str, sep: str):
    grouped = sep.join(card[i : i + 4] for i in range(0, 16, 4))
    line = f'INFO: {host}:{number} - "POST /v1/interactions" 202 card {grouped}'
    scrubbed = scrub(line)
    assert f"{host}:{number}" in scrubbed
    assert grouped not in scrubbed and card[-4:] not in scrubbed.split("202", 1)[1]
