"""Summary and QA through the real stack: API -> PostgreSQL -> Redis -> live Celery worker -> Whisper -> API, then a
supervisor's override changing the score and the agreement figure of the QA report."""

import csv
import io
import json
import uuid

import pytest

from tests.audio import spoken_call
from tests.conftest import auth, wait_final

pytestmark = pytest.mark.usefixtures("live_worker")

GOOD_CALL = [
    ("agent", "Good morning, thank you for calling Northfield Bank. This call is recorded for training and quality."),
    ("customer", "Hi. I lost my debit card yesterday and I am really worried that someone will use it."),
    ("agent", "I am sorry to hear that. Can I take your date of birth and your postcode please?"),
    ("customer", "Yes. It is the fourth of May, nineteen eighty, and the postcode is L S six, four Q T."),
    ("agent", "Thank you, that all matches. Please bear with me for a moment while I check your card."),
    ("agent", "Thank you for holding. I have blocked your card now, so it cannot be used again. A new card will be "
              "posted today and should reach you within five working days."),
    ("customer", "Brilliant, thank you so much."),
    ("agent", "Is there anything else I can help you with today? Have a lovely day, goodbye."),
]  # fmt: skip
CURT_CALL = [
    ("agent", "Card services."),
    ("customer", "Someone has taken money from my card. I am really upset and worried about this."),
    ("agent", "Date of birth?"),
    ("customer", "The fourth of May, nineteen eighty."),
    ("agent", "Okay. I will stop the card."),
    ("customer", "Hello? Are you still there?"),
    ("agent", "Yes. Done."),
]
CHAT = {
    "channel": "chat",
    "agent": "ana",
    "queue": "security",
    "messages": [
        {"role": "agent", "text": "Hi, you're chatting with Harbour Savings, I'm Ana. How can I help?"},
        {"role": "customer", "text": "I think my card was stolen, there are two payments I didn't make. I'm worried."},
        {"role": "agent", "text": "I'm sorry, that must be worrying. To verify you, what's your date of birth?"},
        {"role": "customer", "text": "12 March 1985"},
        {"role": "agent", "text": "Thanks, you're verified. I can see the two payments to NOVALINK."},
        {"role": "agent", "text": "I've cancelled the card, it can't be used again, and I've raised a dispute for "
                                  "both payments. We aim to answer within 10 working days."},
        {"role": "customer", "text": "ok thank you"},
        {"role": "agent", "text": "Is there anything else I can help with? Take care."},
    ],
}  # fmt: skip


def answers(contact: dict) -> dict[str, str]:
    return {a["question"]: a["answer"] for a in contact["qa"]["answers"]}


