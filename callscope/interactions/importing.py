"""Bulk import of past contacts and their outcomes: streamed, committed in batches, memory bounded.

Formats:
- `jsonl`: one API body per line (SMS or chat, as `POST /v1/interactions` takes it), plus optional
  `created_at` (ISO 8601) and `outcome` (`{"handle_time_s", "queue", "resolution"}`). Contacts are
  redacted, stored and analyzed in the importing process, the way a posted contact is.
- `csv`: the history CSV of `callscope.prediction.history` (a `text` column becomes the customer's turn).
- `anonymous-bank`: the Anonymous Bank call-center log (served calls become voice contacts with outcomes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from callscope.contacts import ContactMeta, Turn, parse_text_body, turns_from_body
from callscope.errors import CallscopeError
from callscope.interactions.analyze import Batch, analyze_contact
from callscope.interactions.intake import new_row, redact_turns, redacted_label
from callscope.prediction import history
from callscope.storage import search
from callscope.storage.db import Interaction, Outcome
from callscope.tenants import categories

FORMATS = ("jsonl", "csv", "anonymous-bank")
BATCH = 500


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    ignored: list[history.RowError] = field(default_factory=list)  # optional fields out of range, contact kept


@dataclass(frozen=True)
class Record:
    """One contact to store: its line, channel, turns, metadata, when it happened and its outcome."""

    line: int
    channel: str
    turns: list[Turn]
    meta: ContactMeta
    created_at: datetime | None = None
    outcome: dict[str, Any] | None = None
    analyze: bool = True


def _jsonl_records(file: IO[str]) -> Iterator[Record | tuple[int, str]]:
    for line_no, line in enumerate(file, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            created = datetime.fromisoformat(data.pop("created_at")) if data.get("created_at") else None
            outcome = data.pop("outcome", None)
            body = parse_text_body(data)
            yield Record(line_no, body.channel, turns_from_body(body), ContactMeta.model_validate(body.model_dump()),
                         created, outcome)  # fmt: skip
        except (ValueError, CallscopeError) as exc:
            yield line_no, str(exc)[:300]


def _history_record(line: int, row: history.HistoryRow) -> Record:
    turns = [Turn(speaker="customer", text=row.text)] if row.text else []
    meta = ContactMeta(external_id=row.contact_id, queue=row.queue or row.service_type, agent=row.agent)
    outcome = {"handle_time_s": row.handle_time_s, "queue": row.queue or row.service_type, "resolution": None}
    return Record(line, row.channel, turns, meta, row.started_at, outcome if row.handle_time_s else None, bool(turns))


def records(
    path: Path, fmt: str, *, ignored: list[history.RowError] | None = None
) -> Iterator[Record | tuple[int, str]]:
    """The file's contacts one at a time (or `(line, reason)` for a row that cannot be read)."""
    if fmt == "jsonl":
        with path.open() as file:
            yield from _jsonl_records(file)
    elif fmt == "csv":
        with path.open(newline="") as file:
            for line, item in history.iter_history_csv(file, require_handle_time=False, ignored=ignored):
                yield (item.line, item.reason) if isinstance(item, history.RowError) else _history_record(line, item)
    elif fmt == "anonymous-bank":
        for row in history.read_anonymous_bank(path, ignored=ignored):  # calls not served by an agent are left out
            yield _history_record(0, row)
    else:
        raise CallscopeError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _store(session: Session, *, tenant: str, record: Record, batch: Batch | None) -> Interaction:
    """One contact as a posted one ends: metadata and turns redacted (`intake`), analyzed the one way
    (`analyze.analyze_contact`) when it has words and `batch` is given, done."""
    row = Interaction(**new_row(tenant, record.channel, record.meta, None, redact_turns(record.turns)))
    row.status = "done"
    if record.created_at is not None:
        row.created_at = record.created_at
    session.add(row)
    session.flush()
    if record.analyze and batch is not None:
        analyze_contact(session, row, batch=batch)
    else:
        categories.tag(session, row)
        search.index_contact(session, row)
    if record.outcome and record.outcome.get("handle_time_s"):
        session.add(Outcome(interaction=row, tenant=tenant, channel=row.channel, intent=row.intent_label,
                            handle_time_s=float(record.outcome["handle_time_s"]),
                            queue=redacted_label(record.outcome.get("queue")),
                            resolution=redacted_label(record.outcome.get("resolution"))))  # fmt: skip
    return row


def import_file(
    session: Session,
    path: Path,
    *,
    fmt: str,
    tenant: str,
    batch: Batch | None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store every readable contact (analyzed when it has words and `batch` is given) with its outcome."""
    report = ImportReport()
    pending = 0

    def flush() -> None:
        session.commit()
        session.expunge_all()  # keep memory flat however long the file is
        if batch is not None:
            batch.restart()

    for item in records(path, fmt, ignored=report.ignored):
        if isinstance(item, tuple):
            report.errors.append(item)
            continue
        _store(session, tenant=tenant, record=item, batch=batch)
        report.imported += 1
        pending += 1
        if pending >= BATCH:
            flush()
            pending = 0
            if on_progress:
                on_progress(report.imported)
    flush()
    if on_progress:
        on_progress(report.imported)
    return report
