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
"social security", "phone"); 13-19 digits in any grouping are a CARD unless the words around them say otherwise
(Luhn is a hint, not a gate: a recognizer drops, adds and regroups digits), and a card read out over several turns
of one speaker is one card (`redact_many(..., speakers=...)`). Amounts, dates, times and
short numbers ("ref 1234", "£25.50", "12/03/2024", "2024-03-12") are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc

from callscope.contacts import NER_LABELS, NerSpan, RedactedSpan, SpanType
from callscope.understanding.nlp import BANKING_WORDS, NLP_LOCK, load_ner, load_nlp
from callscope.understanding.vocabulary import SPOKEN_DIGITS, alternation

__all__ = ["Redaction", "RedactedSpan", "SpanType", "primed_number", "redact", "redact_many", "redact_with_spans"]


@dataclass(frozen=True)
class Redaction:
    """Redacted text plus the placeholders it contains, in text order."""

    text: str
    spans: list[RedactedSpan]
    # where each span's PII stood in the *original* text (start, end): to find it in the recording's word timings
    sources: list[tuple[int, int]] = field(default_factory=list, compare=False, repr=False)
    # the organisations and dates the NER read while looking for names, at their offsets in the redacted text (those
    # that overlap PII dropped): the analysis reuses them instead of reading the turn again. None: the NER did not run
    entities: list[NerSpan] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    type: SpanType
    last4: str | None = None
    joins: bool = False  # found by another hearing of the speech: joins a number found in the text beside it


_MASK = "\ue000"  # a private-use character: not a word character, digit or space, so masked PII matches nothing

# --- digit strings ------------------------------------------------------------------------------------------------

_DIGIT_WORD_VALUES = SPOKEN_DIGITS
_DIGIT_WORD = f"(?:{alternation(SPOKEN_DIGITS)})"
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
    r"|(?P<phone>phone|mobile|\bcell\b|landline|telephone|\btel\b|\bcall\s+(?:me|you|back)|\btext\s+me|whatsapp|\b(?:reach|ring|contact)\s+me)"
    r"|(?P<account>account|\bacc\b|\ba/c\b|\ba\s+count\b)"  # "a count": how a recognizer hears "account"
    r"|(?P<card>\bcard\b)",
    re.IGNORECASE,
)
_CONTEXT_BEFORE = 40
_CONTEXT_AFTER = 25

# --- other PII ----------------------------------------------------------------------------------------------------

