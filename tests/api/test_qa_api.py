"""QA forms through the API (admin only, JSON or YAML, versioned, audited), and who may see scores."""

import json
import uuid

from tests.conftest import auth

FORM = {
    "id": "cards-desk",
    "name": "Cards desk",
    "channels": ["chat", "sms"],
    "questions": [
        {"id": "greeting", "text": "Greeted and named the bank", "weight": 1, "check": {"type": "greeting"}},
        {"id": "fraud_warning", "text": "Warned never to share a code", "weight": 5,
         "check": {"type": "phrase", "pattern": "never (share|give)"}},
    ],
}  # fmt: skip
YAML_FORM = """
name: Cards desk
questions:
  - {id: greeting, text: Greeted and named the bank, check: {type: greeting}}
"""


def test_an_admin_defines_versions_lists_and_retires_forms_and_bad_forms_are_refused(client, make_key, session):
    tenant = f"qa-{uuid.uuid4().hex[:8]}"
    admin, supervisor = make_key("admin", tenant), make_key("supervisor", tenant)
    first = client.put("/v1/qa/forms/cards-desk", json=FORM, headers=auth(admin))
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1 and first.json()["questions"][1]["weight"] == 5
    second = client.put("/v1/qa/forms/cards-desk", content=YAML_FORM,
                        headers={**auth(admin), "Content-Type": "application/yaml"})  # fmt: skip
    assert second.status_code == 200 and second.json()["version"] == 2 and second.json()["id"] == "cards-desk"
    listed = client.get("/v1/qa/forms", headers=auth(admin)).json()
    assert [(f["id"], f["version"]) for f in listed["forms"]] == [("cards-desk", 2)]
    assert listed["default"]["id"] == "callscope-default" and listed["default"]["shipped"] is True

    bad = {**FORM, "questions": [{"id": "q", "text": "Q", "check": {"type": "telepathy"}}]}
    refused = client.put("/v1/qa/forms/cards-desk", json=bad, headers=auth(admin))
    assert refused.status_code == 422 and "unknown check type 'telepathy'" in refused.json()["detail"]
    broken = client.put("/v1/qa/forms/cards-desk", content=b"{not: [yaml", headers=auth(admin))
    assert broken.status_code == 422 and "neither JSON nor YAML" in broken.json()["detail"]
    huge = client.put("/v1/qa/forms/cards-desk", content=b"#" * 300_000, headers=auth(admin))
    assert huge.status_code == 413
    assert client.put("/v1/qa/forms/cards-desk", json=FORM, headers=auth(supervisor)).status_code == 403
    assert client.get("/v1/qa/forms", headers=auth(supervisor)).status_code == 403

    assert client.delete("/v1/qa/forms/cards-desk", headers=auth(admin)).status_code == 204
    assert client.delete("/v1/qa/forms/cards-desk", headers=auth(admin)).status_code == 404
    assert client.get("/v1/qa/forms", headers=auth(admin)).json()["forms"] == []
    actions = [e["action"] for e in client.get("/v1/audit", headers=auth(admin)).json()]
    assert actions.count("put qa form") == 2 and "delete qa form" in actions
    other = make_key("admin")  # another tenant never sees this tenant's forms
    client.put("/v1/qa/forms/cards-desk", json=FORM, headers=auth(admin))
    assert client.get("/v1/qa/forms", headers=auth(other)).json()["forms"] == []


def test_agent_keys_see_their_own_contacts_scores_only_where_the_tenant_allows(client, make_key, session):
    from callscope.access.keys import create_api_key
    from callscope.interactions import jobs
    from callscope.interactions.analyze import Batch
    from callscope.settings import get_settings

    tenant = f"qa-{uuid.uuid4().hex[:8]}"
    admin = make_key("admin", tenant)
    made = client.post("/v1/keys", json={"role": "agent", "agent": "ana"}, headers=auth(admin))
    assert made.status_code == 201 and made.json()["agent"] == "ana"
    ana = made.json()["key"]
    bob = create_api_key(session, tenant=tenant, role="agent", agent="bob")
    assert client.post("/v1/keys", json={"role": "supervisor", "agent": "x"}, headers=auth(admin)).status_code == 422
    ids = {}
    for agent in ("ana", "bob"):
        body = {"channel": "chat", "agent": agent, "transcript": "Agent: Hi, Northfield Bank here.\n"
                "Customer: What's your exchange rate for euros?\nAgent: 1.15 today. Anything else? Bye!"}  # fmt: skip
        ids[agent] = client.post("/v1/interactions", json=body, headers=auth(admin)).json()["id"]
        jobs.analyze_step(session, ids[agent], batch=Batch.from_settings(get_settings()))

    assert "qa" in client.get(f"/v1/interactions/{ids['ana']}", headers=auth(admin)).json()
    assert "qa" not in client.get(f"/v1/interactions/{ids['ana']}", headers=auth(ana)).json()  # not allowed yet
    allowed = client.put("/v1/settings/qa", json={"agents_see_own": True}, headers=auth(admin))
    assert allowed.status_code == 200 and allowed.json() == {"agents_see_own": True}
    assert client.get(f"/v1/interactions/{ids['ana']}", headers=auth(ana)).json()["qa"]["score"] is not None
    assert "qa" not in client.get(f"/v1/interactions/{ids['bob']}", headers=auth(ana)).json()  # bob's contact
    listed = client.get("/v1/interactions", headers=auth(bob)).json()["items"]
    assert {i["agent"]: "qa" in i for i in listed} == {"ana": False, "bob": True}
    assert client.put("/v1/settings/qa", json={"agents_see_own": True}, headers=auth(ana)).status_code == 403
    assert json.dumps(client.get("/v1/keys", headers=auth(admin)).json()).count('"agent": "ana"') == 1


def test_the_qa_report_reads_a_tenants_own_form_by_its_questions(client, make_key, session):
    from callscope.interactions import jobs
    from callscope.interactions.analyze import Batch
    from callscope.settings import get_settings

    tenant = f"qa-{uuid.uuid4().hex[:8]}"
    admin = make_key("admin", tenant)
    assert client.put("/v1/qa/forms/cards-desk", json=FORM, headers=auth(admin)).status_code == 200
    said = ["Agent: Hi, Harbour Savings here, how can I help?\nCustomer: I lost my card.\nAgent: Never share a code.",
            "Agent: Yes?\nCustomer: I lost my card.\nAgent: Blocked."]  # fmt: skip
    for transcript in said:
        body = {"channel": "chat", "transcript": transcript}
        posted = client.post("/v1/interactions", json=body, headers=auth(admin))
        jobs.analyze_step(session, posted.json()["id"], batch=Batch.from_settings(get_settings()))
    report = client.get("/v1/reports/qa", headers=auth(admin)).json()
    by_question = {q["question"]: q for q in report["by_question"]}
    assert set(by_question) == {"greeting", "fraud_warning"}
    assert by_question["greeting"]["yes_share"] == 0.5 and by_question["fraud_warning"]["yes_share"] == 0.5
    assert report["overall"]["contacts"] == 2 and report["overall"]["score"] == 50.0
