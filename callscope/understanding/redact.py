"""PII redaction applied to every turn before it is stored, logged or returned.

Every piece of PII becomes a plain typed placeholder (`[CARD]`, `[ACCOUNT]`, `[IBAN]`, `[SORT_CODE]`, `[SSN]`,
`[PHONE]`, `[EMAIL]`, `[PERSON]`, `[NUMBER]`). `redact_with_spans` also returns where each placeholder sits in the
redacted text, and for cards the last four digits (agents and reports may keep those; they never appear in the text).

Detection, in priority order (an earlier detector's region is masked before the next one runs):
e-mails (written and spoken "john dot smith at gmail dot com"), IBANs (mod-97 checked, or named as an IBAN),
international and US-style phone numbers, numbers read out as words ("four five three nine ...", mixed "4539 one
two ...", "double five"), written digit runs (cards by Luhn, SSNs 123-45-6789, sort codes 12-34-56, UK phone numbers,
long account numbers) and finally person names (spaCy NER PERSON entities plus "my name is ..." / "Mr ..." rules).
Digit strings are typed by their shape, a Luhn check and the words just before them ("sort code", "account",
"social security", "phone"); a spoken number is a CARD only if its digits pass Luhn. Amounts, dates, times and
short numbers ("ref 1234", "£25.50", "12/03/2024", "2024-03-12") are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Doc

from callscope.understanding.nlp import BANKING_WORDS, NLP_LOCK, load_ner, load_nlp

SpanType = Literal["CARD", "ACCOUNT", "IBAN", "SORT_CODE", "SSN", "PHONE", "EMAIL", "PERSON", "NUMBER"]

__all__ = ["Redaction", "RedactedSpan", "SpanType", "redact", "redact_many", "redact_with_spans"]


@dataclass(frozen=True)
class RedactedSpan:
    """One placeholder: its type and offsets in the *redacted* text; `last4` only for cards."""

    type: SpanType
    start: int
    end: int
    last4: str | None = None


@dataclass(frozen=True)
class Redaction:
    """Redacted text plus the placeholders it contains, in text order."""

    text: str
    spans: list[RedactedSpan]


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    type: SpanType
    last4: str | None = None


_MASK = "\ue000"  # a private-use character: not a word character, digit or space, so masked PII matches nothing

# --- digit strings ------------------------------------------------------------------------------------------------

_DIGIT_WORD_VALUES = {
    "zero": "0", "oh": "0", "o": "0", "nought": "0", "nil": "0", "one": "1", "two": "2", "three": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_DIGIT_WORD = r"(?:zero|oh|nought|nil|one|two|three|four|five|six|seven|eight|nine|o)"
_SPOKEN_TOKEN = rf"(?:(?:double|triple)[\s-]+)?(?:{_DIGIT_WORD}|\d+)"
_SPOKEN_SEP = r"(?:\s*[,-]\s*|\.\s+|\s+)"
_SPOKEN = re.compile(rf"\b{_SPOKEN_TOKEN}(?:{_SPOKEN_SEP}{_SPOKEN_TOKEN})+\b", re.IGNORECASE)
_SPOKEN_PART = re.compile(rf"\b(?:(double|triple)[\s-]+)?({_DIGIT_WORD}|\d+)\b", re.IGNORECASE)
_HAS_DIGIT_WORD = re.compile(rf"\b{_DIGIT_WORD}\b", re.IGNORECASE)

# Written digit runs: groups separated by one space or one dash; never part of an amount, decimal, time or date.
_RUN = re.compile(r"(?<![\w£$€¥.,/:+-])\d+(?:[ -]\d+)*(?![\w/:%]|[.,]\d)")
_RUN_SEP = re.compile(r"[ -]")
# Digits read out in comma-separated chunks ("4111, 1111, 1111, 1111"), standing alone (not the end of a longer run).
_COMMA_RUN = re.compile(r"(?<![\w£$€¥.,/:+-])(?<!\d )\d{2,6}(?:, \d{2,6}){1,5}(?![\w/:%]|[.,]\d| \d)")
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(0\))?(?:[ .-]?\d){6,13}(?!\d)")
_PHONE_US = re.compile(r"(?<![\w(])\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}(?!\d)|(?<![\w.])\d{3}\.\d{3}\.\d{4}(?![\d.])")

_CONTEXT = re.compile(
    r"(?P<sort>sort\s*code|\bsort\b)"
    r"|(?P<ssn>social\s+security|\bssn\b|\bsocial\b)"
    r"|(?P<phone>phone|mobile|\bcell\b|landline|telephone|\btel\b|\bcall\s+(?:me|you|back)|\btext\s+me|whatsapp)"
    r"|(?P<account>account|\bacc\b|\ba/c\b)"
    r"|(?P<card>\bcard\b)",
    re.IGNORECASE,
)
_CONTEXT_BEFORE = 40
_CONTEXT_AFTER = 25

# --- other PII ----------------------------------------------------------------------------------------------------

# Bounded repetitions and "not inside a word" lookbehinds keep every pattern linear on long hostile input.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+)+\b")
_TLD = r"(?:com|co|uk|org|net|edu|gov|io|ie|info|biz|us|de|fr|es|me)"
_SPOKEN_EMAIL = re.compile(
    rf"(?<![\w.])\w+(?:(?:\s+dot\s+|\s+underscore\s+|[._])\w+){{0,4}}\s+at\s+\w+(?:(?:\s+dot\s+|\.){_TLD}\b){{1,3}}",
    re.IGNORECASE,
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")

_NAME_WORD = r"[A-Za-z][A-Za-z'-]+"
_NAME_PAIR = rf"({_NAME_WORD})(?:\s+({_NAME_WORD}))?"
_NAME_RULES = (
    re.compile(rf"\b(?:my|the|first|last|sur|full|maiden)\s*name(?:\s+is|'s|\s*:)\s+{_NAME_PAIR}", re.I),
    re.compile(rf"\b(?:this is|it's|it is|i'm|i am)\s+{_NAME_PAIR}\s+(?:speaking|here|calling)\b", re.I),
    re.compile(rf"(?:^|[,.!?]\s*){_NAME_PAIR}\s+speaking\b", re.I),
    # after a title, a second word is part of the name only when capitalised ("Mr Patel said" keeps "said")
    re.compile(rf"\b(?i:mr|mrs|ms|miss|mx|dr)\.?\s+((?i:{_NAME_WORD}))(?:\s+([A-Z][A-Za-z'-]+))?"),
)

# Words NER may tag PERSON in call-center speech ("Chargeback please", "Hi Balance ...") or that follow the
# name rules without being names ("my name is spelt wrong"). A PERSON made only of these is not redacted.
_NOT_NAMES = (
    frozenset(STOP_WORDS)
    | BANKING_WORDS
    | {"spelt", "spelled", "wrong", "incorrect", "showing", "missing", "different", "changed", "listed", "registered"}
    | {"correct", "right", "still", "calling", "speaking", "here", "mr", "mrs", "ms", "miss", "dr"}
    | {"uber", "amazon", "netflix", "tesco", "klarna", "monzo", "revolut", "barclays", "hsbc", "lloyds", "natwest"}
    | {"santander", "halifax", "nationwide", "starling", "chase"}
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check, so capitalised codes that merely look like an IBAN are left alone."""
    compact = iban.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _context(text: str, start: int, end: int) -> str | None:
    """The kind of number the nearby words announce: the nearest cue before it, else the first one after it."""
    before = list(_CONTEXT.finditer(text, max(0, start - _CONTEXT_BEFORE), start))
    if before:
        return before[-1].lastgroup
    after = _CONTEXT.search(text, end, min(len(text), end + _CONTEXT_AFTER))
    return after.lastgroup if after else None


