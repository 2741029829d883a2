"""Handling-time model on generated history: learning, p50/p90 contract, persistence, cold start, back-test, CLI.

The target on the real Anonymous Bank log is a benchmark (`bench/bench_handletime.py --target-only`): the log's
licence keeps it out of the repository.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from callscope.prediction import handletime_eval as hm_eval
from callscope.prediction import handletime_model as hm
from callscope.prediction.history import HistoryRow, history_to_text

ROOT = Path(__file__).resolve().parents[2]
FAST = {"num_trees": 60, "learning_rate": 0.1, "min_data_in_leaf": 20}
SLOW_TYPE_FACTOR = 3.0


def synthetic_rows(n: int, *, seed: int = 1, start: datetime = datetime(2026, 3, 2, 8)) -> list[HistoryRow]:
    """Lognormal handle times around 100 s; service type 'SLOW' takes three times as long, agent 'ana' 1.3x."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        service_type = str(rng.choice(["FAST", "MID", "SLOW"], p=[0.5, 0.3, 0.2]))
        agent = str(rng.choice(["ana", "ben", "cy"]))
        factor = {"FAST": 1.0, "MID": 1.2, "SLOW": SLOW_TYPE_FACTOR}[service_type] * (1.3 if agent == "ana" else 1.0)
        rows.append(
            HistoryRow(
                contact_id=f"c{i}",
                started_at=start + timedelta(minutes=7 * i),
                channel="voice",
                queue=service_type,
                service_type=service_type,
                agent=agent,
                priority=int(rng.integers(0, 3)),
                wait_s=float(rng.exponential(30)),
                ivr_s=float(rng.exponential(10)),
                handle_time_s=round(float(100 * factor * rng.lognormal(0, 0.6)), 1),
                customer_ref=f"cust{rng.integers(0, 300)}" if rng.random() < 0.5 else None,
            )
        )
    return rows


@pytest.fixture(scope="module")
def data() -> tuple[list[HistoryRow], list[HistoryRow]]:
    rows = synthetic_rows(2400)
    return rows[:2000], rows[2000:]


@pytest.fixture(scope="module")
def model(data: tuple[list[HistoryRow], list[HistoryRow]]) -> hm.HandleTimeModel:
    return hm.fit(data[0], params=FAST)


def test_model_learns_the_slow_service_type_and_beats_the_global_median(
    model: hm.HandleTimeModel, data: tuple[list[HistoryRow], list[HistoryRow]]
) -> None:
    train, test = data
    figures = hm_eval.evaluate(model, test, history=train)
    assert figures["n"] == len(test)
    assert figures["p50_mae_s"] < 0.93 * figures["baseline_global_median_mae_s"]
    assert figures["p50_mae_s"] <= 1.02 * figures["baseline_group_median_mae_s"]
    assert 0.8 <= figures["p90_coverage"] <= 0.97
    by_type: dict[str, list[float]] = {}
    for row, (p50, _) in zip(test, model.predict(test), strict=True):
        by_type.setdefault(row.service_type or "", []).append(p50)
    ratio = np.median(by_type["SLOW"]) / np.median(by_type["FAST"])
    assert 2.2 < ratio < 4.0  # the true factor is 3


def test_p90_is_at_least_p50_and_both_positive(
    model: hm.HandleTimeModel, data: tuple[list[HistoryRow], list[HistoryRow]]
) -> None:
    unseen = data[1][0].model_copy(update={"agent": "new-agent", "service_type": "NEVER_SEEN", "wait_s": None})
    predictions = model.predict([*data[1], unseen])
    assert len(predictions) == len(data[1]) + 1
    assert all(p90 >= p50 > 0 and math.isfinite(p90) for p50, p90 in predictions)


def test_predict_keeps_input_order(model: hm.HandleTimeModel, data: tuple[list[HistoryRow], list[HistoryRow]]) -> None:
    rows = data[1][:50]
    forward = model.predict(rows)
    assert model.predict(rows[::-1]) == forward[::-1]


def test_save_and_load_give_identical_predictions_and_a_small_folder(
    model: hm.HandleTimeModel, data: tuple[list[HistoryRow], list[HistoryRow]], tmp_path: Path
) -> None:
    folder = model.save(tmp_path / "m")
    loaded = hm.load(folder)
    assert loaded.predict(data[1]) == model.predict(data[1])
    meta = json.loads((folder / "model.json").read_text())
    assert meta["version"] == hm.MODEL_VERSION and meta["n_train_rows"] == 2000
    assert set(meta["vocab"]["service_type"]) == {"FAST", "MID", "SLOW"}
    assert "cust" not in (folder / "model.json").read_text()  # no customer reference is stored
    assert sum(f.stat().st_size for f in folder.iterdir()) < 2_000_000


def test_l2_objective_also_answers_p90_above_p50(data: tuple[list[HistoryRow], list[HistoryRow]]) -> None:
    l2 = hm.fit(data[0], params={**FAST, "objective": "l2"})
    assert set(l2.boosters) == {"mean"} and l2.p90_log_offset > 0
    assert all(p90 >= p50 > 0 for p50, p90 in l2.predict(data[1]))


def test_cold_start_answers_the_documented_channel_priors(tmp_path: Path) -> None:
    few = synthetic_rows(20)
    cold = hm.load(hm.fit(few).save(tmp_path / "cold"))
    assert cold.cold and cold.n_train_rows == 20
    chat = few[0].model_copy(update={"channel": "chat", "queue": "security"})
    voice = few[0].model_copy(update={"queue": None})
    assert cold.predict([voice, chat]) == [(113.0, 412.0), (480.0, 1440.0)]
    assert hm.prior_for(channel="sms", queue=None) == (600.0, 2400.0)


