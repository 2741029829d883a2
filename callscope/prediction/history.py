"""Contact history for the handling-time model: the history CSV schema and adapters for real call-center logs.

Pure functions, no FastAPI or Celery: the CLI, the bench and the tests read history through here.

History CSV (UTF-8, header row, comma-separated; unknown columns are ignored, optional columns may be absent):

| column | required | meaning |
| --- | --- | --- |
| contact_id | yes | the caller's id for the contact |
| started_at | yes | ISO 8601 local time the contact reached an agent (`2026-11-20T09:14:00`; an offset is dropped) |
| channel | yes | voice, sms or chat |
| handle_time_s | to fit | seconds the agent spent (not needed to predict) |
| intent, intent_confidence, queue, service_type, agent, priority, wait_s, ivr_s, text, customer_ref | no | |

`customer_ref` is personal data: it is never a feature, only hashed in memory to count recent contacts.

Real logs hold glitches (a negative IVR time, a priority that is not a number). An optional column whose value is
out of range is unknown for that contact: the row is kept without it (LightGBM handles missing features) and the
field is listed in `ignored`, with its line. Only a row without what every use needs (contact_id, started_at,
channel; handle_time_s to fit) is not used.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ValidationError, field_validator

from callscope.errors import InvalidInput

CHANNELS = ("voice", "sms", "chat")
REQUIRED_COLUMNS = ("contact_id", "started_at", "channel")
HANDLE_TIME_COLUMN = "handle_time_s"
IGNORED_NOTE = "ignored, the contact is used without it"


class HistoryRow(BaseModel):
    """One contact as the handling-time model sees it: what is known when predicting, plus the outcome to fit."""

    contact_id: str
    started_at: datetime
    channel: Literal["voice", "sms", "chat"]
    intent: str | None = None
    intent_confidence: float | None = None
    queue: str | None = None
    service_type: str | None = None
    agent: str | None = None
    priority: int | None = None
    wait_s: float | None = None
    ivr_s: float | None = None
    handle_time_s: float | None = None
    text: str | None = None
    customer_ref: str | None = None

    @field_validator("wait_s", "ivr_s", "handle_time_s", "intent_confidence")
    @classmethod
    def _finite_non_negative(cls, value: float | None) -> float | None:
        """Durations and confidences are never negative, NaN or infinite in usable history."""
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ValueError("must be a finite number >= 0")
        return value

    @field_validator("intent_confidence")
    @classmethod
    def _probability(cls, value: float | None) -> float | None:
        """A confidence is a probability."""
        if value is not None and value > 1:
            raise ValueError("must be at most 1")
        return value

    @field_validator("started_at")
    @classmethod
    def _wall_clock(cls, value: datetime) -> datetime:
        """Hour of day and weekday are features: keep the local wall-clock time and drop any UTC offset."""
        return value.replace(tzinfo=None)

    @field_validator("contact_id")
    @classmethod
    def _non_empty_id(cls, value: str) -> str:
        """Predictions are written back by contact_id, so it must be there."""
        if not value.strip():
            raise ValueError("must not be empty")
        return value


@dataclass(frozen=True)
class RowError:
    """A row that was not used: its 1-based file line (header = line 1), why, and its contact_id when readable."""

    line: int
    reason: str
    contact_id: str | None = None


def _open_text(path_or_file: str | Path | IO[str]) -> tuple[IO[str], bool]:
    """Open a path (newline='' as the csv module wants) or pass an already open text file through."""
    if isinstance(path_or_file, str | Path):
        try:
            return open(path_or_file, encoding="utf-8-sig", newline=""), True  # noqa: SIM115 - closed by caller
        except OSError as exc:
            raise InvalidInput(f"cannot read {path_or_file}: {exc.strerror or exc}") from exc
    return path_or_file, False


def _validation_reason(exc: ValidationError) -> str:
    """One short line per failing field, without pydantic's URLs."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors())


def _clean(record: dict[str | None, str | list[str] | None], fields: tuple[str, ...]) -> dict[str, str]:
    """Keep known columns only; empty cells are absent (None), whitespace trimmed."""
    out: dict[str, str] = {}
    for name in fields:
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    return out


