"""Entities a banking contact talks about: money, dates, cards, accounts, merchants, organisations, products.

It reads *redacted* text (so no raw PII can reach an entity) plus the redaction spans, which carry what may be kept:
a card's last four digits and which placeholders are account identifiers. One shared spaCy pipeline
(`callscope.understanding.nlp`: an EntityRuler for products, card brands, merchants and banks, then the statistical
NER for other
organisations and date phrases) plus regular expressions for amounts and dates, which also normalise them.

Entity types and their `value`:

- MONEY: `{"amount": float, "currency": "GBP" | "USD" | "EUR" | ... | None}` ("£25", "25 pounds", "fifty euros").
- DATE: `{"date": "YYYY-MM-DD"}`, `{"day", "month", "year"}` (the parts given), `{"relative": {"days": -1}}`,
  `{"weekday": "monday", "which": "last" | "this" | "next" | None}`, or None for other date phrases from the NER.
- CARD: `{"brand": "visa" | "mastercard" | "amex" | ... | None, "kind": "debit" | "credit" | "prepaid" | None,
  "last4": "1234" | None}`; a mention followed by its number ("my Visa card [CARD]", "debit card ending 1234") is one.
- ACCOUNT: `{"kind": "savings" | "current" | "joint" | "business" | "student" | "isa" | None,
  "id_type": "ACCOUNT" | "IBAN" | "SORT_CODE" | None}`.
- MERCHANT: the canonical merchant name ("Amazon"); ORG: `"bank"` for known banks, else None.
- PRODUCT: a product key ("mortgage", "credit_card", "apple_pay", "standing_order", ...).

"credit card"/"debit card" are both a CARD and a PRODUCT, and "savings account" both an ACCOUNT and a PRODUCT: each
such phrase yields one entity of each type, with the same offsets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from spacy.tokens import Doc

from callscope.contacts import NerSpan
from callscope.understanding.nlp import (
    BANK_LABEL,
    BANKING_WORDS,
    CARD_LABEL,
    MERCHANT_LABEL,
    NLP_LOCK,
    PRODUCT_LABEL,
    RULER_LABELS,
    load_nlp,
)
from callscope.understanding.redact import RedactedSpan
from callscope.understanding.vocabulary import SPOKEN_DIGITS, alternation

__all__ = ["Entity", "extract_entities", "extract_entities_many"]


@dataclass(frozen=True)
class Entity:
    """One entity: its type, the text it covers in the (redacted) input, offsets, and a normalised value."""

    type: str
    text: str
    start: int
    end: int
    value: dict[str, Any] | str | None = None


# --- money --------------------------------------------------------------------------------------------------------

_SYMBOLS = {"£": "GBP", "$": "USD", "€": "EUR", "¥": "JPY"}
_CODES = ("GBP", "USD", "EUR", "CAD", "AUD", "CHF", "JPY", "INR", "NZD", "SEK", "NOK", "DKK", "PLN", "ZAR")
_CURRENCY_WORDS = {
    "pound": "GBP", "pounds": "GBP", "quid": "GBP", "sterling": "GBP", "dollar": "USD", "dollars": "USD",
    "bucks": "USD", "euro": "EUR", "euros": "EUR", "yen": "JPY", "rupee": "INR", "rupees": "INR",
}  # fmt: skip
_SUBUNIT_WORDS = {"pence": "GBP", "p": "GBP", "penny": "GBP", "cent": None, "cents": None}
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}

_NUMBER_WORDS = {
    "zero": 0, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}
_NUM_WORD = "(?:" + "|".join(sorted([*_NUMBER_WORDS.keys() - {"a", "an"}, *_SCALES], key=lambda w: (-len(w), w))) + ")"
_WORDS_AMOUNT = rf"(?:(?:an?|{_NUM_WORD})(?:(?:[\s-]+|\s+and\s+){_NUM_WORD}){{0,7}})"  # bounded: stays linear
_DIGITS_AMOUNT = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_MULT = r"(?:\s?(?:k|m|bn)\b|\s(?:thousand|million|billion)\b)?"
_CUR_WORD = r"(?:pounds?|quid|sterling|dollars?|bucks|euros?|yen|rupees?)"
_SUB_WORD = r"(?:pence|penny|p|cents?)"
_CODE = "(?:" + "|".join(_CODES) + ")"

_MONEY = re.compile(
    rf"(?P<sym>[£$€¥])\s?(?P<n1>{_DIGITS_AMOUNT})(?P<m1>{_MULT})"
    rf"|\b(?P<code1>{_CODE})\s?(?P<n2>{_DIGITS_AMOUNT})(?P<m2>{_MULT})"
    rf"|(?<![\w.,£$€¥])(?P<n3>{_DIGITS_AMOUNT})(?P<m3>{_MULT})\s?(?:(?P<code2>{_CODE})\b|(?P<cw3>(?i:{_CUR_WORD}))\b"
    rf"|(?P<sw3>(?i:{_SUB_WORD}))\b)"
    rf"|\b(?P<w4>(?i:{_WORDS_AMOUNT}))\s+(?:(?P<cw4>(?i:{_CUR_WORD}))|(?P<sw4>(?i:pence|cents?)))\b"
)
# "5 pounds 50", "five pounds and fifty pence": the pence part after a pound amount.
_PENCE_TAIL = re.compile(rf"\s+(?:and\s+)?(?P<p>\d{{1,2}}|(?i:{_WORDS_AMOUNT}))(?:\s*(?i:p|pence|cents?)\b)")


def _words_value(text: str) -> float | None:
    """'a hundred and fifty' -> 150, 'twenty-five' -> 25; None if it is not a number phrase."""
    total = current = 0
    seen = False
    for word in re.split(r"[\s-]+", text.lower()):
        if word == "and" or not word:
            continue
        if word in _NUMBER_WORDS:
            current += _NUMBER_WORDS[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in _SCALES:
            total += (current or 1) * _SCALES[word]
            current = 0
        else:
            return None
        seen = True
    return float(total + current) if seen else None


def _number(text: str) -> float | None:
    return float(text.replace(",", "")) if text[0].isdigit() else _words_value(text)


def _money(text: str) -> Iterator[Entity]:
    for m in _MONEY.finditer(text):
        g = m.groupdict()
        n = g["n1"] or g["n2"] or g["n3"] or g["w4"]
        mult = (g["m1"] or g["m2"] or g["m3"] or "").strip().lower()
        currency: str | None
        if g["sym"]:
            currency = _SYMBOLS[g["sym"]]
        elif g["code1"] or g["code2"]:
            currency = g["code1"] or g["code2"]
        elif g["cw3"] or g["cw4"]:
            currency = _CURRENCY_WORDS[(g["cw3"] or g["cw4"]).lower()]
        else:
            currency = _SUBUNIT_WORDS[(g["sw3"] or g["sw4"]).lower()]
        amount = _number(n)
        if amount is None:
            continue
        amount *= _MULTIPLIERS.get(mult, 1.0)
        end = m.end()
        if g["sw3"] or g["sw4"]:
            amount /= 100
        elif currency in ("GBP", "USD", "EUR") and not g["sym"] and "." not in n:
            tail = _PENCE_TAIL.match(text, end)
            pence = _number(tail.group("p")) if tail else None
            if tail and pence is not None and pence < 100:
                amount += pence / 100
                end = tail.end()
        yield Entity("MONEY", text[m.start() : end], m.start(), end, {"amount": round(amount, 2), "currency": currency})


# --- dates --------------------------------------------------------------------------------------------------------

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH = "(?i:" + "|".join(sorted(_MONTHS, key=lambda w: (-len(w), w))) + r")\.?"
_WEEKDAY = r"(?i:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ORD = r"(?P<day>\d{1,2})(?i:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_RELATIVE_DAYS = {
    "the day before yesterday": -2, "the day after tomorrow": 2, "yesterday": -1, "today": 0, "tonight": 0,
    "tomorrow": 1, "last night": -1, "this morning": 0, "this afternoon": 0, "this evening": 0, "earlier today": 0,
}  # fmt: skip
_UNITS = r"(?P<unit>day|week|month|year|fortnight)s?"
_COUNT = rf"(?P<count>\d+|a|an|a couple of|a few|{_NUM_WORD}(?:[\s-]{_NUM_WORD})?)"

_DATES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iso", re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b")),
    ("numeric", re.compile(r"\b(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})\b")),
    ("day_month", re.compile(rf"\b(?:the\s+)?{_ORD}(?:\s+of)?\s+(?P<month>{_MONTH})(?:,?\s+{_YEAR})?\b")),
    ("month_day", re.compile(rf"\b(?P<month>{_MONTH})\s+(?:the\s+)?{_ORD}\b(?:,?\s+{_YEAR})?")),
    ("month_year", re.compile(rf"\b(?P<month>{_MONTH})\s+{_YEAR}\b")),
    ("relative", re.compile(r"\b(?i:" + "|".join(_RELATIVE_DAYS) + r")\b")),
    ("ago", re.compile(rf"\b(?i:{_COUNT}\s+{_UNITS}\s+ago)\b")),
    ("in", re.compile(rf"\b(?i:in\s+{_COUNT}\s+{_UNITS})\b")),
    ("which_unit", re.compile(r"\b(?i:(?P<which>last|this|next)\s+(?P<unit>week|weekend|month|year))\b")),
    ("weekday", re.compile(rf"\b(?i:(?:(?P<which>last|this|next)\s+)?(?P<weekday>{_WEEKDAY}))\b")),
    ("ordinal_day", re.compile(r"(?<=\b(?i:on) )(?i:the\s+)(?P<day>\d{1,2})(?i:st|nd|rd|th)\b")),
)
_ISO_UNITS = {
    "day": "days",
    "week": "weeks",
    "fortnight": "weeks",
    "month": "months",
    "year": "years",
    "weekend": "weeks",
}


def _count(text: str) -> int | None:
    text = text.lower()
    if text in ("a", "an"):
        return 1
    if text == "a couple of":
        return 2
    if text == "a few":
        return 3
    value = _number(text)
    return int(value) if value is not None else None


def _full_date(year: int, month: int, day: int) -> dict[str, Any] | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return {"date": f"{year:04d}-{month:02d}-{day:02d}"}


def _date_value(kind: str, m: re.Match[str]) -> dict[str, Any] | None:
    """Normalised value of a date match; None when the digits cannot be a date."""
    g = m.groupdict()
    if kind == "iso":
        return _full_date(int(g["year"]), int(g["month"]), int(g["day"]))
    if kind == "numeric":
        a, b = int(g["a"]), int(g["b"])
        year = int(g["year"]) + (2000 if len(g["year"]) == 2 else 0)
        # day first (UK) unless only month first makes sense
        day, month = (b, a) if b > 12 >= a else (a, b)
        value = _full_date(year, month, day)
        if value is not None and a <= 12 and b <= 12 and a != b:
            value["day_first_assumed"] = True
        return value
    if kind in ("day_month", "month_day", "month_year"):
        month = _MONTHS[g["month"].lower().rstrip(".")]
        parts = {"day": int(g["day"])} if g.get("day") else {}
        if parts and not 1 <= parts["day"] <= 31:
            return None
        if g.get("year") and parts:
            return _full_date(int(g["year"]), month, parts["day"])
        return {**parts, "month": month, **({"year": int(g["year"])} if g.get("year") else {})}
    if kind == "relative":
        return {"relative": {"days": _RELATIVE_DAYS[m.group().lower()]}}
    if kind in ("ago", "in"):
        count = _count(g["count"])
        if count is None:
            return None
        unit = g["unit"].lower()
        count *= 2 if unit == "fortnight" else 1
        return {"relative": {_ISO_UNITS[unit]: -count if kind == "ago" else count}}
    if kind == "which_unit":
        step = {"last": -1, "this": 0, "next": 1}[g["which"].lower()]
        return {
            "relative": {_ISO_UNITS[g["unit"].lower()]: step},
            **({"weekend": True} if "weekend" in m.group().lower() else {}),
        }
    if kind == "weekday":
        which = (g["which"] or "").lower()
        return {"weekday": g["weekday"].lower(), "which": which or None}
    return {"day": int(g["day"])} if 1 <= int(g["day"]) <= 31 else None


def _dates(text: str) -> Iterator[Entity]:
    for kind, regex in _DATES:
        for m in regex.finditer(text):
            value = _date_value(kind, m)
            if value is not None:
                yield Entity("DATE", m.group(), m.start(), m.end(), value)


# --- cards and accounts -------------------------------------------------------------------------------------------

_DIGIT_WORDS = SPOKEN_DIGITS
_DIGIT_WORD = f"(?:{alternation(SPOKEN_DIGITS)})"
_LAST4 = re.compile(
    rf"\b(?i:(?:ending|ends|end)\s+(?:in\s+|with\s+)?|last\s+(?:four|4)(?:\s+digits)?"
    rf"(?:\s+(?:is|are|of|being))?\s*:?\s*)(?P<digits>\d{{4}}|(?i:{_DIGIT_WORD}(?:[\s,-]+{_DIGIT_WORD}){{3}}))\b"
)
_CONNECTOR = re.compile(
    r"^(?:[\s,:.-]|\b(?:card|cards|number|no|num|is|was|it's|ending|ends|in|with|the|last|four|digits|of|account|"
    r"sort|code|iban)\b)*$",
    re.IGNORECASE,
)
_ACCOUNT_KINDS = {
    "savings_account": "savings", "current_account": "current", "joint_account": "joint",
    "business_account": "business", "student_account": "student", "isa": "isa",
}  # fmt: skip
_ID_SPANS = {"ACCOUNT", "IBAN", "SORT_CODE"}
_MAX_GAP = 40


def _digits(text: str) -> str:
    return "".join(_DIGIT_WORDS.get(w.lower(), w) for w in re.findall(r"\d+|[A-Za-z]+", text))


def _identifiers(text: str, spans: Sequence[RedactedSpan]) -> Iterator[Entity]:
    """CARD/ACCOUNT entities for the placeholders that name them, and for "ending 1234" style last fours."""
    for span in spans:
        if text[span.start : span.end] != f"[{span.type}]":
            continue  # spans from another text: ignore rather than point at the wrong words
        if span.type == "CARD":
            yield Entity("CARD", text[span.start : span.end], span.start, span.end, _card(None, None, span.last4))
        elif span.type in _ID_SPANS:
            yield Entity("ACCOUNT", text[span.start : span.end], span.start, span.end, _account(None, span.type))
    for m in _LAST4.finditer(text):
        yield Entity("CARD", m.group(), m.start(), m.end(), _card(None, None, _digits(m.group("digits"))))


def _card(brand: str | None, kind: str | None, last4: str | None) -> dict[str, Any]:
    return {"brand": brand, "kind": kind, "last4": last4}


def _account(kind: str | None, id_type: str | None) -> dict[str, Any]:
    return {"kind": kind, "id_type": id_type}


def _merge(mentions: list[Entity], identifiers: list[Entity], text: str) -> list[Entity]:
    """Join a mention ("my Visa card") with the identifier right after it ("[CARD]", "ending 1234")."""
    merged: list[Entity] = []
    used: set[int] = set()
    for mention in mentions:
        following = [
            (i, e)
            for i, e in enumerate(identifiers)
            if i not in used and e.type == mention.type and 0 <= e.start - mention.end <= _MAX_GAP
        ]
        match = next(((i, e) for i, e in following if _CONNECTOR.match(text[mention.end : e.start])), None)
        if match is None:
            merged.append(mention)
            continue
        i, ident = match
        used.add(i)
        assert isinstance(mention.value, dict) and isinstance(ident.value, dict)
        value = {k: mention.value.get(k) or ident.value.get(k) for k in mention.value}
        merged.append(Entity(mention.type, text[mention.start : ident.end], mention.start, ident.end, value))
    return merged + [e for i, e in enumerate(identifiers) if i not in used]


# --- the pipeline -------------------------------------------------------------------------------------------------


def _overlaps(entity: Entity, others: Sequence[Entity]) -> bool:
    return any(entity.start < o.end and o.start < entity.end for o in others)


def _ruler_entities(doc: Doc) -> Iterator[Entity]:
    """Products, card mentions, merchants and banks found by the EntityRuler, with their dual types."""
    for ent in doc.ents:
        text, start, end, key = ent.text, ent.start_char, ent.end_char, ent.ent_id_
        if ent.label_ == PRODUCT_LABEL:
            yield Entity("PRODUCT", text, start, end, key)
            if key in _ACCOUNT_KINDS:
                yield Entity("ACCOUNT", text, start, end, _account(_ACCOUNT_KINDS[key], None))
        elif ent.label_ == CARD_LABEL:
            brand, _, kind = key.partition(":")
            yield Entity("CARD", text, start, end, _card(brand or None, kind or None, None))
            if kind:
                yield Entity("PRODUCT", text, start, end, f"{kind}_card")
        elif ent.label_ == MERCHANT_LABEL:
            yield Entity("MERCHANT", text, start, end, key)
        elif ent.label_ == BANK_LABEL:
            yield Entity("ORG", text, start, end, "bank")


def _ner_entities(doc: Doc, read: Sequence[NerSpan] | None) -> Iterator[Entity]:
    """ORG and DATE entities from the statistical NER, minus banking words it mistakes for organisations.

    `read`: what the NER found when the turn was redacted (`Turn.ner`), laid on `doc` (then read by the rules alone);
    None: the NER's reading is `doc`'s own."""
    spans = doc.ents if read is None else [doc.char_span(a, b, label, alignment_mode="expand") for a, b, label in read]
    for ent in spans:
        if ent is None:
            continue
        if ent.label_ in RULER_LABELS or "[" in ent.text or "]" in ent.text:
            continue
        words = [t.lower_ for t in ent if t.is_alpha]
        if not words:
            continue
        if ent.label_ == "ORG" and not all(w in BANKING_WORDS for w in words):
            yield Entity("ORG", ent.text, ent.start_char, ent.end_char, None)
        elif ent.label_ == "DATE":
            yield Entity("DATE", ent.text, ent.start_char, ent.end_char, None)


def _extract(text: str, spans: Sequence[RedactedSpan], doc: Doc, read: Sequence[NerSpan] | None = None) -> list[Entity]:
    ruled = list(_ruler_entities(doc))
    identifiers = [e for e in _identifiers(text, spans) if not _overlaps(e, [r for r in ruled if r.type != "CARD"])]
    identifiers = [e for i, e in enumerate(identifiers) if not _overlaps(e, identifiers[:i])]
    mentions = [e for e in ruled if e.type in ("CARD", "ACCOUNT")]
    others = [e for e in ruled if e.type not in ("CARD", "ACCOUNT")]
    found = others + _merge(mentions, identifiers, text)
    for entity in [*_money(text), *_dates(text), *_ner_entities(doc, read)]:
        if not _overlaps(entity, found):
            found.append(entity)
    order = {"CARD": 0, "ACCOUNT": 1, "PRODUCT": 2}
    return sorted(found, key=lambda e: (e.start, order.get(e.type, 3), -e.end))


def extract_entities(text: str, spans: Sequence[RedactedSpan] = ()) -> list[Entity]:
    """Entities in redacted `text`, in text order; `spans` (from `redact_with_spans`) add cards and accounts."""
    if not text.strip():
        return []
    with NLP_LOCK:
        return _extract(text, spans, load_nlp()(text))


def read_docs(texts: Iterable[str], *, rules_only: bool = False) -> dict[str, Doc]:
    """The pipeline's reading of each distinct text, in one batched pass (a batch of contacts reads its turns once).

    `rules_only`: the rule patterns without the statistical NER, for turns whose NER reading was kept (`Turn.ner`)."""
    distinct = list(dict.fromkeys(texts))
    with NLP_LOCK:
        nlp = load_nlp()
        return dict(zip(distinct, nlp.pipe(distinct, disable=["ner"] if rules_only else []), strict=True))


@dataclass
class Readings:
    """Docs already read (`read_docs`), by text: by the whole pipeline, and by its rules alone."""

    full: dict[str, Doc] = field(default_factory=dict)
    rules: dict[str, Doc] = field(default_factory=dict)

    def read(self, items: Iterable[tuple[str, Sequence[NerSpan] | None]]) -> None:
        """Read the texts not read yet: by the rules alone where the NER's reading is known."""
        items = [(text, read) for text, read in items if text.strip()]
        self.full.update(read_docs(t for t, read in items if read is None and t not in self.full))
        self.rules.update(read_docs((t for t, read in items if read is not None and t not in self.rules),
                                    rules_only=True))  # fmt: skip

    def doc(self, text: str, read: Sequence[NerSpan] | None) -> Doc:
        return self.full[text] if read is None else self.rules[text]


def extract_entities_many(
    items: Iterable[tuple[str, Sequence[RedactedSpan], Sequence[NerSpan] | None]], *, docs: Readings | None = None
) -> list[list[Entity]]:
    """`extract_entities` for many (redacted text, spans, the NER's kept reading or None) triples, e.g. a contact's
    turns; spaCy runs batched, on the texts `docs` has not read already, and only its rules where the NER's reading
    was kept at redaction."""
    items = list(items)
    docs = docs if docs is not None else Readings()
    docs.read((text, read) for text, _, read in items)
    return [_extract(text, spans, docs.doc(text, read), read) if text.strip() else [] for text, spans, read in items]
