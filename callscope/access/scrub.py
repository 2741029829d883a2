"""What may be written to a log line or an audit row: no key, no credential, no query value, no number that is PII.

Logs and the audit table are read by operators who must not see what the redaction removed from the contacts: a
request's query (`?q=4539 1488 0343 6467 John Smith`), a refused WebSocket key (`?key=cs_...`), a webhook URL's
user, password and token. `install()` makes every log record of the process pass through `scrub` as it is created,
whichever logger or handler writes it (uvicorn's access log, Celery's, ours).
"""

from __future__ import annotations

import logging
import numbers
import re
from functools import lru_cache
from typing import Any

from callscope.understanding.redact import redact_with_spans

_API_KEY = re.compile(r"\bcs_[A-Za-z0-9_-]{6,}")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_QUERY_VALUE = re.compile(r"([?&;][^=&;\s\"'#?]{0,100}=)[^&;\s\"'#]*")
_AUTHORIZATION = re.compile(r"(?i)\b(authorization|bearer|password|secret|token)(\s*[:=]\s*|\s+)\S+")
_DIGIT = re.compile(r"\d")
# kept whole: contact ids (an audit row must say which contact) and network addresses with their port (an access
# log must say which host; no card or account number is written as four groups of at most three digits)
_KEPT = re.compile(r"(\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|"
                   r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?::\d{1,5})?(?![\d.]))",
                   re.IGNORECASE)  # fmt: skip


def scrub(text: str, *, names: bool = False) -> str:
    """`text` without API keys, URL credentials, query values or PII numbers; `names`: person names too (NER)."""
    text = _API_KEY.sub("cs_[KEY]", text)
    text = _URL_CREDENTIALS.sub(r"\1[CREDENTIALS]@", text)
    text = _QUERY_VALUE.sub(r"\1[REDACTED]", text)
    text = _AUTHORIZATION.sub(r"\1\2[REDACTED]", text)
    if not names and not _DIGIT.search(text):
        return text
    pieces = _KEPT.split(text)
    return "".join(p if i % 2 or not p.strip() else _redacted(p, names) for i, p in enumerate(pieces))


def _redacted(text: str, names: bool) -> str:
    return redact_with_spans(text).text if names else _numbers_redacted(text)


@lru_cache(maxsize=4096)
def _numbers_redacted(text: str) -> str:
    """Log lines repeat (client addresses, routes): each distinct one is redacted once."""
    return redact_with_spans(text, names=False).text


def _scrubbed(value: Any) -> Any:
    if value is None or isinstance(value, numbers.Number):
        return value
    return scrub(value if isinstance(value, str) else str(value))


_installed = False


def install() -> None:
    """Scrub every log record of this process when it is made (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg) if not record.args else record.msg
        if isinstance(record.args, dict):
            record.args = {k: _scrubbed(v) for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(_scrubbed(a) for a in record.args)
        return record

    logging.setLogRecordFactory(scrubbing_factory)
    _installed = True