def iter_history_csv(
    path_or_file: str | Path | IO[str], *, require_handle_time: bool, ignored: list[RowError] | None = None
) -> Iterator[tuple[int, HistoryRow | RowError]]:
    """Yield (line, row or error) for every data row in file order, so callers can keep outputs aligned.

    Out-of-range optional fields are dropped from their row and appended to `ignored`."""
    handle, owned = _open_text(path_or_file)
    try:
        reader = csv.DictReader(handle)
        header = reader.fieldnames
        if not header:
            raise InvalidInput("history CSV is empty: expected a header row")
        columns = {name.strip() for name in header if name}
        required = REQUIRED_COLUMNS + ((HANDLE_TIME_COLUMN,) if require_handle_time else ())
        missing = [name for name in required if name not in columns]
        if missing:
            raise InvalidInput(f"history CSV lacks required column(s): {', '.join(missing)}")
        reader.fieldnames = [name.strip() if name else name for name in header]
        known = tuple(name for name in HistoryRow.model_fields if name in columns)
        last_line = reader.line_num
        for record in reader:
            line = last_line + 1  # a quoted field may span lines: report where the row starts
            last_line = reader.line_num
            yield line, _parse_record(record, known=known, line=line, require_handle_time=require_handle_time,
                                      ignored=ignored)  # fmt: skip
    except csv.Error as exc:
        raise InvalidInput(f"history CSV is malformed near line {reader.line_num}: {exc}") from exc
    finally:
        if owned:
            handle.close()


def _parse_record(
    record: dict[str | None, str | list[str] | None],
    *,
    known: tuple[str, ...],
    line: int,
    require_handle_time: bool,
    ignored: list[RowError] | None,
) -> HistoryRow | RowError:
    """One CSV record to a validated row, or the reason it cannot be used."""
    values: dict[str, Any] = dict(_clean(record, known))
    if None in record:
        return RowError(line, "more cells than header columns", values.get("contact_id"))
    if "channel" in values:
        values["channel"] = values["channel"].lower()
    return validate_row(values, line=line, require_handle_time=require_handle_time, ignored=ignored)


def validate_row(
    values: dict[str, Any], *, line: int, require_handle_time: bool, ignored: list[RowError] | None
) -> HistoryRow | RowError:
    """A row, with any out-of-range optional field dropped (and noted in `ignored`), or why it cannot be used."""
    contact_id = values.get("contact_id")
    needed = {*REQUIRED_COLUMNS, *((HANDLE_TIME_COLUMN,) if require_handle_time else ())}
    try:
        row = HistoryRow.model_validate(values)
    except ValidationError as exc:
        fields = {str(e["loc"][0]) if e["loc"] else "row" for e in exc.errors()}
        if fields & needed or "row" in fields:
            return RowError(line, _validation_reason(exc), contact_id)
        for name in fields:
            if ignored is not None:
                ignored.append(RowError(line, f"{name}={values[name]!r} {IGNORED_NOTE}", contact_id))
        row = HistoryRow.model_validate({k: v for k, v in values.items() if k not in fields})
    if require_handle_time and row.handle_time_s is None:
        return RowError(line, "handle_time_s is empty", contact_id)
    return row


def read_history_csv(
    path_or_file: str | Path | IO[str], *, require_handle_time: bool, ignored: list[RowError] | None = None
) -> tuple[list[HistoryRow], list[RowError]]:
    """Read a history CSV; bad rows are returned with their line numbers instead of stopping the read."""
    rows: list[HistoryRow] = []
    errors: list[RowError] = []
    for _, item in iter_history_csv(path_or_file, require_handle_time=require_handle_time, ignored=ignored):
        (errors if isinstance(item, RowError) else rows).append(item)
    return rows, errors