def test_recent_contacts_count_only_earlier_rows_in_the_window() -> None:
    t0 = datetime(2026, 1, 1, 9)
    base = synthetic_rows(1)[0]
    times = [t0, t0 + timedelta(days=1), t0 + timedelta(days=9), t0 + timedelta(days=9, hours=1)]
    rows = [base.model_copy(update={"started_at": t, "customer_ref": "same"}) for t in times]
    rows.append(base.model_copy(update={"started_at": t0, "customer_ref": None}))
    counts = hm.recent_contact_counts(rows[::-1], days=7)[::-1]  # input order must not matter
    assert counts[:4] == [0.0, 1.0, 0.0, 1.0] and math.isnan(counts[4])


def test_daily_backtest_replays_each_day_with_medians_from_earlier_days() -> None:
    rows = synthetic_rows(1500)  # 7-minute spacing: about 7 days
    days = sorted({r.started_at.date() for r in rows})
    result = hm_eval.backtest_daily(rows, start_day=days[4], params=FAST)
    assert [d["day"] for d in result["per_day"]] == [str(d) for d in days[4:]]
    assert result["overall"]["n"] == sum(r.started_at.date() >= days[4] for r in rows)
    assert [d["n_train"] for d in result["per_day"]] == sorted(d["n_train"] for d in result["per_day"])
    window = hm_eval.backtest_daily(rows, start_day=days[4], window_days=2, params=FAST)
    assert all(d["n_train"] <= 2 * 206 for d in window["per_day"])
    assert window["overall"]["p50_mae_s"] < window["overall"]["baseline_global_median_mae_s"]


def test_params_file_records_the_built_in_choice() -> None:
    assert json.loads((ROOT / "models" / "handle_time" / "params.json").read_text()) == hm.DEFAULT_PARAMS


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "cli", "handle-time", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_cli_fit_then_predict_writes_one_row_per_input_row_in_order(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    history.write_text(history_to_text(synthetic_rows(600)))
    params = tmp_path / "params.json"
    params.write_text(json.dumps(FAST))
    fitted = _cli("fit", str(history), "--model", str(tmp_path / "m"), "--params", str(params), cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    assert fitted.stdout == "" and "p50_mae_s" in fitted.stderr
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "contact_id,started_at,channel,service_type,agent,extra\n"
        "z1,2026-04-01T10:00:00,voice,SLOW,ana,x\n"
        "z2,yesterday,voice,FAST,ben,x\n"  # line 3: bad
        "z3,2026-04-01T10:05:00,voice,FAST,ben,x\n"
    )
    predicted = _cli("predict", "--model", str(tmp_path / "m"), str(contacts), cwd=tmp_path)
    assert predicted.returncode == 1  # every row written, one could not be predicted
    assert "line 3:" in predicted.stderr and "started_at" in predicted.stderr
    out = list(csv.DictReader(io.StringIO(predicted.stdout)))
    assert [r["contact_id"] for r in out] == ["z1", "z2", "z3"]
    assert out[1]["p50_s"] == out[1]["p90_s"] == ""
    assert float(out[0]["p90_s"]) >= float(out[0]["p50_s"]) > float(out[2]["p50_s"]) > 0


def test_cli_predicts_every_call_whose_optional_fields_hold_glitches(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    good = history_to_text(synthetic_rows(600)).splitlines()
    columns = good[0].split(",")
    glitched = good[1].split(",")
    glitched[columns.index("ivr_s")] = "-71"  # as in a later month of the real log
    history.write_text("\n".join([good[0], ",".join(glitched), *good[2:]]) + "\n")
    fitted = _cli("fit", str(history), "--model", str(tmp_path / "m"), cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    assert "line 2: field: ivr_s='-71' ignored" in fitted.stderr and "(600 rows" in fitted.stderr
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "contact_id,started_at,channel,service_type,agent,ivr_s,wait_s,priority\n"
        "y1,2026-04-01T10:00:00,voice,SLOW,ana,-71,3,1\n"
        "y2,2026-04-01T10:01:00,voice,FAST,ben,4,-2,urgent\n"
        "y3,2026-04-01T10:02:00,voice,FAST,ben,4,2,1\n"
    )
    predicted = _cli("predict", "--model", str(tmp_path / "m"), str(contacts), cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    out = list(csv.DictReader(io.StringIO(predicted.stdout)))
    assert [r["contact_id"] for r in out] == ["y1", "y2", "y3"] and all(float(r["p50_s"]) > 0 for r in out)
    assert "line 2: field: ivr_s='-71'" in predicted.stderr
    assert "line 3: field: wait_s='-2'" in predicted.stderr and "line 3: field: priority='urgent'" in predicted.stderr
    assert "not predicted" not in predicted.stderr


def test_cli_fit_without_usable_rows_fails(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    history.write_text("contact_id,started_at,channel,handle_time_s\nc1,never,voice,10\n")
    result = _cli("fit", str(history), "--model", str(tmp_path / "m"), cwd=tmp_path)
    assert result.returncode == 2
    assert "line 2:" in result.stderr and "no usable rows" in result.stderr
    assert not (tmp_path / "m").exists()


def test_an_unknown_agent_gets_the_all_agents_answer_not_that_of_rows_logged_without_one() -> None:
    rows = synthetic_rows(1500)
    for row in rows[::10]:  # like the 1999 log's AGENT calls without a server: very short
        row.agent, row.handle_time_s = None, 5.0
    fitted = hm.fit(rows[:1200], params=FAST)
    blind = [r.model_copy(update={"agent": None}) for r in rows[1200:] if r.agent is not None]
    p50_blind = np.median([p50 for p50, _ in fitted.predict(blind)])
    assert p50_blind > 0.6 * np.median([r.handle_time_s for r in rows[:1200]])  # without the copies: about 6 s