def _is_date(groups: list[str], seps: list[str]) -> bool:
    """12-03-2024, 2024-03-12, 12 03 2024 and year pairs are dates, not account numbers."""
    sizes = tuple(len(g) for g in groups)
    if len(groups) <= 2 and all(len(g) == 4 and g[:2] in ("19", "20") for g in groups):
        return True
    if len(set(seps)) != 1 or sizes not in ((4, 2, 2), (2, 2, 4), (1, 2, 4), (2, 1, 4), (1, 1, 4), (4, 1, 1)):
        return False
    year_first = sizes[0] == 4
    day, month = (int(groups[2]), int(groups[1])) if year_first else (int(groups[0]), int(groups[1]))
    return (1 <= month <= 12 and 1 <= day <= 31) or (1 <= day <= 12 and 1 <= month <= 31)


def _classify(digits: str, *, shape: tuple[int, ...], dashed: bool, context: str | None, spoken: bool) -> SpanType:
    """Type of a long digit string from its Luhn check, its grouping and the words around it."""
    n = len(digits)
    if context == "phone" and 7 <= n <= 15:
        return "PHONE"
    if 13 <= n <= 19 and _luhn_ok(digits):
        return "CARD"
    if (dashed and shape == (3, 2, 4)) or (context == "ssn" and n == 9):
        return "SSN"
    if (dashed and shape == (2, 2, 2)) or (context == "sort" and n == 6):
        return "SORT_CODE"
    if (digits[0] == "0" and n in (10, 11) and context != "account") or shape == (3, 3, 4):
        return "PHONE"
    if context == "account" or not spoken:
        return "ACCOUNT"
    return "NUMBER"


