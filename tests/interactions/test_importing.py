"""Bulk import through the real CLI into PostgreSQL: streamed, redacted, analyzed, outcomes kept, bad rows named."""

import json
import os
import subprocess
import sys

from sqlalchemy import func, select

from callscope.storage.db import Interaction, Outcome
from tests.conftest import ROOT


def run_import(*args: str):
    return subprocess.run([sys.executable, "-m", "cli", "import", *args], capture_output=True, text=True,
                          cwd=ROOT, env=os.environ.copy(), timeout=300)  # fmt: skip


def test_jsonl_import_stores_analyzes_and_keeps_outcomes(tmp_path, session):
    lines = [
        {"channel": "sms", "direction": "inbound", "text": "my card 4111 1111 1111 1111 was stolen",
         "created_at": "2026-10-01T09:00:00+00:00", "outcome": {"handle_time_s": 320, "resolution": "resolved"}},
        {"channel": "chat", "messages": [{"role": "customer", "text": "how do I top up with apple pay"}]},
        {"channel": "fax", "messages": []},
    ]  # fmt: skip
    path = tmp_path / "contacts.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    result = run_import(str(path), "--tenant", "importer")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"imported": 2, "skipped": 2}
    assert "line 3:" in result.stderr and "unknown channel" in result.stderr and "line 4:" in result.stderr
    rows = session.scalars(select(Interaction).where(Interaction.tenant == "importer")).all()
    assert {r.status for r in rows} == {"done"} and {r.channel for r in rows} == {"sms", "chat"}
    stolen = next(r for r in rows if r.channel == "sms")
    assert stolen.intent_label == "lost_or_stolen_card" and "4111" not in json.dumps(stolen.turns)
    assert stolen.created_at.year == 2026 and stolen.created_at.month == 10
    outcome = session.scalar(select(Outcome).where(Outcome.interaction_id == stolen.id))
    assert outcome.handle_time_s == 320 and outcome.intent == "lost_or_stolen_card"


def test_history_csv_import_and_unknown_format(tmp_path, session):
    path = tmp_path / "history.csv"
    path.write_text("contact_id,started_at,channel,queue,agent,handle_time_s,extra\n"
                    "c1,2026-10-01T09:00:00,voice,cards,ann,120,x\n"
                    "c2,not-a-date,voice,cards,bob,80,x\n")  # fmt: skip
    result = run_import(str(path), "--tenant", "history-csv", "--no-analyze")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"imported": 1, "skipped": 1} and "line 3:" in result.stderr
    count = session.scalar(select(func.count()).select_from(Outcome).where(Outcome.tenant == "history-csv"))
    assert count == 1
    other = tmp_path / "x.parquet"
    other.write_text("?")
    assert run_import(str(other), "--tenant", "t").returncode == 2
