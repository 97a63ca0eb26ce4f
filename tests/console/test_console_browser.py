"""The ops console in a real browser: Debian's headless Chromium driven by Playwright, against
a live uvicorn on this run's database. One browser for the module; the tests run in order
(sign-in first) and save a full-page screenshot of each page under var/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from domain.settings import load_settings
from domain.types import utcnow
from ingest.app import create_app
from tests.console.support import ACCT, Seeded, realistic_history, seed
from tests.support.db import truncate_all
from tests.support.env import API_TOKEN, service_env
from tests.support.processes import Proc, start_server
from workers.runtime import build_runtime

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

if not CHROMIUM.exists() and os.environ.get("CI", "").lower() != "true":
    pytest.skip(
        "/usr/bin/chromium is missing (apt-get install chromium); CI installs it and runs these",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow


class Live:
    def __init__(self, base: str, seeded: Seeded, engine: Engine) -> None:
        self.base, self.seeded, self.engine = base, seeded, engine

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture(scope="module")
def live(pg_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    truncate_all(pg_engine)
    settings = load_settings()
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, publish=lambda ids: None)) as client:
            seeded = seed(client, runtime, pg_engine)
    finally:
        runtime.engine.dispose()
    realistic_history(pg_engine, utcnow())
    server: Proc
    server, base = start_server(service_env(), tmp_path_factory.mktemp("console-logs"))
    try:
        yield Live(base, seeded, pg_engine)
    finally:
        server.stop()
        truncate_all(pg_engine)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_signed_out_every_page_sends_you_to_sign_in(live: Live, page: Page) -> None:
    page.goto(live.url("/ops/issues"))
    assert "/ops/login?next=/ops/issues" in page.url
    expect(page.locator("h1")).to_have_text("Sign in")
    shot(page, "login")


def test_a_wrong_token_is_refused_and_the_right_one_signs_in(live: Live, page: Page) -> None:
    page.fill("input[name=token]", "not-a-real-token-0123456789")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("login-error")).to_be_visible()
    page.fill("input[name=token]", API_TOKEN)
    page.click("button[type=submit]")
    assert page.url.endswith("/ops/issues")  # back where the redirect came from
    expect(page.get_by_test_id("principal")).to_have_text("tester")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["ops_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert API_TOKEN not in session["value"]
    assert API_TOKEN not in page.content()


def test_overview_shows_the_pipeline_and_refreshes_itself(live: Live, page: Page) -> None:
    page.goto(live.url("/ops"))
    expect(page.get_by_test_id("dead-letters")).to_have_text("21")  # 4 seeded + 17 history
    expect(page.get_by_test_id("health-database")).to_have_text("ok")
    assert page.evaluate("typeof htmx") == "object"  # the vendored htmx loaded
    with page.expect_response(lambda r: "/ops/overview/live" in r.url, timeout=8_000) as got:
        pass
    assert got.value.status == 200
    assert page.locator("svg.chart rect.e").count() == 60
    shot(page, "overview")


def test_a_form_with_a_tampered_csrf_token_is_refused(live: Live, page: Page) -> None:
    page.goto(live.url("/ops/issues"))
    page.locator("[data-testid=issue-row] a").first.click()
    expect(page.get_by_test_id("dry-run-count")).to_be_visible()
    dead_before = scalar(live.engine, "SELECT count(*) FROM stripe_events WHERE status = 'dead'")
    page.locator("form[action$='/replay'] input[name=csrf_token]").evaluate(
        "input => { input.value = 'forged' }"
    )
    page.fill("input[name=reason]", "should not happen")
    page.locator("form[action$='/replay'] button").click()
    expect(page.get_by_test_id("error")).to_contain_text("CSRF")
    assert "Refused" in page.title()
    assert scalar(live.engine, "SELECT count(*) FROM replay_audit") == 0
    dead_after = scalar(live.engine, "SELECT count(*) FROM stripe_events WHERE status = 'dead'")
    assert dead_after == dead_before


def test_replay_a_group_with_a_reason(live: Live, page: Page) -> None:
    page.goto(live.url("/ops/issues"))
    expect(page.locator("[data-testid=issue-row]").first).to_contain_text("UnknownPrice")
    shot(page, "issues")
    page.locator("[data-testid=issue-row] a").first.click()
    expect(page.get_by_test_id("dry-run-count")).to_have_text("12")
    expect(page.get_by_test_id("traceback")).to_contain_text("UnknownPrice")
    shot(page, "issue")
    page.locator("form[action$='/replay'] button").click()  # no reason: the browser refuses
    assert (
        "/ops/issues/" in page.url and scalar(live.engine, "SELECT count(*) FROM replay_audit") == 0
    )
    page.fill("input[name=reason]", "legacy prices added to the catalog")
    page.locator("form[action$='/replay'] button").click()
    expect(page.get_by_test_id("replayed-count")).to_have_text("12")
    expect(page.get_by_test_id("progress")).to_be_visible()
    shot(page, "replay")
    audit_id = scalar(live.engine, "SELECT id FROM replay_audit WHERE via = 'console'")
    assert page.url.endswith(f"/ops/replays/{audit_id}")
    rows = scalar(
        live.engine,
        "SELECT count(*) FROM replay_audit_events ae JOIN stripe_events e USING (event_id)"
        " JOIN dead_letters d USING (event_id) WHERE ae.audit_id = :a AND e.type = 'invoice.paid'"
        " AND e.status <> 'dead' AND d.replay_count = 1 AND d.error_type = 'UnknownPrice'",
        a=audit_id,
    )
    assert rows == 12
    reason = scalar(live.engine, "SELECT reason FROM replay_audit WHERE id = :a", a=audit_id)
    assert reason == "legacy prices added to the catalog"
    dead = scalar(live.engine, "SELECT count(*) FROM stripe_events WHERE status = 'dead'")
    assert dead == 9  # the other groups are untouched
    # The page polls the progress (htmx, every 2 s): a worker finishing them shows up live.
    with live.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE stripe_events SET status = 'processed' WHERE event_id IN"
                " (SELECT event_id FROM replay_audit_events WHERE audit_id = :a)"
            ),
            {"a": audit_id},
        )
    expect(page.get_by_test_id("progress-state")).to_have_text("all finished.", timeout=8_000)
    expect(page.get_by_test_id("progress-processed")).to_have_text("12")


def test_account_timeline(live: Live, page: Page) -> None:
    page.goto(live.url("/ops/accounts"))
    page.fill("input[name=account_ref]", ACCT)
    page.click("main form button")
    assert page.url.endswith(f"/ops/accounts/{ACCT}")
    expect(page.get_by_test_id("billing-status")).to_have_text("active")
    rows = page.locator("[data-testid=timeline-row]")
    expect(rows).to_have_count(len(live.seeded.account_events) + 1)
    texts = rows.all_inner_texts()
    for text_of_row, event_id in zip(texts, live.seeded.account_events, strict=False):
        assert event_id in text_of_row  # Stripe's order: created, then id
    assert live.seeded.command_id in texts[-1] and "dead" in texts[-1]
    expect(page.get_by_test_id("section-invoices")).to_contain_text("in_con2")
    assert "billing@example.nl" not in page.content()
    shot(page, "account")


def test_events_and_commands_pages(live: Live, page: Page) -> None:
    page.goto(live.url("/ops/events"))
    page.select_option("select[name=status]", "dead")
    page.click("main form button")
    expect(page.locator("[data-testid=events]")).to_contain_text("customer.subscription.updated")
    shot(page, "events")
    page.goto(live.url(f"/ops/events/{live.seeded.account_events[0]}"))
    expect(page.get_by_test_id("payload")).to_contain_text("[redacted]")
    shot(page, "event")
    page.goto(live.url("/ops/commands?status=dead"))
    shot(page, "commands")
    page.locator("[data-testid=commands] a").first.click()
    expect(page.get_by_test_id("command-status")).to_have_text("dead")
    page.fill("input[name=reason]", "Stripe is back")
    page.locator("form[action$='/retry'] button").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("Re-queued")
    shot(page, "command")
    status = scalar(
        live.engine, "SELECT status FROM commands WHERE id = :i", i=live.seeded.command_id
    )
    assert status != "dead"


def test_sign_out(live: Live, page: Page) -> None:
    page.goto(live.url("/ops"))
    page.click("header form button")
    assert "/ops/login" in page.url
    page.goto(live.url("/ops/commands"))
    assert "/ops/login?next=/ops/commands" in page.url