def _hit(start: int, end: int, digits: str, kind: SpanType) -> _Hit:
    return _Hit(start, end, kind, digits[-4:] if kind == "CARD" else None)


# --- detectors: each yields hits on the masked working text -------------------------------------------------------


def _emails(work: str) -> Iterator[_Hit]:
    for regex in (_EMAIL, _SPOKEN_EMAIL):
        for m in regex.finditer(work):
            yield _Hit(m.start(), m.end(), "EMAIL")


def _ibans(work: str) -> Iterator[_Hit]:
    for m in _IBAN.finditer(work):
        if _iban_ok(m.group()) or "iban" in work[max(0, m.start() - 25) : m.start()].lower():
            yield _Hit(m.start(), m.end(), "IBAN")


def _phones(work: str) -> Iterator[_Hit]:
    for regex in (_PHONE_INTL, _PHONE_US):
        for m in regex.finditer(work):
            yield _Hit(m.start(), m.end(), "PHONE")


def _spoken_numbers(work: str) -> Iterator[_Hit]:
    for m in _SPOKEN.finditer(work):
        if not _HAS_DIGIT_WORD.search(m.group()):
            continue  # plain digits are the written detector's job
        digits = "".join(
            _DIGIT_WORD_VALUES.get(value.lower(), value) * {"double": 2, "triple": 3}.get((rep or "").lower(), 1)
            for rep, value in _SPOKEN_PART.findall(m.group())
        )
        if len(digits) < 6:
            continue
        kind = _classify(digits, shape=(), dashed=False, context=_context(work, m.start(), m.end()), spoken=True)
        yield _hit(m.start(), m.end(), digits, kind)


def _comma_numbers(work: str) -> Iterator[_Hit]:
    for m in _COMMA_RUN.finditer(work):
        digits = m.group().replace(", ", "")
        context = _context(work, m.start(), m.end())
        if (13 <= len(digits) <= 19 and _luhn_ok(digits)) or (context and len(digits) >= 6):
            kind = _classify(digits, shape=(), dashed=False, context=context, spoken=False)
            yield _hit(m.start(), m.end(), digits, kind)
        # otherwise a list ("100, 200, 300"); its groups still go through the plain written-number pass


def _written_numbers(work: str) -> Iterator[_Hit]:
    for m in _RUN.finditer(work):
        groups = _RUN_SEP.split(m.group())
        seps = _RUN_SEP.findall(m.group())
        digits = "".join(groups)
        if _is_date(groups, seps):
            continue
        context = _context(work, m.start(), m.end())
        needed = 6 if len(groups) == 1 or context or "-" in seps else 8
        if len(digits) < needed:
            continue
        shape = tuple(len(g) for g in groups)
        kind = _classify(digits, shape=shape, dashed=bool(seps) and set(seps) == {"-"}, context=context, spoken=False)
        yield _hit(m.start(), m.end(), digits, kind)


def _name_ok(word: str | None) -> bool:
    return bool(word) and word.lower().strip("'") not in _NOT_NAMES


def _rule_names(work: str) -> Iterator[_Hit]:
    for regex in _NAME_RULES:
        for m in regex.finditer(work):
            first, second = m.group(1), m.group(2)
            if not _name_ok(first):
                continue
            end = m.end(2) if _name_ok(second) else m.end(1)
            yield _Hit(m.start(1), end, "PERSON")


