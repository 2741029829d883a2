"""PII redaction applied to every turn before it is stored, logged or returned.

Card numbers keep only their last four digits (agents and reports need those); account numbers,
IBANs, sort codes, e-mail addresses, phone numbers and long spoken digit strings become placeholders.
"""

from __future__ import annotations

import re

_DIGIT_WORDS = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_SPOKEN_DIGITS = re.compile(rf"\b{_DIGIT_WORDS}(?:[\s,-]+{_DIGIT_WORDS}){{5,}}\b", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
_CARD_CANDIDATE = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_SORT_CODE = re.compile(r"\b\d{2}-\d{2}-\d{2}\b")
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().-]{6,}\d(?![\w.])")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LONG_NUMBER = re.compile(r"(?<![\d.,])\d{6,}(?![\d.,])")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return f"[CARD ****{digits[-4:]}]"
    return "[ACCOUNT]"


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    return "[PHONE]" if 7 <= digits <= 15 and not _ISO_DATE.fullmatch(found) else found


def redact(text: str) -> str:
    """Return `text` with PII replaced by bracketed placeholders."""
    text = _EMAIL.sub("[EMAIL]", text)
    text = _IBAN.sub("[IBAN]", text)
    text = _CARD_CANDIDATE.sub(_card, text)
    text = _SORT_CODE.sub("[SORT_CODE]", text)
    text = _LONG_NUMBER.sub("[ACCOUNT]", text)
    text = _PHONE.sub(_phone, text)
    return _SPOKEN_DIGITS.sub("[NUMBER]", text)