# Bounded repetitions and "not inside a word" lookbehinds keep every pattern linear on long hostile input.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+)+\b")
_TLD = r"(?:com|co|uk|org|net|edu|gov|io|ie|info|biz|us|de|fr|es|me)"
# "at" and "dot" spoken, or written to dodge a filter: "bob (at) example (dot) com", "bob [at] example [dot] com"
_AT = r"(?:\s*[(\[{<]\s*(?:at|@)\s*[)\]}>]\s*|\s+at\s+|\s+@\s+)"
_DOT = r"(?:\s*[(\[{<]\s*(?:dot|\.)\s*[)\]}>]\s*|\s+dot\s+|\.)"
_SPOKEN_EMAIL = re.compile(
    rf"(?<![\w.])\w{{1,64}}(?:(?:{_DOT}|\s+underscore\s+|[_])\w{{1,64}}){{0,4}}{_AT}\w{{1,64}}(?:{_DOT}{_TLD}\b){{1,3}}",
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
    | {"mm", "hm", "mhm", "hmm", "uh", "huh", "um", "erm", "ah", "oh"}  # backchannels NER reads as names ("Mm-hm")
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
    if 13 <= n <= 19 and (_luhn_ok(digits) or context in (None, "card")):
        return "CARD"  # Luhn is a hint: a recognizer drops and adds digits, and PCI keeps any card number out
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


# Digit groups joined by anything a keyboard offers ("4539:1488:0343:6467", "5555/5555/5555/4444", "4539 . 1488"):
# 13-19 digits are a card however they are joined; fewer are a number where the words around announce one. Only
# runs with a separator other than spaces, commas and dashes (those the detectors below read with more care).
_JOIN = r"(?:\s{1,2}|\s{0,2}(?:[^\w\s]|_){1,3}\s{0,2})"
_ANY_JOINED = re.compile(rf"(?<![\w£$€¥])\d{{1,8}}(?:{_JOIN}\d{{1,8}}){{1,18}}(?!\w)")
_PLAIN_JOIN = re.compile(r"[\s,-]*(?:\.\s[\s,-]*)?")  # ", ", " - ", ". ": how a recognizer writes pauses
_GROUP = re.compile(r"\d+")


def _is_datetime(groups: list[str], seps: list[str]) -> bool:
    """A date, with or without a time after it ("2024/03/12 10:30:45", "12/03/2024 10:30")."""
    if _is_date(groups[:3], [s.strip() or " " for s in seps[:2]]):
        return len(groups) <= 6 and all(len(g) <= 2 for g in groups[3:])
    return len(groups) <= 3 and all(len(g) <= 2 for g in groups) and set("".join(seps)) <= {":", " ", "."}


def _joined_groups(work: str) -> Iterator[_Hit]:
    for m in _ANY_JOINED.finditer(work):
        groups = _GROUP.findall(m.group())
        seps = _GROUP.split(m.group())[1:-1]
        if all(_PLAIN_JOIN.fullmatch(sep) for sep in seps) or _is_datetime(groups, seps):
            continue
        digits = "".join(groups)
        context = _context(work, m.start(), m.end())
        around = work[max(0, m.start() - 20) : m.end() + 20]
        if not 13 <= len(digits) <= 19 and _HAS_DIGIT_WORD.search(around):
            continue  # part of a number read out in words: the read-out detectors see all of it
        if 13 <= len(digits) <= 19 or (len(digits) >= 6 and (context or _named(work, m.start()))):
            yield _hit(m.start(), m.end(), digits, _classify(digits, shape=(), dashed=False, context=context,
                                                             spoken=False))
        elif len(digits) > 19:
            yield _hit(m.start(), m.end(), digits, "NUMBER")


# Secrets announced by name: "pin 4821", "my PIN is four eight two one", "CVV: 123", "the code is 482 913".
_PIN = re.compile(
    r"\b(?:pin|passcode|pass\s+code|password|cvv2?|cvc2?|cv2|security\s+(?:code|number)|one[-\s]time\s+(?:pass)?code"
    r"|otp|verification\s+code|memorable\s+(?:number|code))\b"
    rf"(?:\s*(?:number|no\.?|code|is|was|it's|it\s+is|:|=|#|-)){{0,3}}\s*"
    rf"({_SPOKEN_TOKEN}(?:{_SPOKEN_SEP}{_SPOKEN_TOKEN}){{0,7}})\b",
    re.IGNORECASE,
)
_PIN_DIGITS = (3, 8)


def _pins(work: str) -> Iterator[_Hit]:
    for m in _PIN.finditer(work):
        if _PIN_DIGITS[0] <= len(_spoken_digits(m.group(1))) <= _PIN_DIGITS[1]:
            yield _Hit(m.start(1), m.end(1), "PIN")


def _spoken_digits(said: str) -> str:
    """The digits a stretch of speech holds: "double five, 4539-1" -> "5545391"."""
    return "".join(
        _DIGIT_WORD_VALUES.get(value.lower(), value) * {"double": 2, "triple": 3}.get((rep or "").lower(), 1)
        for rep, value in _SPOKEN_PART.findall(said)
    )


def _spoken_numbers(work: str) -> Iterator[_Hit]:
    for m in _SPOKEN.finditer(work):
        digits = _spoken_digits(m.group())
        if len(digits) < 6:
            continue
        if not _HAS_DIGIT_WORD.search(m.group()) and not 13 <= len(digits) <= 19:
            continue  # tidy written digits are the written detectors' job; 13-19 in any grouping are a card
        kind = _classify(digits, shape=(), dashed=False, context=_context(work, m.start(), m.end()), spoken=True)
        yield _hit(m.start(), m.end(), digits, kind)


# A number read out loud, as a recognizer writes it: digit groups of any size, digits as words, decimals that are
# really pairs ("51.43, 23.19"), misheard short words in between ("48246281 I'm 4821"). Amounts, times, dates and
# percentages stop a cluster.
_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_PAIR_WORD_VALUES = {
    **{w: f"1{d}" for d, w in enumerate(_TEENS)},
    **{w: f"{d}0" for d, w in enumerate(_TENS, start=2)},
}  # digit pairs read as numbers ("forty-five thirty-nine"): inside a read-out they are digits too
_DOUBLED_HOMOPHONES = {"for": "4", "to": "2", "too": "2", "won": "1", "ate": "8"}  # "double for" is "double four"
_CLUSTER_TOKEN = re.compile(
    rf"(?P<stop>[£$€¥]\s?\d[\d,.]*|\d+(?:[:/]\d+)+%?|\d+\s?%|{_MASK}+)"
    rf"|(?P<digits>(?:(?:double|triple)[\s-]+)?(?:[Oo](?=\d))?\d+)"  # "O7682": the recognizer's "oh seven ..."
    rf"|(?P<said>(?:(?:double|triple)[\s-]+)?(?:{_DIGIT_WORD}|{'|'.join(_PAIR_WORD_VALUES)})\b"
    rf"|(?:double|triple)[\s-]+(?:{'|'.join(_DOUBLED_HOMOPHONES)})\b)"
    r"|(?P<word>[A-Za-z']+)",
    re.IGNORECASE,
)
# words a recognizer puts between digits read out ("I'm" for "nine", fillers): a digit word beside them still counts
_CLUSTER_FILLERS = frozenset({"i'm", "i", "um", "uh", "er", "erm", "and", "then"})
_CLUSTER_GAP_WORDS = 2  # misheard words a read-out number may hold ("I'm", "and"): more end it
_CLUSTER_GAP_LETTERS = 6
_CLUSTER_PIECES = 4  # a number read in this many pieces is read out, not written ("3, 8, 6, 5, 7, 9, 7")
_CLUSTER_CUES = frozenset(
    {
        "sort",
        "code",
        "account",
        "acc",
        "phone",
        "mobile",
        "card",
        "number",
        "ssn",
        "social",
        "security",
        "iban",
        "expiry",
        "expires",
        "cvv",
        "cvc",
        "pin",
        "date",
        "ref",
        "reference",
        "ending",
        "postcode",
        "zip",
    }
)  # a word that names the next number ends the one before it ("card 4111 ..., sort code 12-34-56")


_NUMBER_CUE = re.compile(r"\bnumber\b|\bno\.", re.IGNORECASE)  # "my number is", "the long number": a number follows


def _cluster_digits(said: str) -> str:
    """The digits of one cluster token: "4539", "O7682", "double five", "double for", "forty"."""
    words = said.lower().split()
    if words[-1] in _PAIR_WORD_VALUES:
        return _PAIR_WORD_VALUES[words[-1]] * (len(words) > 1 and {"double": 2, "triple": 3}[words[0]] or 1)
    if len(words) == 2 and words[1] in _DOUBLED_HOMOPHONES:
        return _DOUBLED_HOMOPHONES[words[1]] * {"double": 2, "triple": 3}[words[0]]
    return _spoken_digits("0" + said[1:] if said[:1] in "Oo" and said[1:2].isdigit() else said)


def _beside_digits(tokens: list[tuple[str | None, int, int, str]], i: int) -> bool:
    """Whether the nearest token on either side that is no filler is a digit: "one four", "I'm six, I'm six"."""
    for step in (-1, 1):
        j = i + step
        while 0 <= j < len(tokens) and tokens[j][0] == "word" and tokens[j][3].lower() in _CLUSTER_FILLERS:
            j += step
        if 0 <= j < len(tokens) and tokens[j][0] in ("digits", "said"):
            return True
    return False


def _named(work: str, start: int) -> bool:
    """Whether the words just before `start` announce a number ("my account number is", "call me on")."""
    before = work[max(0, start - _CONTEXT_BEFORE) : start]
    return bool(_CONTEXT.search(before) or _NUMBER_CUE.search(before))


def _cluster_items(work: str, *, every_digit_word: bool = False) -> Iterator[list[tuple[int, int, str]]]:
    """Runs of (start, end, digits) items that belong to one read-out number; a lone digit word counts only with
    `every_digit_word` (in the answer to a request for a number: "One free item pick")."""
    tokens = [(m.lastgroup, m.start(), m.end(), m.group()) for m in _CLUSTER_TOKEN.finditer(work)]
    numeric = {"digits", "said"}
    items: list[tuple[int, int, str]] = []
    gap = 0
    for i, (kind, start, end, text) in enumerate(tokens):
        doubled = text[:1] in "dDtT" and " " in text.strip()  # "double for": a read-out whatever stands beside it
        named_open = bool(items) and _named(work, items[0][0])  # "account is ninety ten, ninety two maybe one"
        if kind == "said" and not (every_digit_word or doubled or named_open or _beside_digits(tokens, i)):
            kind = "word"  # "one four" counts, "one more thing" does not
        if kind in numeric:
            items.append((start, end, _cluster_digits(text)))
            gap = 0
            continue
        gap += 1
        # "account is 8.48. Number 1.31": inside a number already named, "number" is the recognizer's word for
        # "double" (or the speaker's "number ..." going on with it), not the cue of another number
        cue = text.lower() in _CLUSTER_CUES and not (named_open and text.lower() == "number")
        ends = gap > _CLUSTER_GAP_WORDS or len(text) > _CLUSTER_GAP_LETTERS or cue
        if kind == "stop" or ends:
            if items:
                yield items
            items, gap = [], 0
    if items:
        yield items


def _split_cards(items: list[tuple[int, int, str]]) -> list[list[tuple[int, int, str]]] | None:
    """Several card numbers read one after another, cut where each passes Luhn; None if they do not."""
    cards, current, digits = [], [], ""
    if len(items) > 40:  # no list of cards is read in that many pieces
        return None
    for item in items:
        current.append(item)
        digits += item[2]
        if len(digits) > 19:
            return None
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            cards.append(current)
            current, digits = [], ""
    return cards if cards and not current else None


def _digit_clusters(work: str) -> Iterator[_Hit]:
    for items in _cluster_items(work):
        digits = "".join(d for _, _, d in items)
        start, end = items[0][0], items[-1][1]
        context = _context(work, start, end)
        named = context or _named(work, start)
        if len(digits) > 19:
            cards = _split_cards(items)
            for card in cards or []:
                yield _hit(card[0][0], card[-1][1], "".join(d for _, _, d in card), "CARD")
            if cards is None:
                yield _hit(start, end, digits, "NUMBER")
        elif (
            len(digits) >= 13
            or (len(digits) >= 7 and (named or len(items) >= _CLUSTER_PIECES))
            or (len(digits) >= 5 and named and len(items) >= 2)  # part of a named number: the recognizer lost some
            or (len(digits) >= 5 and len(items) >= _CLUSTER_PIECES + 1)  # "3-3-3-3-4": read out digit by digit
        ):
            yield _hit(start, end, digits, _classify(digits, shape=(), dashed=False, context=context, spoken=True))


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


# Five or more short pieces joined by hyphens: how a recognizer writes characters read out one at a time
# ("O-Fan-Wen-Wen-Tad-O-Tur" for "oh seven one one ...", "4-D-H-F-M"). Redacted where a number is announced.
_HYPHEN_PIECES = re.compile(r"(?<![\w-])[A-Za-z0-9]{1,5}(?:-[A-Za-z0-9]{1,5}){4,}(?![\w-])")
_CONTEXT_KIND: dict[str | None, SpanType] = {
    "phone": "PHONE", "account": "ACCOUNT", "card": "CARD", "sort": "SORT_CODE", "ssn": "SSN",
}  # fmt: skip


def _hyphen_read_outs(work: str) -> Iterator[_Hit]:
    for m in _HYPHEN_PIECES.finditer(work):
        if _named(work, m.start()):
            yield _Hit(m.start(), m.end(), _CONTEXT_KIND.get(_context(work, m.start(), m.end()), "NUMBER"))


_DETECTORS: tuple[Callable[[str], Iterator[_Hit]], ...] = (
    _emails,
    _ibans,
    _phones,
    _joined_groups,
    _pins,
    _digit_clusters,
    _spoken_numbers,
    _comma_numbers,
    _written_numbers,
    _hyphen_read_outs,
    _rule_names,
)


# --- a number read out over several turns of one speaker ("4539 1488" ... "0343 6467") -----------------------------

_SAID_DIGITS = re.compile(  # digits may be glued to a misheard letter ("i548", "D4")
    rf"(?:\b|(?<=[A-Za-z])(?=\d)){_SPOKEN_TOKEN}(?:{_SPOKEN_SEP}{_SPOKEN_TOKEN})*(?:\b|(?<=\d)(?=[A-Za-z]))",
    re.IGNORECASE,
)
# what may stand before a turn's first digits and after its last for the number to go on across turns: a few short
# words ("yes", "and", or digits misheard as "I'm")
_LEAD = re.compile(r"(?:[\W_]*\b[A-Za-z']{1,6}\b){0,2}[\W_]*")
_TAIL = re.compile(r"(?:[\W_]*\b[A-Za-z']{1,6}\b){0,2}[\W_]*")
_PIECE_MIN_DIGITS = 1


_SHORT_WORD = re.compile(r"[A-Za-z']{1,6}")
_PIECE_WORDS = 2  # misheard short words ("I", "item") a turn of digits may hold and still be one piece


def _edge_runs(text: str) -> tuple[tuple[int, int, str] | None, tuple[int, int, str] | None, bool]:
    """The digits a turn opens with and ends with (start, end, digits), and whether the turn is nothing else.

    A turn of digits with at most two short words among them ("1-i-4-8", "Two, one, I'm sick") is one piece, unless
    a word names another number ("6467, expiry 03 27")."""
    runs = [(m.start(), m.end(), _spoken_digits(m.group())) for m in _SAID_DIGITS.finditer(text)]
    runs = [r for r in runs if len(r[2]) >= _PIECE_MIN_DIGITS]
    if not runs:
        return None, None, False
    first, last = runs[0], runs[-1]
    words = re.findall(r"[^\W\d_][\w']*", _SAID_DIGITS.sub(" ", text))
    if len(words) <= _PIECE_WORDS and all(_SHORT_WORD.fullmatch(w) and w.lower() not in _CLUSTER_CUES for w in words):
        whole = (first[0], last[1], "".join(r[2] for r in runs))
        return whole, whole, True
    head = first if _LEAD.match(text).end() >= first[0] else None
    tail = last if _TAIL.fullmatch(text, last[1]) else None
    return head, tail, head is not None and head is tail


_CARD_CUE = re.compile(r"\bcard\b|\blong number\b", re.IGNORECASE)
_CHAIN_SKIPS = 2  # short turns without digits (a misheard group) that a read-out may hold
_CHAIN_SKIP_WORDS = 8


def _cards_across_turns(texts: list[str], speakers: list[object]) -> list[list[_Hit]]:
    """A card number one speaker reads out over consecutive turns of theirs: each piece a [CARD] hit.

    A piece ends one turn (the number goes on) and opens the speaker's next turn (after at most two short words);
    up to two short turns without digits (a group the recognizer misheard) may come between, and a turn that opens
    with digits and trails off into misheard words keeps it going. 13 digits or more in all make a card, or 8 read
    in three pieces or more (the recognizer lost some), or 6 when the read-out began by naming the card (PCI keeps
    even part of it out). The other side's turns in between ("mm-hm", "go on") do not break it."""
    forced: list[list[_Hit]] = [[] for _ in texts]
    chains: dict[object, tuple[list[tuple[int, tuple[int, int, str]]], bool, int]] = {}  # pieces, card named, skips

    def close(who: object) -> None:
        chain, named, _ = chains.pop(who, ([], False, 0))
        digits = "".join(run[2] for _, run in chain)
        enough = len(digits) >= 13 or (named and len(digits) >= 6) or (len(chain) >= 3 and len(digits) >= 8)
        if len(chain) >= 2 and enough:
            for k, (i, (start, end, _)) in enumerate(chain):
                forced[i].append(_Hit(start, end, "CARD", digits[-4:] if k == len(chain) - 1 else None))

    for i, (text, who) in enumerate(zip(texts, speakers, strict=True)):
        head, tail, whole = _edge_runs(text)
        if who in chains and head is None and tail is None and not _SAID_DIGITS.search(text):
            chain, named, skips = chains[who]
            if skips < _CHAIN_SKIPS and len(text.split()) <= _CHAIN_SKIP_WORDS:
                chains[who] = (chain, named, skips + 1)
                continue
        if who in chains and head:
            chains[who][0].append((i, head))
            if whole or tail is None:  # nothing but digits, or digits trailing off into misheard words
                continue
        close(who)
        if tail:
            chains[who] = ([(i, tail)], bool(_CARD_CUE.search(text)), 0)
    for who in list(chains):
        close(who)
    return forced


# --- numbers the agent asked for ("Can I take the long number on the card?") -----------------------------------------

_ASKS = re.compile(
    r"\?|\b(?:can|could|may)\s+(?:i|you)\b|\bread\b|\bgive\s+me\b|\bconfirm\b|\bwhat(?:'s|\s+is)\b|\bgo\s+on\b",
    re.IGNORECASE,
)
_NUMBER_ASKED = re.compile(r"\bnumber\b|\bsort\s*code\b|\bdigits\b|\biban\b", re.IGNORECASE)  # not "the card"
_ANSWER_TURNS = 6  # customer turns after the request that may hold the number
_AGENT_ACK_WORDS = 6  # "Mm-hm, and the next four?": the agent listening, the read-out goes on


def _role(who: object) -> object:
    return who[-1] if isinstance(who, tuple) else who


def _asked_numbers(texts: list[str], speakers: list[object]) -> list[list[_Hit]]:
    """Every digit the customer says in the turns that answer an agent's request for a number.

    After an agent turn that asks for a card, account, sort code, phone or other number, the other side's next turns
    (up to six, while the agent only acknowledges) are read as that number: every run of digits or digit words in
    them is redacted, however short, as the kind asked for. A recognizer that lost half the digits still leaves the
    other half in the answer, and no rule on the answer alone can tell those from ordinary words."""
    forced: list[list[_Hit]] = [[] for _ in texts]
    asked: dict[object, tuple[SpanType, int]] = {}  # contact -> (kind, answer turns left)
    for i, (text, who) in enumerate(zip(texts, speakers, strict=True)):
        contact = who[:-1] if isinstance(who, tuple) else None
        if _role(who) == "agent":
            if _NUMBER_ASKED.search(text) and _ASKS.search(text):
                named = _CONTEXT.search(text)
                asked[contact] = (_CONTEXT_KIND.get(named.lastgroup, "NUMBER") if named else "NUMBER", _ANSWER_TURNS)
            elif len(text.split()) > _AGENT_ACK_WORDS:
                asked.pop(contact, None)
            continue
        if contact not in asked:
            continue
        kind, left = asked[contact]
        for items in _cluster_items(text, every_digit_word=True):
            digits, start, end = "".join(d for _, _, d in items), items[0][0], items[-1][1]
            own = _context(text, start, end)  # "... and call me on 0770 ...": the number the customer names
            typed = kind
            if own or (kind == "NUMBER" and len(digits) >= 7):
                typed = _classify(digits, shape=(), dashed=False, context=own, spoken=True)
            forced[i].append(_hit(start, end, digits, typed))
        asked[contact] = (kind, left - 1)
        if left <= 1:
            del asked[contact]
    return forced


_DIGIT_RUN = re.compile(  # digits as a recognizer primed for digits groups them ("8-481131", "8x48"), not amounts
    r"(?<![£$€\w])\d(?:[\d.,:x/-]*\d)?(?![\d.,:x/-]*\d)(?!\s*(?:%|am\b|pm\b|pounds|dollars|euros))", re.IGNORECASE
)
_AMOUNT_OR_DATE = re.compile(
    r"\d{1,3}(?:,\d{3})+(?:\.\d\d)?|\d+\.\d\d|\d{1,2}[./-]\d{1,2}(?:[./-]\d{2,4})?|\d{4}-\d\d-\d\d|\d{1,2}:\d\d"
)
CUED_DIGITS = 4  # digits after a number cue that make that number, however grouped (in a hearing primed for digits)
UNCUED_DIGITS = 7  # digits in close groups that make a number without a cue (in a hearing primed for digits)
_GROUP_GAP_WORDS = 3  # words between two digit groups of one number ("4 I'm 3": digits misheard as words)


def _card_by_length(digits: int, kind: SpanType) -> SpanType:
    """13-19 digits that a cue announced as something else are still a card's length: redacted as a card."""
    return "CARD" if 13 <= digits <= 19 else kind


def _cues(text: str) -> list[tuple[int, int, SpanType]]:
    """The number cues of a text ("sort code", "my mobile", "the long number") with the kind each announces."""
    cues = [(m.start(), m.end(), _CONTEXT_KIND[m.lastgroup]) for m in _CONTEXT.finditer(text)]
    cues += [(m.start(), m.end(), "CARD") for m in _CARD_CUE.finditer(text)]
    cues += [(m.start(), m.end(), "NUMBER") for m in _NUMBER_CUE.finditer(text)]
    return sorted(cues)  # type: ignore[arg-type]


def _digit_group(run: str) -> bool:
    """Digits as a hearing primed for digits writes a number: not an amount, a decimal or a date; groups joined by
    dashes are digits ("2-31", "8-481131"), which is how that hearing writes them, not dates."""
    return not _AMOUNT_OR_DATE.fullmatch(run) or ("-" in run and not re.search(r"[./:]", run))


def primed_number(text: str, found: list[tuple[int, int]]) -> tuple[int, int, SpanType] | None:
    """A number in a hearing primed for digits (`callscope.voice.number_pass`) that the rules did not find (`found`):
    digit groups with at most three words between them ("8x48, number 131", "It's 037. I'm 043. I'm 103.": digits
    misheard as words), four digits or more where a number cue comes before their end ("the account is 12381"),
    seven or more without one. In plain text such groups are too often something else."""
    runs = [m for m in _DIGIT_RUN.finditer(text) if _digit_group(m.group())]
    runs = [m for m in runs if not any(a < m.end() and m.start() < b for a, b in found)]
    chains: list[list[re.Match[str]]] = []
    for run in runs:
        if chains and len(text[chains[-1][-1].end() : run.start()].split()) <= _GROUP_GAP_WORDS:
            chains[-1].append(run)
        else:
            chains.append([run])
    cues = _cues(text)
    numbers = []
    for chain in chains:
        digits = sum(c.isdigit() for m in chain for c in m.group())
        kinds = [kind for start, _, kind in cues if start < chain[-1].start()]
        if digits >= (CUED_DIGITS if kinds else UNCUED_DIGITS):
            named = [kind for kind in kinds if kind != "NUMBER"] or ["NUMBER"]
            numbers.append((digits, chain[0].start(), chain[-1].end(), _card_by_length(digits, named[-1])))
    if not numbers:
        return None
    _, start, end, kind = max(numbers)
    return start, end, kind  # type: ignore[return-value]


_NUMBER_KINDS = frozenset({"CARD", "ACCOUNT", "IBAN", "SORT_CODE", "SSN", "PHONE", "NUMBER", "PIN"})
_JOINER = re.compile(r"[\s,.;:-]*")


def _unfound_pieces(work: str, regions: list[_Hit]) -> Iterator[_Hit]:
    """The words of each region that no detector has found yet (the found ones are masked), as joining hits."""
    for region in regions:
        for piece in re.finditer(rf"[^{_MASK}]+", work[region.start : region.end]):
            words = re.search(r"\w(?:.*\w)?", piece.group(), re.DOTALL)
            if words:
                start = region.start + piece.start() + words.start()
                yield _Hit(start, start + len(words.group()), region.type, region.last4, joins=True)


def _joined(text: str, hits: list[_Hit]) -> list[_Hit]:
    """Joining hits merged with the numbers beside them (only spaces and punctuation between): one placeholder, of
    the kind the text itself showed (the other hearing's where the text showed a number of no kind)."""
    out: list[_Hit] = []
    for hit in hits:
        last = out[-1] if out else None
        if (last and (hit.joins or last.joins) and {hit.type, last.type} <= _NUMBER_KINDS
                and _JOINER.fullmatch(text[last.end : hit.start])):  # fmt: skip
            own, heard = (hit, last) if last.joins else (last, hit)
            kind = heard.type if own.type == "NUMBER" else own.type  # the text's kind, unless it could not tell
            out[-1] = _Hit(last.start, hit.end, kind, last.last4 or hit.last4, joins=last.joins and hit.joins)
        else:
            out.append(hit)
    return out


def _heard_last4(hits: list[_Hit], regions: list[_Hit]) -> list[_Hit]:
    """A card's last four as the digit hearing heard them, where it heard the card: it hears digits better."""
    out = []
    for hit in hits:
        heard = [r.last4 for r in regions if r.type == "CARD" and r.last4 and r.start < hit.end and r.end > hit.start]
        out.append(_Hit(hit.start, hit.end, hit.type, heard[-1], hit.joins) if hit.type == "CARD" and heard else hit)
    return out


_ONLY_DIGITS = re.compile(rf"\W*((?:\d+|{_DIGIT_WORD})(?:\W+(?:\d+|{_DIGIT_WORD})){{0,3}})\W*", re.IGNORECASE)
_ENDS_IN_NUMBER = re.compile(rf"\[({'|'.join(sorted(_NUMBER_KINDS))})\]\W*$")


_CUED_TAIL = re.compile(r"(?:\W+[a-z']+){0,2}?\W+(\d(?:[\d\s,-]*\d)?)\W*", re.IGNORECASE)


def _cued_tail(text: str) -> tuple[int, int, SpanType] | None:
    """The digits a turn ends in right after its last number cue ("my account number is 4634,"): a number that may
    go on in the speaker's next turn, and the kind the cue announces."""
    cues = _cues(text)
    tail = _CUED_TAIL.fullmatch(text, cues[-1][1]) if cues else None
    if tail is None or not _digit_group(tail.group(1).strip()):
        return None
    named = [kind for _, end, kind in cues if kind != "NUMBER" and cues[-1][0] - end <= 2]  # "account number"
    return tail.start(1), tail.end(1), (named or [cues[-1][2]])[-1]


def _number_tails(texts: list[str], speakers: list[object], done: list[Redaction]) -> list[Redaction]:
    """A turn of one to four digits ("one.", "6") right after the same speaker's turn that ended in a number is
    that number's end, split off by a pause; the other side's short turns between ("mm-hm") do not break it.

    So is one after a turn that ended in digits right after a number cue ("my account number is 4634," "8861."):
    together they are the number announced when they hold `CUED_DIGITS` digits or more."""
    out = list(done)
    ended: dict[object, str] = {}  # speaker -> kind of the number their last turn ended in
    cued: dict[object, tuple[int, tuple[int, int, SpanType]]] = {}  # speaker -> their last turn's cued digits
    for i, (text, who) in enumerate(zip(texts, speakers, strict=True)):
        tail = _ONLY_DIGITS.fullmatch(text)
        if tail and who in ended and not out[i].spans:
            out[i] = _apply(text, [_Hit(tail.start(1), tail.end(1), ended[who])])  # type: ignore[arg-type]
        elif tail and who in cued and not out[i].spans:
            j, (a, b, kind) = cued[who]
            digits = len(_spoken_digits(texts[j][a:b])) + len(_spoken_digits(tail.group(1)))
            if digits >= CUED_DIGITS:
                kind = _card_by_length(digits, kind)
                out[j] = _apply(texts[j], [_Hit(a, b, kind)])
                out[i] = _apply(text, [_Hit(tail.start(1), tail.end(1), kind)])
        number = _ENDS_IN_NUMBER.search(out[i].text)
        if number:
            ended[who] = number.group(1)
        else:
            ended.pop(who, None)
        digits_at_end = _cued_tail(text) if not out[i].spans else None
        cued.pop(who, None)
        if digits_at_end is not None:
            cued[who] = (i, digits_at_end)
        if len(text.split()) > _AGENT_ACK_WORDS:
            ended = {k: v for k, v in ended.items() if k == who}
            cued = {k: v for k, v in cued.items() if k == who}
    return out


def _find(text: str, doc: Doc | None, forced: list[_Hit] | None = None, late: list[_Hit] | None = None) -> list[_Hit]:
    """All non-overlapping hits in `text`; earlier detectors win, and their regions are masked for later ones.

    `doc` is the NER's reading of the original text (masks would confuse it); without it names are not looked for.
    `late`: regions another hearing found PII in; what no detector found in them is redacted last, and joins the
    number beside it.
    """
    work = text
    hits: list[_Hit] = []
    detectors = [*_DETECTORS, lambda _: _ner_names(doc)] if doc is not None else _DETECTORS[:-1]
    if forced:
        detectors = [lambda _: iter(forced), *detectors]
    if late:
        detectors = [*detectors, lambda masked: _unfound_pieces(masked, late)]
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
    hits = sorted(hits, key=lambda h: h.start)
    return _heard_last4(_joined(text, hits), late) if late else hits


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
    return Redaction("".join(parts), spans, [(h.start, h.end) for h in hits])


def name_docs(texts: list[str]) -> list[Doc]:
    """The NER's reading of each text, for its PERSON names, at the cost of the NER alone for most texts.

    The full pipeline's rule patterns (banks, products) keep the NER from calling them names; they cost about a
    quarter of the time, and only matter where the NER sees a name. Texts with a PERSON are read again by the full
    pipeline. On 28,203 Banking77 and CLINC150 texts the NER alone found a PERSON in every text where the full
    pipeline did (428 against 376), so the answer is the full pipeline's.
    """
    docs = _read_in_pieces(load_ner(), texts)
    again = [i for i, doc in enumerate(docs) if any(e.label_ == "PERSON" for e in doc.ents)]
    for i, doc in zip(again, _read_in_pieces(load_nlp(), [texts[i] for i in again]), strict=True):
        docs[i] = doc
    return docs


NER_PIECE_CHARS = 5_000  # the NER reads a long text in pieces of about this size: its time stays linear in the text


def _pieces(text: str) -> list[str]:
    """`text` cut after whitespace into pieces of about NER_PIECE_CHARS; joined they are `text` again."""
    pieces, start = [], 0
    while len(text) - start > NER_PIECE_CHARS:
        cut = text.rfind(" ", start + NER_PIECE_CHARS // 2, start + NER_PIECE_CHARS) + 1 or start + NER_PIECE_CHARS
        pieces.append(text[start:cut])
        start = cut
    return [*pieces, text[start:]]


def _read_in_pieces(nlp: Language, texts: list[str]) -> list[Doc]:
    """Each text's Doc; a long text is read in pieces and the pieces joined into one Doc with the text's offsets."""
    cut = [_pieces(t) for t in texts]
    read = iter(nlp.pipe(piece for pieces in cut for piece in pieces))
    docs = []
    for pieces in cut:
        parts = [next(read) for _ in pieces]
        docs.append(parts[0] if len(parts) == 1 else Doc.from_docs(parts, ensure_whitespace=False))
    return docs


def redact_with_spans(text: str, *, names: bool = True) -> Redaction:
    """Replace PII with typed placeholders and say where each one is; `names=False` skips the NER (much faster)."""
    return redact_many([text], names=names)[0]


def redact_many(
    texts: Iterable[str],
    *,
    names: bool = True,
    speakers: Sequence[object] | None = None,
    also: Sequence[Sequence[tuple[int, int, str, str | None]]] | None = None,
) -> list[Redaction]:
    """`redact_with_spans` for many texts (a contact's turns): the NER runs batched, which is cheaper per text.

    With `speakers` (one key per text, e.g. (contact, speaker)), a number one speaker reads out over several of
    their turns is redacted as one (`_cards_across_turns`), and every digit said in answer to an agent's request
    for a number is redacted (`_asked_numbers`; the agent's key ends in "agent"). `also`: per text, stretches
    (start, end, kind, last4) another hearing found PII in (`callscope.voice.number_pass`): what the rules did not
    find in them is redacted too, as part of the number beside it."""
    texts = list(texts)
    forced: list[list[_Hit]] = [[] for _ in texts]
    if speakers is not None:
        chains, answers = _cards_across_turns(texts, list(speakers)), _asked_numbers(texts, list(speakers))
        forced = [chain + answer for chain, answer in zip(chains, answers, strict=True)]
    late = [[_Hit(a, b, kind, last4) for a, b, kind, last4 in known] for known in also or [[] for _ in texts]]  # type: ignore[arg-type]
    docs: list[Doc | None] = [None] * len(texts)
    if names:
        with NLP_LOCK:
            read = [i for i, t in enumerate(texts) if t.strip()]
            for i, doc in zip(read, name_docs([texts[i] for i in read]), strict=True):
                docs[i] = doc
    done = [_apply(t, _find(t, doc, f, x)) for t, doc, f, x in zip(texts, docs, forced, late, strict=True)]
    done = _number_tails(texts, list(speakers), done) if speakers is not None else done
    if not names:
        return done
    return [replace(r, entities=_moved(_read_entities(doc), r)) for r, doc in zip(done, docs, strict=True)]


def _read_entities(doc: Doc | None) -> list[NerSpan]:
    """The NER's organisations and dates in the original text (a blank text has none)."""
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in NER_LABELS] if doc else []  # type: ignore[misc]


def _moved(found: list[NerSpan], redaction: Redaction) -> list[NerSpan]:
    """`found` (offsets in the original text) at their offsets in the redacted text; those overlapping PII dropped."""
    moved: list[NerSpan] = []
    for start, end, label in found:
        if any(start < b and a < end for a, b in redaction.sources):
            continue
        shift = sum(
            (span.end - span.start) - (b - a) for (a, b), span in zip(redaction.sources, redaction.spans, strict=True)
            if b <= start
        )  # fmt: skip
        moved.append((start + shift, end + shift, label))
    return moved


def redact(text: str) -> str:
    """Return `text` with PII replaced by typed placeholders (the text of `redact_with_spans`)."""
    return redact_with_spans(text).text