def _ner_names(doc: Doc) -> Iterator[_Hit]:
    """NER PERSON entities, trimmed of greetings and titles at their edges ("Cheers Dan" -> "Dan")."""
    for ent in doc.ents:
        if ent.label_ != "PERSON" or any(t.like_num for t in ent):
            continue
        tokens = list(ent)
        while tokens and (tokens[0].lower_.strip("'") in _NOT_NAMES or tokens[0].is_punct):
            tokens.pop(0)
        while tokens and (tokens[-1].lower_.strip("'") in _NOT_NAMES or tokens[-1].is_punct):
            tokens.pop()
        if tokens:
            yield _Hit(tokens[0].idx, tokens[-1].idx + len(tokens[-1]), "PERSON")


_DETECTORS: tuple[Callable[[str], Iterator[_Hit]], ...] = (
    _emails,
    _ibans,
    _phones,
    _spoken_numbers,
    _comma_numbers,
    _written_numbers,
    _rule_names,
)


def _find(text: str, doc: Doc | None) -> list[_Hit]:
    """All non-overlapping hits in `text`; earlier detectors win, and their regions are masked for later ones.

    `doc` is the NER's reading of the original text (masks would confuse it); without it names are not looked for.
    """
    work = text
    hits: list[_Hit] = []
    detectors = [*_DETECTORS, lambda _: _ner_names(doc)] if doc is not None else _DETECTORS[:-1]
    for detector in detectors:
        found = [h for h in detector(work) if _MASK not in work[h.start : h.end]]  # drop hits on found text
        accepted: list[_Hit] = []
        for h in sorted(found, key=lambda h: (h.start, -h.end)):
            if not accepted or h.start >= accepted[-1].end:  # this detector's own hits may overlap each other
                accepted.append(h)
        if accepted:
            parts, pos = [], 0
            for h in accepted:
                parts += [work[pos : h.start], _MASK * (h.end - h.start)]
                pos = h.end
            work = "".join([*parts, work[pos:]])
            hits += accepted
    return sorted(hits, key=lambda h: h.start)


def _apply(text: str, hits: list[_Hit]) -> Redaction:
    parts: list[str] = []
    spans: list[RedactedSpan] = []
    pos = out = 0
    for h in hits:
        parts.append(text[pos : h.start])
        out += h.start - pos
        placeholder = f"[{h.type}]"
        parts.append(placeholder)
        spans.append(RedactedSpan(h.type, out, out + len(placeholder), h.last4))
        out += len(placeholder)
        pos = h.end
    parts.append(text[pos:])
    return Redaction("".join(parts), spans)


def name_docs(texts: list[str]) -> list[Doc]:
    """The NER's reading of each text, for its PERSON names, at the cost of the NER alone for most texts.

    The full pipeline's rule patterns (banks, products) keep the NER from calling them names; they cost about a
    quarter of the time, and only matter where the NER sees a name. Texts with a PERSON are read again by the full
    pipeline. On 28,203 Banking77 and CLINC150 texts the NER alone found a PERSON in every text where the full
    pipeline did (428 against 376), so the answer is the full pipeline's.
    """
    docs = list(load_ner().pipe(texts))
    again = [i for i, doc in enumerate(docs) if any(e.label_ == "PERSON" for e in doc.ents)]
    for i, doc in zip(again, load_nlp().pipe(texts[i] for i in again), strict=True):
        docs[i] = doc
    return docs


def redact_with_spans(text: str, *, names: bool = True) -> Redaction:
    """Replace PII with typed placeholders and say where each one is; `names=False` skips the NER (much faster)."""
    return redact_many([text], names=names)[0]


def redact_many(texts: Iterable[str], *, names: bool = True) -> list[Redaction]:
    """`redact_with_spans` for many texts (a contact's turns): the NER runs batched, which is cheaper per text."""
    texts = list(texts)
    if not names:
        return [_apply(t, _find(t, None)) for t in texts]
    with NLP_LOCK:
        read = [i for i, t in enumerate(texts) if t.strip()]
        docs: list[Doc | None] = [None] * len(texts)
        for i, doc in zip(read, name_docs([texts[i] for i in read]), strict=True):
            docs[i] = doc
        return [_apply(t, _find(t, doc)) for t, doc in zip(texts, docs, strict=True)]


def redact(text: str) -> str:
    """Return `text` with PII replaced by typed placeholders (the text of `redact_with_spans`)."""
    return redact_with_spans(text).text
