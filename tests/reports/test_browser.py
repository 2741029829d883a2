"""The reports in a real headless browser (Debian's chromium driven by Playwright): log in through the form, charts
render with data, filter, search, export CSV, open a contact, play its recording from a turn.

Screenshots go to tests/artifacts/. A missing /usr/bin/chromium fails the test with the command that installs it.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.browser import launch_chromium
from tests.conftest import ROOT, SAMPLES, auth

ARTIFACTS = ROOT / "tests" / "artifacts"
CHARTS = [
    "chart-volume-channel", "chart-volume-intent", "chart-handle-intent", "chart-cost-intent", "chart-predicted",
    "chart-predicted-trend", "chart-sentiment", "chart-categories", "chart-queues", "chart-agents",
    "chart-conversation", "chart-qa-trend", "chart-qa-agents", "chart-qa-groups", "chart-qa-questions",
    "chart-qa-question-trend", "chart-repeat-drivers", "chart-fcr",
]  # fmt: skip
TEXTS = [
    ("sms", "my card was declined at Tesco this morning", "payments", "agent-1", 240),
    ("sms", "why was my card payment declined again", "payments", "agent-1", 300),
    ("chat", "I lost my card yesterday, please block it", "security", "agent-2", 520),
    ("chat", "someone stole my wallet with my debit card", "security", "agent-2", 610),
    ("sms", "what exchange rate do you use for euros", "fx", "agent-3", 120),
    ("chat", "how much will 100 pounds be in dollars", "fx", "agent-3", 150),
    ("chat", "my transfer to my landlord is still pending, this is really frustrating", "transfers", "agent-4", 450),
    ("sms", "I sent money on Monday and it still shows pending", "transfers", "agent-4", 380),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(database: str) -> Iterator[str]:
    """The real app on a real port (uvicorn in a thread of this process, on the test database)."""
    import uvicorn
    from starlette.routing import NoMatchFound

    from api import reports as reports_api
    from api.app import app

    try:
        app.url_path_for("dashboard")  # api/app.py includes the reports router
    except NoMatchFound:
        app.include_router(reports_api.router)
    port = _free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def contacts(database: str) -> dict[str, Any]:
    """Contacts posted through the API, analyzed by the analysis step, with outcomes reported through the API."""
    from fastapi.testclient import TestClient

    from api.app import app
    from callscope.access import keys
    from callscope.contacts import Turn
    from callscope.interactions import intake, jobs
    from callscope.interactions.analysis import Resources
    from callscope.interactions.analyze import Batch
    from callscope.settings import get_settings
    from callscope.storage import search
    from callscope.storage.db import Interaction, get_sessionmaker
    from callscope.tenants import categories

    tenant = f"browser-{uuid.uuid4().hex[:8]}"
    # Nothing is queued: this fixture analyzes the contacts itself, and a live worker of the same test session
    # must not race it (nor replace the stand-in turns of the call with a real transcription).
    with (
        get_sessionmaker(database)() as session,
        TestClient(app) as client,
        mock.patch("api.app.send_task"),
        mock.patch("api.batching.send_task"),  # posts are queued by the batched ingest path
    ):
        ingest = keys.create_api_key(session, tenant=tenant, role="ingest")
        supervisor = keys.create_api_key(session, tenant=tenant, role="supervisor")
        rule = categories.CategoryIn(name="complaint", rule=categories.Rule(phrases=["frustrating"]))
        categories.create_category(session, tenant=tenant, body=rule)
        ids = []
        for i, (channel, text, queue, agent, _seconds) in enumerate(TEXTS * 2):
            body: dict[str, Any] = {"channel": channel, "queue": queue, "agent": agent}
            if i == 2:  # the lost-card chat: the caller below is the same customer, back a day later
                body["customer_ref"] = "customer-42"
            if channel == "sms":
                body["messages"] = [{"direction": "inbound", "text": text}, {"direction": "outbound", "text": "ok"}]
            else:
                body["transcript"] = f"Agent: Hello, how can I help?\nCustomer: {text}\nAgent: Let me check. {i}"
            response = client.post("/v1/interactions", json=body, headers=auth(ingest))
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        call = client.post(
            "/v1/interactions",
            files={"file": ("call.wav", (SAMPLES / "call_dual_channel.wav").read_bytes(), "audio/wav")},
            data={"metadata": json.dumps({"queue": "security", "agent": "agent-2", "customer_ref": "customer-42"})},
            headers=auth(ingest),
        )
        assert call.status_code == 202, call.text
        voice = call.json()["id"]
        row = session.get(Interaction, voice)
        # stands in for the transcription step (tested with the real model elsewhere): timed, redacted turns
        row.turns = intake.redact_turns(
            [
                Turn(speaker="agent", start=0.4, end=3.0, text="Thank you for calling, how can I help?"),
                Turn(speaker="customer", start=4.0, end=9.5, text="I lost my card, the number is 4111 1111 1111 1111"),
                Turn(speaker="agent", start=14.0, end=18.0, text="I have blocked the card and ordered a new one."),
                Turn(speaker="customer", start=17.5, end=21.0, text="Thank you so much."),
            ]
        )
        row.duration_s = 23.6
        session.commit()
        resources = Resources.from_settings(get_settings())
        now = datetime.now(UTC)
        for n, interaction_id in enumerate([*ids, voice]):
            row = jobs.analyze_step(session, interaction_id, batch=Batch.from_settings(get_settings(), resources))
            assert row is not None and row.status == "done"
            row.created_at = now - timedelta(days=n % 5)
            categories.tag(session, row)
            search.index_contact(session, row)
            session.commit()
        for interaction_id, (_c, _t, queue, _a, seconds) in zip(ids, TEXTS * 2, strict=True):
            outcome = {"handle_time_s": seconds, "queue": queue, "resolution": "resolved"}
            assert client.post(
                f"/v1/interactions/{interaction_id}/outcome", json=outcome, headers=auth(ingest)
            ).is_success
        client.post(f"/v1/interactions/{voice}/outcome", json={"handle_time_s": 700, "queue": "security",
                    "resolution": "transferred"}, headers=auth(ingest))  # fmt: skip
    return {"tenant": tenant, "supervisor": supervisor, "voice": voice, "ids": ids}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = launch_chromium(playwright)
        yield instance
        instance.close()


def _charts_drawn(page: Any) -> dict[str, str]:
    page.wait_for_selector("body[data-charts=done]", timeout=30_000)
    return page.evaluate(
        "ids => Object.fromEntries(ids.map(id => [id, (document.getElementById(id) || {dataset: {}}).dataset.rendered"
        " + ':' + document.querySelectorAll('#' + id + ' svg.main-svg').length]))",
        CHARTS,
    )


def test_supervisor_logs_in_sees_charts_filters_exports_and_plays_a_call(server, contacts, browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    page.goto(f"{server}/reports")
    assert page.url.startswith(f"{server}/reports/login"), page.url
    page.fill("#key", contacts["supervisor"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/reports")
    assert contacts["supervisor"] not in page.url
    cookie = next(c for c in context.cookies() if c["name"] == "callscope_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    drawn = _charts_drawn(page)
    for chart, state in drawn.items():
        rendered, svgs = state.split(":")
        assert rendered == "true" and int(svgs) >= 1, f"{chart} did not render with data: {state}"
    bars = page.locator("#chart-volume-channel .trace.bars .point").count()
    assert bars >= 3, "the volume chart has no bars"
    names = page.evaluate("document.getElementById('chart-volume-channel').data.map(t => t.name).sort()")
    assert names == ["chat", "sms", "voice"]
    page.screenshot(path=str(ARTIFACTS / "reports-dashboard.png"), full_page=True)

    page.select_option("select[name=channel]", "sms")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**/reports?*channel=sms*")
    _charts_drawn(page)
    assert page.evaluate("document.getElementById('chart-volume-channel').data.map(t => t.name)") == ["sms"]
    channels = page.locator("#contacts tbody tr td:nth-child(2)").all_inner_texts()
    assert channels and set(channels) == {"sms"}
    page.fill("input[name=q]", "declined")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**q=declined*")
    snippets = page.locator("#contacts td.snippet").all_inner_texts()
    assert len(snippets) == 4 and all("declined" in s for s in snippets), snippets
    page.screenshot(path=str(ARTIFACTS / "reports-filtered.png"), full_page=True)

    with page.expect_download() as download:
        page.click("#export-csv")
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(exported) == 4 and {r["channel"] for r in exported} == {"sms"}

    page.goto(f"{server}/reports?channel=voice")
    page.click("#contacts a.contact-link")
    page.wait_for_url(f"**/reports/contacts/{contacts['voice']}")
    assert page.locator("#turns .turn").count() == 4
    assert "[CARD" in page.inner_text("#turns") and "4111 1111" not in page.content()
    assert page.inner_text("#placeholders").count("CARD") == 1
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=15_000)
    assert page.evaluate("document.getElementById('player').currentTime") == 0
    page.locator("#turns .turn").nth(2).locator("button.jump").click()
    page.wait_for_function("() => document.getElementById('player').currentTime >= 14", timeout=15_000)
    page.wait_for_function("() => !document.getElementById('player').paused", timeout=15_000)
    page.wait_for_function("() => document.querySelector('#turns .turn.current') !== null", timeout=15_000)
    assert "blocked the card and ordered a new card" in page.inner_text("#summary-text")
    assert page.locator("#qa-answers tbody tr").count() == 9
    before = float(page.inner_text("#qa-score"))
    greeting = page.locator("select.qa-answer[data-question=greeting]")
    assert greeting.input_value() == "no"  # "Thank you for calling" names no bank
    greeting.select_option("yes")
    page.wait_for_function("() => document.getElementById('qa-status').textContent.startsWith('saved')")
    assert float(page.inner_text("#qa-score")) > before
    page.screenshot(path=str(ARTIFACTS / "reports-contact.png"), full_page=True)
    page.click("#journey-link")
    page.wait_for_url("**/reports/customers/*")
    page.wait_for_selector("body[data-charts=done]", timeout=30_000)
    assert page.get_attribute("#chart-journey", "data-rendered") == "true"
    assert page.locator("#journey tbody tr").count() == 2 and page.locator("#journey tr.repeat").count() == 1
    assert page.locator("#chart-journey .scatterlayer .point").count() == 2
    page.screenshot(path=str(ARTIFACTS / "reports-journey.png"), full_page=True)
    page.go_back()
    page.reload()
    assert page.locator("#qa-answers tr.overridden").count() == 1 and "(automatic: no)" in page.inner_text("#qa")
    page.goto(f"{server}/reports")
    _charts_drawn(page)
    assert page.get_attribute("#qa-agreement", "data-agreement") == "0"
    assert "0.0% of 1 reviewed answers" in page.inner_text("#qa-agreement")
    assert page.get_attribute("#fcr-overall", "data-fcr") == "0.5"  # the chat came back as a call
    page.screenshot(path=str(ARTIFACTS / "reports-dashboard-qa.png"), full_page=True)

    page.goto(f"{server}/reports/opportunities")
    page.wait_for_selector("body[data-charts=done]", timeout=30_000)
    assert page.locator("#opportunities tbody tr").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "reports-opportunities.png"), full_page=True)

    page.click("header form.who button")
    page.wait_for_url("**/reports/login")
    page.goto(f"{server}/reports")
    assert "/reports/login" in page.url
    assert errors == [], errors
    context.close()


def test_supervisor_sees_the_themes_with_their_trend_opens_a_contact_and_asks_for_a_new_run(server, browser, database):
    from callscope.access import keys
    from callscope.reports import themes
    from callscope.storage.db import get_sessionmaker
    from callscope.tenants import intents as tenant_intents
    from tests.reports.test_themes import unnamed_contacts

    tenant = f"browser-themes-{uuid.uuid4().hex[:8]}"
    with get_sessionmaker(database)() as session:
        unnamed_contacts(session, tenant)
        run = themes.discover(session, tenant=tenant, days=7)
        supervisor = keys.create_api_key(session, tenant=tenant, role="supervisor")
        admin = keys.create_api_key(session, tenant=tenant, role="admin")
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/reports/themes")
    page.fill("#key", supervisor)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/reports/themes")
    page.wait_for_selector("body[data-charts=done]", timeout=30_000)
    assert page.locator("#chart-themes svg.main-svg").count() >= 1  # one line a theme: contacts a day
    rows = page.locator("#themes tbody tr")
    assert rows.count() == len(run.themes) >= 5
    assert rows.first.locator("td").first.inner_text() == run.themes[0]["name"]
    page.screenshot(path=str(ARTIFACTS / "reports-themes.png"), full_page=True)
    rows.first.locator("a").first.click()
    page.wait_for_url(f"{server}/reports/contacts/{run.themes[0]['contacts'][0]}")
    page.go_back()
    page.click("#recompute")
    page.locator("#recompute-status", has_text="queued").wait_for(timeout=10_000)  # the page's CSP forbids eval
    assert page.inner_text("#recompute-status") == "queued: reload this page in a minute"
    assert page.locator("form.make-intent").count() == 0  # defining intents is an admin's
    assert not errors, errors

    admin_page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    admin_page.goto(f"{server}/reports/themes")
    admin_page.fill("#key", admin)
    admin_page.click("button[type=submit]")
    admin_page.wait_for_url(f"{server}/reports/themes")
    form = admin_page.locator("form.make-intent").first
    form.locator("input[name=name]").fill("branch_visit")
    form.locator("input[name=queue]").fill("branches")
    form.locator("button").click()
    form.locator(".made", has_text="intent branch_visit made from").wait_for(timeout=10_000)
    with get_sessionmaker(database)() as session:
        (made,) = tenant_intents.list_intents(session, tenant=tenant)
        assert (made.name, made.queue, len(made.examples)) == ("branch_visit", "branches", run.themes[0]["size"])
    with admin_page.expect_response(lambda r: r.url.endswith("/intent")) as again:
        form.locator("button").click()  # the same name again: replaced, not doubled
    assert again.value.status == 201
    with get_sessionmaker(database)() as session:
        assert len(tenant_intents.list_intents(session, tenant=tenant)) == 1


def test_chromium_s_network_service_cannot_hear_the_hosts_network_changes(browser):
    """The browser tests run beside the cluster tests' veth links (and a CI runner's containers): Chromium's network
    service runs with tests/no_netlink.c loaded, so a link that comes or goes aborts no page load (tests/browser.py)."""
    page = browser.new_page()
    page.goto("about:blank")
    services = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = proc.joinpath("cmdline").read_bytes()  # Chromium rewrites its own as one string
            if b"chromium" in command and b"--utility-sub-type=network.mojom.NetworkService" in command:
                services.append(proc.joinpath("maps").read_text())
        except OSError:
            continue
    page.close()
    assert services, "no network service process of Chromium found"
    assert all("callscope-no-netlink-" in maps for maps in services)