def write_history_csv(rows: list[HistoryRow], file: IO[str]) -> None:
    """Write rows in the history CSV schema (used to export adapters' output and by tests)."""
    writer = csv.DictWriter(file, fieldnames=list(HistoryRow.model_fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        data = row.model_dump()
        data["started_at"] = row.started_at.isoformat()
        writer.writerow({k: "" if v is None else v for k, v in data.items()})


# --- "Anonymous Bank" call-center logs (Technion SEE Center, 1999): tab-separated, CRLF, header row ---

ANONYMOUS_BANK_COLUMNS = (
    "vru+line",
    "call_id",
    "customer_id",
    "priority",
    "type",
    "date",
    "vru_entry",
    "vru_exit",
    "vru_time",
    "q_start",
    "q_exit",
    "q_time",
    "outcome",
    "ser_start",
    "ser_exit",
    "ser_time",
    "server",
)
ANONYMOUS_BANK_TYPES = frozenset({"PS", "NW", "NE", "TT", "IN", "PE"})
_MIDNIGHT = "0:00:00"


def _clock(value: str) -> timedelta:
    """'H:MM:SS' to a time of day."""
    hours, minutes, seconds = (int(part) for part in value.split(":"))
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 60):
        raise ValueError(f"bad time of day {value!r}")
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _anonymous_bank_start(record: dict[str, str]) -> datetime:
    """When the agent took the call: ser_start, else q_exit, else vru_exit (0:00:00 means not recorded)."""
    day = datetime.strptime(record["date"], "%y%m%d")
    entry = _clock(record["vru_entry"])
    for column in ("ser_start", "q_exit", "vru_exit"):
        if record[column] != _MIDNIGHT:
            start = _clock(record[column])
            if start + timedelta(hours=12) < entry:  # the call crossed midnight
                start += timedelta(days=1)
            return day + start
    return day + entry


def _anonymous_bank_values(record: dict[str, str]) -> dict[str, Any]:
    """One served call's HistoryRow fields; the service type is both the queue and the service_type feature.

    Several logs record a negative VRU time (clock skew between systems): `validate_row` makes it unknown."""
    server = record["server"]
    customer = record["customer_id"]
    return {
        "contact_id": f"{record['vru+line']}-{record['call_id']}",
        "started_at": _anonymous_bank_start(record),
        "channel": "voice",
        "queue": record["type"],
        "service_type": record["type"],
        "agent": None if server in ("", "NO_SERVER") else server,
        "priority": record["priority"],
        "wait_s": record["q_time"],
        "ivr_s": record["vru_time"],
        "handle_time_s": record["ser_time"],
        "customer_ref": None if customer in ("", "0") else customer,
    }


def read_anonymous_bank(
    path: str | Path, *, skipped: list[RowError] | None = None, ignored: list[RowError] | None = None
) -> Iterator[HistoryRow]:
    """Yield one HistoryRow per agent-served call; rows not used are appended to `skipped` with line and reason,
    out-of-range optional fields (dropped from their call) to `ignored`."""
    try:
        handle = open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        reader = csv.reader(handle, delimiter="\t")
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in ANONYMOUS_BANK_COLUMNS if name not in header]
        if missing:
            raise InvalidInput(f"{path}: not an Anonymous Bank call log, missing column(s): {', '.join(missing)}")
        for cells in reader:
            line = reader.line_num
            if not cells:
                continue
            record = dict(zip(header, (cell.strip() for cell in cells), strict=False))
            reason = _anonymous_bank_skip_reason(record, n_cells=len(cells), n_columns=len(header))
            if reason is None:
                try:
                    item = validate_row(_anonymous_bank_values(record), line=line, require_handle_time=True,
                                        ignored=ignored)  # fmt: skip
                except ValueError as exc:
                    item = RowError(line, str(exc))
                if isinstance(item, HistoryRow):
                    yield item
                    continue
                reason = item.reason
            if skipped is not None:
                skipped.append(RowError(line, reason))


def _anonymous_bank_skip_reason(record: dict[str, str], *, n_cells: int, n_columns: int) -> str | None:
    """Why a log row is not a usable served call, or None when it is."""
    if n_cells != n_columns:
        return f"{n_cells} cells, expected {n_columns}"
    outcome = record["outcome"]
    if outcome != "AGENT":
        return f"outcome {outcome}: not served by an agent"
    if record["type"] not in ANONYMOUS_BANK_TYPES:
        return f"service type {record['type']!r}: data error"
    return None


def day_of(row: HistoryRow) -> date:
    """The calendar day a contact belongs to (back-tests replay history day by day)."""
    return row.started_at.date()


def parse_day(value: str) -> date:
    """'YYYY-MM-DD' to a date, as an InvalidInput when it is not one."""
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"not a date (YYYY-MM-DD): {value!r}") from exc


def history_to_text(rows: list[HistoryRow]) -> str:
    """The rows as history CSV text (handy for tests and small exports)."""
    buffer = io.StringIO()
    write_history_csv(rows, buffer)
    return buffer.getvalue()
