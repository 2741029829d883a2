import pytest

from callscope.redact import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my card 4111 1111 1111 1111 was stolen", "my card [CARD ****1111] was stolen"),
        ("card 5500-0000-0000-0004 please", "card [CARD ****0004] please"),
        ("account 12345678 please", "account [ACCOUNT] please"),
        ("call me on +44 20 7946 0958 now", "call me on [PHONE] now"),
        ("write to jane.doe@example.com", "write to [EMAIL]"),
        ("IBAN GB29 NWBK 6016 1331 9268 19", "IBAN [IBAN]"),
        ("sort code 12-34-56", "sort code [SORT_CODE]"),
        ("it is four five six seven eight nine one two", "it is [NUMBER]"),
    ],
)
def test_pii_is_replaced(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["I paid 25.50 pounds on 12/03/2024", "charged 150 dollars twice on 2024-03-12", "ref 1234", "between 9 and 5"],
)
def test_amounts_dates_and_short_numbers_are_kept(text):
    assert redact(text) == text


def test_a_16_digit_number_failing_luhn_is_an_account_not_a_card():
    assert redact("number 1234 5678 9012 3456") == "number [ACCOUNT]"