def test_calls_and_chats_get_summaries_and_qa_and_an_override_moves_the_score_and_agreement(client, make_key):
    tenant = f"qa-{uuid.uuid4().hex[:8]}"
    admin, supervisor = make_key("admin", tenant), make_key("supervisor", tenant)
    good = client.post("/v1/interactions", headers=auth(admin), data={"metadata": json.dumps({"agent": "ana"})},
                       files={"file": ("good.wav", spoken_call(GOOD_CALL, agent_channel="right", pauses={4: 25.0}),
                                       "audio/wav")}).json()["id"]  # fmt: skip
    curt = client.post(
        "/v1/interactions",
        headers=auth(admin),
        data={"metadata": json.dumps({"agent": "bob"})},  # no channel map: the curt agent must still be found
        files={"file": ("curt.wav", spoken_call(CURT_CALL, pauses={4: 40.0}), "audio/wav")},
    ).json()["id"]
    chat = client.post("/v1/interactions", json=CHAT, headers=auth(admin)).json()["id"]

    call = wait_final(client, admin, good, timeout_s=240)
    assert call["status"] == "done", call
    summary = call["summary"]
    assert summary["reason"]["turn"] == 1 and "lost my debit card" in summary["reason"]["text"]
    assert [a["action"] for a in summary["actions"]] == ["block_card", "order_card"]
    assert summary["outcome"]["status"] == "resolved"
    assert summary["follow_ups"] and "working days" in summary["follow_ups"][-1]["when"]
    assert "blocked the card" in summary["text"] and "4QT" not in json.dumps(summary)
    assert answers(call) == {question: "yes" for question in answers(call)}
    assert call["qa"]["score"] == 100.0 and call["qa"]["form"] == "callscope-default"
    hold = next(a for a in call["qa"]["answers"] if a["question"] == "hold_etiquette")
    assert call["turns"][hold["evidence"][1]]["start"] - call["turns"][hold["evidence"][0]]["end"] > 20

    poor = wait_final(client, admin, curt, timeout_s=240)
    assert poor["status"] == "done", poor
    assert poor["roles"]["agent_channel"] == "left" and poor["roles"]["method"].startswith("role model"), poor["roles"]
    got = answers(poor)
    assert {got[q] for q in ("greeting", "identity_check", "empathy", "hold_etiquette", "closing")} == {"no"}
    assert got["no_long_silence"] == "no" and poor["qa"]["score"] < 30 < call["qa"]["score"]
    assert poor["summary"]["actions"][0]["action"] == "block_card"

    texted = wait_final(client, admin, chat)
    assert texted["status"] == "done", texted
    assert {a["action"] for a in texted["summary"]["actions"]} == {"block_card", "raise_dispute"}
    assert texted["summary"]["outcome"]["status"] == "follow_up" and texted["summary"]["reason"]["turn"] == 1
    assert answers(texted) == {
        "greeting": "yes", "identity_check": "yes", "empathy": "yes", "hold_etiquette": "n/a",
        "recording_notice": "n/a", "disclosure": "yes", "closing": "yes", "no_interruptions": "n/a",
        "no_long_silence": "n/a",
    }  # fmt: skip

    report = client.get("/v1/reports/qa", headers=auth(supervisor)).json()
    assert report["overall"]["contacts"] == 3 and report["overall"]["reviewed_answers"] == 0
    assert {r["agent"]: r["score"] for r in report["by_agent"]}["ana"] == 100.0

    # a supervisor disagrees with one automatic answer and confirms another
    changed = client.put(f"/v1/interactions/{curt}/qa/greeting", json={"answer": "yes"}, headers=auth(supervisor))
    assert changed.status_code == 200, changed.text
    assert changed.json()["score"] > poor["qa"]["score"] and changed.json()["automatic_score"] == poor["qa"]["score"]
    confirmed = client.put(f"/v1/interactions/{curt}/qa/closing", json={"answer": "no"}, headers=auth(supervisor))
    assert confirmed.status_code == 200
    stored = client.get(f"/v1/interactions/{curt}", headers=auth(admin)).json()["qa"]
    greeting = next(a for a in stored["answers"] if a["question"] == "greeting")
    assert greeting["answer"] == "yes" and greeting["automatic"] == "no"
    assert greeting["override"]["by"] == supervisor[:10]
    report = client.get("/v1/reports/qa", headers=auth(supervisor)).json()
    assert report["overall"]["reviewed_answers"] == 2 and report["overall"]["agreement"] == 0.5
    by_question = {q["question"]: q for q in report["by_question"]}
    assert by_question["greeting"]["agreement"] == 0.0 and by_question["closing"]["agreement"] == 1.0
    greetings = [r for r in report["by_question_period"] if r["question"] == "greeting"]
    assert sum(r["answered"] for r in greetings) == 3 and all(r["yes_share"] is not None for r in greetings)
    assert {r["agent"]: r["score"] for r in report["by_agent"]}["bob"] == changed.json()["score"]

    refused = client.put(f"/v1/interactions/{curt}/qa/greeting", json={"answer": "maybe"}, headers=auth(supervisor))
    assert refused.status_code == 422
    unknown = client.put(f"/v1/interactions/{curt}/qa/telepathy", json={"answer": "yes"}, headers=auth(supervisor))
    assert unknown.status_code == 422 and "no question" in unknown.json()["detail"]
    outsider = make_key("supervisor")
    assert client.put(f"/v1/interactions/{curt}/qa/greeting", json={"answer": "no"},
                      headers=auth(outsider)).status_code == 404  # fmt: skip
    assert client.put(f"/v1/interactions/{curt}/qa/greeting", json={"answer": "no"},
                      headers=auth(make_key("ingest", tenant))).status_code == 403  # fmt: skip
    audit = [(e["action"], e["target"]) for e in client.get("/v1/audit", headers=auth(admin)).json()]
    assert ("qa.override", f"{curt} greeting=yes") in audit

    exported = list(csv.DictReader(io.StringIO(client.get("/v1/reports/export.csv", headers=auth(supervisor)).text)))
    rows = {r["id"]: r for r in exported}
    assert float(rows[good]["qa_score"]) == 100.0 and rows[chat]["summary_outcome"] == "follow_up"
    assert rows[good]["summary"].startswith("Customer contacted us about") and "4QT" not in json.dumps(exported)
