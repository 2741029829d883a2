"""Reports and contact lists as CSV, streamed, spreadsheet-safe."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# a formula after a separator some spreadsheet may split the cell on (";" in many locales, tabs, pipes, lines)
_INNER_FORMULA = re.compile(r"([;,\t|\r\n]\s*)([=+\-@])")


def _cell(value: Any) -> Any:
    """Spreadsheet-safe: a text cell that starts like a formula is quoted, and so is every part of it that would
    start one where a spreadsheet splits the cell on another separator (CSV injection)."""
    if not isinstance(value, str):
        return value
    value = _INNER_FORMULA.sub(r"\1'\2", value)
    return "'" + value if value[:1] in _FORMULA_START else value


def csv_text(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    """CSV lines (header first) for rows of plain values, produced lazily."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def flatten(report: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """A report as one table: each list of rows becomes rows with a `section` column (for `?format=csv`)."""
    columns: dict[str, None] = {"section": None}
    rows: list[dict[str, Any]] = []
    for section, value in report.items():
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for item in value:
                rows.append({"section": section, **item})
                columns.update(dict.fromkeys(item))
        elif isinstance(value, dict) and value and all(not isinstance(v, dict | list) for v in value.values()):
            rows.append({"section": section, **value})
            columns.update(dict.fromkeys(value))
    return list(columns), rows
