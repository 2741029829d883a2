import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callscope.understanding.entities import Entity, extract_entities, extract_entities_many
from callscope.understanding.redact import redact_many, redact_with_spans


def found(text, spans=()):
    return [(e.type, e.text, e.value) for e in extract_entities(text, spans)]


def of_type(text, kind, spans=()):
    return [(e.text, e.value) for e in extract_entities(text, spans) if e.type == kind]


@pytest.mark.parametrize(
    ("text", "money"),
    [
        ("I was charged £25 twice", ("£25", 25.0, "GBP")),
        ("it was 25 pounds", ("25 pounds", 25.0, "GBP")),
        ("a payment of $1,200.50 left", ("$1,200.50", 1200.5, "USD")),
        ("they took fifty euros", ("fifty euros", 50.0, "EUR")),
        ("EUR 42.10 at the airport", ("EUR 42.10", 42.1, "EUR")),
        ("a fee of 12.99 USD", ("12.99 USD", 12.99, "USD")),
        ("a hundred and fifty quid", ("a hundred and fifty quid", 150.0, "GBP")),
        ("just 50p", ("50p", 0.5, "GBP")),
        ("five pounds and fifty pence", ("five pounds and fifty pence", 5.5, "GBP")),
        ("a £2k limit", ("£2k", 2000.0, "GBP")),
    ],
)
def test_money_is_normalised_to_amount_and_currency(text, money):
    surface, amount, currency = money
    assert of_type(text, "MONEY") == [(surface, {"amount": amount, "currency": currency})]


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("it went out yesterday", ("yesterday", {"relative": {"days": -1}})),
        ("I paid last Monday", ("last Monday", {"weekday": "monday", "which": "last"})),
        ("on 12 March", ("12 March", {"day": 12, "month": 3})),
        ("on the 3rd of May 2024", ("the 3rd of May 2024", {"date": "2024-05-03"})),
        ("from 2024-03-12", ("2024-03-12", {"date": "2024-03-12"})),
        ("on 25/03/2024", ("25/03/2024", {"date": "2024-03-25"})),
        ("on 12/03/2024", ("12/03/2024", {"date": "2024-03-12", "day_first_assumed": True})),
        ("three days ago", ("three days ago", {"relative": {"days": -3}})),
        ("next week", ("next week", {"relative": {"weeks": 1}})),
        ("since March 2024", ("March 2024", {"month": 3, "year": 2024})),
    ],
)
def test_dates_absolute_and_relative(text, date):
    assert of_type(text, "DATE") == [date]


def test_cards_take_brand_from_the_words_and_last_four_from_the_redaction():
    redaction = redact_with_spans("my Visa debit card 4111 1111 1111 1111 was declined")
    assert redaction.text == "my Visa debit card [CARD] was declined"
    assert of_type(redaction.text, "CARD", redaction.spans) == [
        ("Visa debit card [CARD]", {"brand": "visa", "kind": "debit", "last4": "1111"})
    ]
    assert of_type(redaction.text, "PRODUCT", redaction.spans) == [("Visa debit card", "debit_card")]


def test_card_mentions_and_spoken_last_fours():
    assert of_type("my debit card ending in 1234 and my Mastercard", "CARD") == [
        ("debit card ending in 1234", {"brand": None, "kind": "debit", "last4": "1234"}),
        ("Mastercard", {"brand": "mastercard", "kind": None, "last4": None}),
    ]
    assert of_type("the last four digits are nine eight seven six", "CARD") == [
        ("last four digits are nine eight seven six", {"brand": None, "kind": None, "last4": "9876"})
    ]
    assert of_type("an Amex credit card", "CARD") == [
        ("Amex credit card", {"brand": "amex", "kind": "credit", "last4": None})
    ]


def test_accounts_from_redaction_spans_and_phrases():
    redaction = redact_with_spans("move £500 from my savings account 12345678 to IBAN GB29 NWBK 6016 1331 9268 19")
    assert of_type(redaction.text, "ACCOUNT", redaction.spans) == [
        ("savings account [ACCOUNT]", {"kind": "savings", "id_type": "ACCOUNT"}),
        ("[IBAN]", {"kind": None, "id_type": "IBAN"}),
    ]
    assert of_type("I have a current account and a joint account", "ACCOUNT") == [
        ("current account", {"kind": "current", "id_type": None}),
        ("joint account", {"kind": "joint", "id_type": None}),
    ]


