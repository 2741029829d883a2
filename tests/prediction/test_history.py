"""History CSV schema and the Anonymous Bank call-log adapter."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest

from callscope.errors import InvalidInput
from callscope.prediction.history import (
    HistoryRow,
    RowError,
    history_to_text,
    iter_history_csv,
    read_anonymous_bank,
    read_history_csv,
)


def test_unknown_columns_are_ignored_and_optional_columns_may_be_absent() -> None:
    text = (
        "contact_id,started_at,channel,handle_time_s,colour,queue\n"
        "c1,2026-11-20T09:14:00,voice,120,blue,cards\n"
        "c2,2026-11-20T09:15:30,SMS,45.5,,\n"
    )
    rows, errors = read_history_csv(io.StringIO(text), require_handle_time=True)
    assert errors == []
    assert [r.contact_id for r in rows] == ["c1", "c2"]
    assert rows[0].queue == "cards" and rows[0].agent is None and rows[0].intent is None
    assert rows[1].channel == "sms" and rows[1].queue is None and rows[1].handle_time_s == 45.5
    assert not hasattr(rows[0], "colour")


def test_bad_rows_are_reported_with_their_file_line_and_good_rows_kept(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        "contact_id,started_at,channel,handle_time_s,text\n"  # line 1
        'c1,2026-11-20T09:00:00,voice,100,"a note\nover two lines"\n'  # lines 2-3
        "c2,not a time,voice,100,\n"  # line 4
        "c3,2026-11-20T09:02:00,fax,100,\n"  # line 5
        "c4,2026-11-20T09:03:00,chat,-4,\n"  # line 6
        "c5,2026-11-20T09:04:00,chat,,\n"  # line 7: no handle time, needed to fit
        ",2026-11-20T09:05:00,chat,30,\n"  # line 8: no id
        "c7,2026-11-20T09:06:00+02:00,chat,30,\n"  # line 9: fine, offset dropped
    )
    rows, errors = read_history_csv(path, require_handle_time=True)
    assert [r.contact_id for r in rows] == ["c1", "c7"]
    assert rows[0].text == "a note\nover two lines"
    assert rows[1].started_at == datetime(2026, 11, 20, 9, 6)
    assert [e.line for e in errors] == [4, 5, 6, 7, 8]
    assert [e.contact_id for e in errors] == ["c2", "c3", "c4", "c5", None]
    assert "started_at" in errors[0].reason and "channel" in errors[1].reason
    assert "handle_time_s" in errors[2].reason and "handle_time_s is empty" in errors[3].reason


def test_predicting_needs_no_handle_time_column_and_keeps_row_order() -> None:
    text = "started_at,contact_id,channel\n2026-11-20T09:00:00,b,voice\nbad,a,voice\n2026-11-20T08:00:00,c,chat\n"
    items = list(iter_history_csv(io.StringIO(text), require_handle_time=False))
    assert [line for line, _ in items] == [2, 3, 4]
    assert isinstance(items[1][1], RowError) and items[1][1].contact_id == "a"
    assert [i.contact_id for _, i in items] == ["b", "a", "c"]


@pytest.mark.parametrize(
    ("header", "require", "missing"),
    [
        ("contact_id,channel,handle_time_s", True, "started_at"),
        ("contact_id,started_at,channel", True, "handle_time_s"),
        ("started_at,channel", False, "contact_id"),
    ],
)
def test_missing_required_column_is_a_clear_error(header: str, require: bool, missing: str) -> None:
    with pytest.raises(InvalidInput, match=f"lacks required column.*{missing}"):
        read_history_csv(io.StringIO(header + "\n"), require_handle_time=require)


def test_empty_file_and_unreadable_path_are_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        read_history_csv(io.StringIO(""), require_handle_time=False)
    with pytest.raises(InvalidInput, match="cannot read"):
        read_history_csv(tmp_path / "nope.csv", require_handle_time=False)


def test_written_history_reads_back_the_same() -> None:
    row = HistoryRow(
        contact_id="x", started_at=datetime(2026, 1, 2, 3, 4, 5), channel="chat", intent="card_lost", priority=2,
        wait_s=3.0, handle_time_s=60.0, customer_ref="cust-9", service_type="PS",
    )  # fmt: skip
    rows, errors = read_history_csv(io.StringIO(history_to_text([row])), require_handle_time=True)
    assert errors == [] and rows == [row]


ANON_HEADER = (
    "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\tq_start\tq_exit\tq_time\t"
    "outcome\tser_start\tser_exit\tser_time\tserver"
)
ANON_LINES = [
    # line 2: served, known customer
    "AA0101\t501\t12345678\t2\tPS\t990104\t9:00:10\t9:00:20\t10\t9:00:20\t9:01:00\t40\tAGENT\t9:01:00\t9:03:30\t150\tRONIT",
    # line 3: abandoned
    "AA0101\t502\t0\t0\tPS\t990104\t9:05:00\t9:05:08\t8\t9:05:08\t9:06:00\t52\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER",
    # line 4: served straight from the VRU, anonymous caller, no queue
    "AA0102\t503\t0\t0\tNW\t990104\t10:00:00\t10:00:12\t12\t0:00:00\t0:00:00\t0\tAGENT\t10:00:12\t10:01:12\t60\tDANI",
    # line 5: phantom
    "AA0102\t504\t0\t0\tPS\t990104\t10:10:00\t10:10:05\t5\t10:10:05\t10:10:09\t4\tPHANTOM\t0:00:00\t0:00:00\t0\tX",
    # line 6: the 'AA' type data error
    "AA0103\t505\t0\t0\tAA\t990105\t4:12:26\t4:13:04\t38\t0:00:00\t0:00:00\t0\tAGENT\t4:13:04\t4:14:00\t56\tDANI",
    # line 7: served, ser_start not recorded (falls back to q_exit), negative VRU time, no server name
    "AA0103\t506\t777\t1\tNE\t990105\t15:46:49\t15:45:56\t-53\t15:45:56\t15:46:59\t63\tAGENT\t0:00:00\t0:00:00\t0\tNO_SERVER",
    # line 8: crosses midnight
    "AA0104\t507\t777\t1\tTT\t990105\t23:59:40\t23:59:50\t10\t23:59:50\t0:00:30\t40\tAGENT\t0:00:30\t0:02:30\t120\tRONIT",
    # line 9: broken time
    "AA0104\t508\t0\t0\tPS\t990106\t9:00:00\t9:00:05\t5\t9:00:05\t9:00:10\t5\tAGENT\t9:77:10\t9:79:10\t120\tRONIT",
    # line 10: too few cells
    "AA0104\t509\t0\t0\tPS\t990106",
]


def test_anonymous_bank_keeps_served_calls_and_reports_skipped_lines(tmp_path: Path) -> None:
    path = tmp_path / "january.tsv"
    path.write_bytes(("\r\n".join([ANON_HEADER, *ANON_LINES]) + "\r\n").encode())
    skipped: list[RowError] = []
    rows = list(read_anonymous_bank(path, skipped=skipped))
    assert [r.contact_id for r in rows] == ["AA0101-501", "AA0102-503", "AA0103-506", "AA0104-507"]
    first, vru_only, no_server, midnight = rows
    assert first.started_at == datetime(1999, 1, 4, 9, 1, 0)
    assert (first.channel, first.queue, first.service_type, first.intent) == ("voice", "PS", "PS", None)
    assert (first.agent, first.priority, first.wait_s, first.ivr_s, first.handle_time_s) == ("RONIT", 2, 40, 10, 150)
    assert first.customer_ref == "12345678" and vru_only.customer_ref is None
    assert vru_only.started_at == datetime(1999, 1, 4, 10, 0, 12) and vru_only.service_type == "NW"
    assert no_server.agent is None and no_server.ivr_s is None and no_server.handle_time_s == 0
    assert no_server.started_at == datetime(1999, 1, 5, 15, 46, 59)
    assert midnight.started_at == datetime(1999, 1, 6, 0, 0, 30)
    assert [e.line for e in skipped] == [3, 5, 6, 9, 10]
    reasons = [e.reason for e in skipped]
    assert reasons[0].startswith("outcome HANG") and reasons[1].startswith("outcome PHANTOM")
    assert "'AA'" in reasons[2] and "time" in reasons[3] and "cells" in reasons[4]


def test_anonymous_bank_refuses_a_file_that_is_not_one(tmp_path: Path) -> None:
    path = tmp_path / "other.tsv"
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(InvalidInput, match="not an Anonymous Bank call log"):
        list(read_anonymous_bank(path))


def test_an_out_of_range_optional_field_is_unknown_for_its_row_not_a_reason_to_drop_it() -> None:
    text = (
        "contact_id,started_at,channel,handle_time_s,ivr_s,wait_s,priority,intent_confidence\n"
        "g1,2026-11-20T09:00:00,voice,100,-71,12,1,0.9\n"  # line 2: negative IVR time, as in a real log
        "g2,2026-11-20T09:01:00,voice,100,5,nan,high,1.7\n"  # line 3: three glitches at once
        "g3,yesterday,voice,100,-71,12,1,0.9\n"  # line 4: no usable start time: not usable at all
        "g4,2026-11-20T09:03:00,voice,-5,3,12,1,0.9\n"  # line 5: the target itself is bad
    )
    ignored: list[RowError] = []
    rows, errors = read_history_csv(io.StringIO(text), require_handle_time=True, ignored=ignored)
    assert [r.contact_id for r in rows] == ["g1", "g2"]
    assert rows[0].ivr_s is None and rows[0].wait_s == 12 and rows[0].priority == 1
    assert (rows[1].ivr_s, rows[1].wait_s, rows[1].priority, rows[1].intent_confidence) == (5, None, None, None)
    noted = sorted((e.line, e.reason.split("=")[0]) for e in ignored)
    assert noted == [(2, "ivr_s"), (3, "intent_confidence"), (3, "priority"), (3, "wait_s")]
    assert ignored[0].line == 2 and "-71" in ignored[0].reason and ignored[0].contact_id == "g1"
    assert [(e.line, e.contact_id) for e in errors] == [(4, "g3"), (5, "g4")]
    assert "started_at" in errors[0].reason and "handle_time_s" in errors[1].reason
    # predicting needs no handle time, so a bad one is only ignored there
    items = list(iter_history_csv(io.StringIO(text), require_handle_time=False))
    assert [isinstance(item, RowError) for _, item in items] == [False, False, True, False]


def test_anonymous_bank_glitches_in_optional_fields_keep_the_call(tmp_path: Path) -> None:
    glitch = "\t".join(["AA0105", "510", "0", "x", "PS", "990107", "9:00:00", "9:00:05", "-71", "9:00:05", "9:00:10",
                        "-3", "AGENT", "9:00:10", "9:02:10", "120", "RONIT"])  # fmt: skip
    path = tmp_path / "glitch.tsv"
    path.write_bytes(("\r\n".join([ANON_HEADER, glitch]) + "\r\n").encode())
    ignored: list[RowError] = []
    skipped: list[RowError] = []
    (row,) = read_anonymous_bank(path, skipped=skipped, ignored=ignored)
    assert skipped == [] and (row.ivr_s, row.wait_s, row.priority, row.handle_time_s) == (None, None, None, 120)
    assert sorted(e.reason.split("=")[0] for e in ignored) == ["ivr_s", "priority", "wait_s"]
    assert {e.line for e in ignored} == {2}