def test_merchants_orgs_and_products():
    text = "Amazon and Uber charged me, Goldman Sachs and Monzo too; I have a mortgage, an overdraft and Apple Pay"
    assert of_type(text, "MERCHANT") == [("Amazon", "Amazon"), ("Uber", "Uber")]
    assert of_type(text, "ORG") == [("Goldman Sachs", None), ("Monzo", "bank")]
    assert of_type(text, "PRODUCT") == [
        ("mortgage", "mortgage"),
        ("overdraft", "overdraft"),
        ("Apple Pay", "apple_pay"),
    ]
    assert [
        e[0] for e in found("set up a standing order and cancel the direct debit to Netflix") if e[0] != "MERCHANT"
    ] == [
        "PRODUCT",
        "PRODUCT",
    ]


def test_banking_words_and_placeholders_are_not_organisations():
    redaction = redact_with_spans("I called Card Services about my PIN, my name is John Smith, card 4111111111111111")
    entities = extract_entities(redaction.text, redaction.spans)
    assert [e.type for e in entities] == ["CARD"]
    assert "John" not in str(entities) and "4111" not in str(entities).replace("last4", "")


def test_entities_point_into_the_text_in_order():
    redaction = redact_with_spans(
        "Yesterday Tesco took £25.50 from my credit card 5500 0000 0000 0004, and again on 12 March"
    )
    entities = extract_entities(redaction.text, redaction.spans)
    assert all(isinstance(e, Entity) and redaction.text[e.start : e.end] == e.text for e in entities)
    assert [e.start for e in entities] == sorted(e.start for e in entities)
    assert [e.type for e in entities] == ["DATE", "MERCHANT", "MONEY", "CARD", "PRODUCT", "DATE"]
    assert entities[3].value == {"brand": None, "kind": "credit", "last4": "0004"}


def test_spans_from_another_text_are_ignored_and_empty_text_has_no_entities():
    other = redact_with_spans("card 4111 1111 1111 1111")
    assert extract_entities("nothing to see here at all", other.spans) == []
    assert extract_entities("   ") == []


def test_batched_extraction_matches_one_by_one():
    redactions = redact_many(["my Visa card 4111 1111 1111 1111", "", "£25 to Amazon yesterday"])
    items = [(r.text, r.spans, None) for r in redactions]
    assert extract_entities_many(items) == [extract_entities(t, s) for t, s, _ in items]


KEPT_READING_TEXTS = [
    "I spoke to Barclays on 12 March about my card 4539 1488 0343 6467, my name is John Smith",
    "HSBC charged me twice last Friday and the Financial Conduct Authority said to call you",
    "Tesco took £25.50 from my Visa yesterday, and Amazon took 30 euros on 4 June 2024",
    "Hi, this is Anna Lee from Acme Holdings, my account 12345678 was frozen on Monday",
    "",
]


def test_the_ner_reading_kept_at_redaction_gives_the_entities_of_reading_again():
    """The analysis lays the NER's reading from redaction time (`Redaction.entities`) on a doc read by the rule
    patterns alone; the entities are those of reading the redacted text with the whole pipeline again."""
    redactions = redact_many(KEPT_READING_TEXTS)
    assert all(r.entities is not None for r in redactions)
    kept = extract_entities_many([(r.text, r.spans, r.entities) for r in redactions])
    again = extract_entities_many([(r.text, r.spans, None) for r in redactions])
    assert kept == again
    types = [{e.type for e in found} for found in kept]
    assert {"ORG", "DATE"} <= types[0] and "ORG" in types[1] and "DATE" in types[3]


def test_kept_readings_stand_on_the_same_words_in_the_redacted_text():
    """Each kept span covers, in the redacted text, the words the NER read in the original; none covers PII."""
    for original, redaction in zip(KEPT_READING_TEXTS, redact_many(KEPT_READING_TEXTS), strict=True):
        for start, end, label in redaction.entities or []:
            words = redaction.text[start:end]
            assert label in ("ORG", "DATE") and words and "[" not in words and "]" not in words
            assert words in original


PIECES = [
    "Barclays", "on 12 March", "card 4539 1488 0343 6467", "my name is John Smith", "HSBC", "last Friday",
    "john.smith@example.com", "sort code 12-34-56", "the Financial Conduct Authority", "call me on 07700 900123",
    "four five three nine one four eight eight", "and", "yesterday", "Lloyds Bank", "account 12345678", "in 2024",
]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8))
def test_kept_readings_move_with_the_placeholders_before_them(pieces):
    """Whatever PII stands before an organisation or a date, its kept span moves by the placeholders' lengths."""
    original = " ".join(pieces)
    (redaction,) = redact_many([original])
    for start, end, _ in redaction.entities or []:
        words = redaction.text[start:end]
        assert words and "[" not in words and "]" not in words and words in original
