"""The ops console over HTTP (in-process app, real Postgres): sign-in, guard, CSRF, pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from domain.settings import load_settings
from ingest.app import create_app
from tests.console.support import (
    ACCT,
    CUS,
    READ_TOKEN,
    Seeded,
    csrf_of,
    event_statuses,
    seed,
    sign_in,
)
from tests.support.env import API_TOKEN
from workers.runtime import Runtime

TOKENS = f"tester:{API_TOKEN}:commands+read+ops,reader:{READ_TOKEN}:read"
PAGES = [
    "/ops",
    "/ops/overview/live",
    "/ops/issues",
    "/ops/issues/abc",
    "/ops/replays/1",
    "/ops/events?type=x",
    "/ops/events/evt_1",
    "/ops/accounts",
    "/ops/accounts/org_42",
    "/ops/commands",
    "/ops/commands/cmd_1",
]


@pytest.fixture
def client(db: Engine, broker: object) -> Iterator[TestClient]:
    settings = load_settings(api_tokens=TOKENS, ops_session_secret="console-test-secret-0123")
    with TestClient(create_app(settings, publish=lambda ids: None)) as c:
        yield c


@pytest.fixture
def seeded(client: TestClient, runtime: Runtime, db: Engine) -> Seeded:
    return seed(client, runtime, db)


@pytest.fixture
def signed_in(client: TestClient) -> TestClient:
    assert sign_in(client).status_code == 303
    return client


@pytest.mark.parametrize("path", PAGES)
def test_every_page_redirects_to_sign_in_without_a_session(client: TestClient, path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/ops/login?next=/ops")


def test_an_htmx_poll_without_a_session_reloads_the_page_to_sign_in(client: TestClient) -> None:
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/ops/replays/7"}
    answer = client.get("/ops/overview/live", headers=headers, follow_redirects=False)
    assert answer.status_code == 200 and answer.text == ""
    assert answer.headers["hx-redirect"] == "/ops/login?next=/ops/replays/7"


def test_a_post_without_a_session_redirects_and_changes_nothing(
    client: TestClient, seeded: Seeded, db: Engine
) -> None:
    answer = client.post(
        f"/ops/events/{seeded.fixable[0]}/replay", data={"reason": "x"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert event_statuses(db, seeded.fixable) == dict.fromkeys(seeded.fixable, "dead")


def test_sign_in_sets_a_signed_cookie_with_the_name_never_the_token(client: TestClient) -> None:
    answer = sign_in(client, next_path="/ops/issues")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ops/issues"
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and "ops_session=" in v
    )
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/ops" in lowered
    assert "max-age=28800" in lowered
    assert "secure" not in lowered  # plain http here
    assert API_TOKEN not in cookie
    page = client.get("/ops")
    assert page.status_code == 200
    assert 'data-testid="principal">tester<' in page.text
    assert API_TOKEN not in page.text


def test_https_requests_get_a_secure_cookie(db: Engine, broker: object) -> None:
    settings = load_settings(api_tokens=TOKENS)
    app = create_app(settings, publish=lambda ids: None)
    with TestClient(app, base_url="https://console.test") as c:
        answer = sign_in(c)
        cookie = next(v for k, v in answer.headers.multi_items() if "ops_session=" in v)
        assert "secure" in cookie.lower()


@pytest.mark.parametrize("token", ["wrong-token-0123456789abc", READ_TOKEN, ""])
def test_sign_in_refuses_tokens_without_the_ops_scope(client: TestClient, token: str) -> None:
    answer = sign_in(client, token=token)
    assert answer.status_code == 401
    assert "ops_session=" not in answer.headers.get("set-cookie", "")
    assert client.get("/ops", follow_redirects=False).status_code == 303


def test_sign_in_without_its_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/ops/login")
    answer = client.post("/ops/login", data={"token": API_TOKEN}, follow_redirects=False)
    assert answer.status_code == 403
    assert client.get("/ops", follow_redirects=False).status_code == 303


def test_next_never_leaves_the_console(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example", "/ops/../x\\y", "/v1/ops/stats"):
        answer = sign_in(client, next_path=target)
        assert answer.headers["location"] == "/ops", target
        client.cookies.clear()


def test_a_session_ends_when_its_token_loses_the_ops_scope(
    client: TestClient, db: Engine, broker: object
) -> None:
    sign_in(client)
    cookie = client.cookies.get("ops_session")
    demoted = load_settings(
        api_tokens=f"tester:{API_TOKEN}:read", ops_session_secret="console-test-secret-0123"
    )
    with TestClient(create_app(demoted, publish=lambda ids: None)) as other:
        other.cookies.set("ops_session", cookie, path="/ops")
        assert other.get("/ops", follow_redirects=False).status_code == 303
    forged = cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB")
    client.cookies.set("ops_session", forged, path="/ops")
    assert client.get("/ops", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(signed_in: TestClient) -> None:
    token = csrf_of(signed_in.get("/ops").text)
    answer = signed_in.post("/ops/logout", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert signed_in.get("/ops", follow_redirects=False).status_code == 303


def test_a_form_with_a_wrong_csrf_token_is_refused(
    signed_in: TestClient, seeded: Seeded, db: Engine
) -> None:
    issues = signed_in.get("/ops/issues").text
    key = issues.split('href="/ops/issues/')[1].split('"')[0]
    for token in ("", "0" * 64):
        answer = signed_in.post(
            f"/ops/issues/{key}/replay", data={"csrf_token": token, "reason": "go"}
        )
        assert answer.status_code == 403
        assert "CSRF" in answer.text
    assert event_statuses(db, seeded.fixable) == dict.fromkeys(seeded.fixable, "dead")


def test_overview_shows_backlog_dead_counts_and_health(
    signed_in: TestClient, seeded: Seeded
) -> None:
    page = signed_in.get("/ops")
    assert page.status_code == 200
    assert 'data-testid="dead-letters"><a href="/ops/issues">4</a>' in page.text
    assert 'data-testid="dead-commands"><a href="/ops/commands?status=dead">1</a>' in page.text
    assert 'data-testid="health-database">ok<' in page.text
    assert 'hx-trigger="every 5s"' in page.text and "<svg" in page.text
    assert 'data-testid="events-last-hour">9<' in page.text  # 5 of the account + 4 dead
    assert 'data-testid="failures-last-hour">4<' in page.text  # one failed attempt each
    live = signed_in.get("/ops/overview/live")
    assert live.status_code == 200 and "<html" not in live.text and "dead letters" in live.text
    assert signed_in.get("/ops/static/htmx.min.js").status_code == 200


def test_issues_group_dead_letters_and_replay_a_group_with_a_reason(
    signed_in: TestClient, seeded: Seeded, db: Engine
) -> None:
    page = signed_in.get("/ops/issues").text
    assert page.count('data-testid="issue-row"') == 2
    assert "handler failed on purpose for &lt;id&gt;" in page
    key = page.split('href="/ops/issues/')[1].split('"')[0]  # biggest group first: the 3
    detail = signed_in.get(f"/ops/issues/{key}")
    assert 'data-testid="dry-run-count">3<' in detail.text
    assert "HandlerFailure" in detail.text  # the sample traceback
    csrf = csrf_of(detail.text)
    refused = signed_in.post(f"/ops/issues/{key}/replay", data={"csrf_token": csrf, "reason": " "})
    assert refused.status_code == 422 and "reason is required" in refused.text
    assert event_statuses(db, seeded.fixable) == dict.fromkeys(seeded.fixable, "dead")
    done = signed_in.post(
        f"/ops/issues/{key}/replay", data={"csrf_token": csrf, "reason": "price fixed"}
    )
    assert done.status_code == 200
    assert 'data-testid="replayed-count">3<' in done.text
    assert 'data-testid="progress-queued">3<' in done.text
    assert event_statuses(db, seeded.fixable) == dict.fromkeys(seeded.fixable, "queued")
    assert event_statuses(db, seeded.other) == dict.fromkeys(seeded.other, "dead")
    with db.connect() as conn:
        audit = conn.execute(text("SELECT actor, via, reason, event_count FROM replay_audit")).one()
    assert tuple(audit) == ("tester", "console", "price fixed", 3)
    assert signed_in.get(f"/ops/issues/{key}").status_code == 404  # nothing dead in it now


def test_events_search_detail_hides_personal_data_and_replays(
    signed_in: TestClient, seeded: Seeded, db: Engine
) -> None:
    found = signed_in.get("/ops/events", params={"status": "dead", "type": "test.other"}).text
    assert seeded.other[0] in found and seeded.fixable[0] not in found
    by_account = signed_in.get("/ops/events", params={"account": ACCT}).text
    assert all(e in by_account for e in seeded.account_events)
    assert seeded.other[0] not in by_account
    assert signed_in.get("/ops/events", params={"status": "nope"}).status_code == 422
    jump = signed_in.get("/ops/events", params={"event_id": seeded.other[0]})
    assert jump.url.path == f"/ops/events/{seeded.other[0]}"
    customer = signed_in.get(f"/ops/events/{seeded.account_events[0]}").text
    assert CUS in customer
    for personal in ("billing@example.nl", "Jan Jansen", "Damrak", "NL123456789B01"):
        assert personal not in customer
    dead = signed_in.get(f"/ops/events/{seeded.other[0]}").text
    assert "HandlerFailure" in dead
    csrf = csrf_of(dead)
    url = f"/ops/events/{seeded.account_events[0]}/replay"
    assert signed_in.post(url, data={"csrf_token": csrf, "reason": "check"}).status_code == 409
    forced = signed_in.post(url, data={"csrf_token": csrf, "reason": "check", "force": "1"})
    assert forced.status_code == 200 and 'data-testid="replayed-count">1<' in forced.text
    assert event_statuses(db, seeded.account_events[:1]) == {seeded.account_events[0]: "queued"}


def test_account_timeline_lists_events_and_commands_in_stripes_order(
    signed_in: TestClient, seeded: Seeded
) -> None:
    page = signed_in.get(f"/ops/accounts/{ACCT}")
    assert page.status_code == 200
    html = page.text
    positions = [html.index(e) for e in seeded.account_events]
    assert positions == sorted(positions)  # created order
    assert html.index(seeded.command_id) > positions[-1]  # created now, after the events
    assert 'data-testid="billing-status">active<' in html
    for shown in ("sub_console", "in_con1", "in_con2", "pm_con", CUS):
        assert shown in html
    assert "billing@example.nl" not in html and "Jan Jansen" not in html
    assert signed_in.get("/ops/accounts/org_none").status_code == 404
    assert signed_in.get("/ops/accounts", params={"account_ref": ACCT}).url.path.endswith(ACCT)


def test_commands_list_detail_and_retry(signed_in: TestClient, seeded: Seeded, db: Engine) -> None:
    listed = signed_in.get("/ops/commands", params={"status": "dead"}).text
    assert seeded.command_id in listed
    detail = signed_in.get(f"/ops/commands/{seeded.command_id}").text
    assert 'data-testid="command-status">dead<' in detail
    csrf = csrf_of(detail)
    url = f"/ops/commands/{seeded.command_id}/retry"
    assert signed_in.post(url, data={"csrf_token": csrf, "reason": ""}).status_code == 422
    done = signed_in.post(url, data={"csrf_token": csrf, "reason": "stripe is back"})
    assert done.status_code == 200 and "Re-queued" in done.text
    with db.connect() as conn:
        status = conn.execute(
            text("SELECT status FROM commands WHERE id = :i"), {"i": seeded.command_id}
        ).scalar()
        reason = conn.execute(text("SELECT reason FROM replay_audit")).scalar()
    assert status == "queued" and reason == "stripe is back"
    again = signed_in.post(url, data={"csrf_token": csrf, "reason": "again"})
    assert again.status_code == 409


def test_bad_input_gets_a_page_not_a_500(signed_in: TestClient) -> None:
    for path in ("/ops/events/%00x", "/ops/replays/99999999999", "/ops/commands/x%20y"):
        assert signed_in.get(path).status_code == 404, path
    big = signed_in.post("/ops/logout", content=b"a=" + b"x" * 20_000)
    assert big.status_code == 413


def test_an_account_known_only_by_its_commands_still_has_a_timeline(
    signed_in: TestClient, db: Engine
) -> None:
    body = {"type": "customer.ensure", "account_ref": "org_new", "params": {}}
    headers = {"Authorization": f"Bearer {API_TOKEN}", "Idempotency-Key": "new-1"}
    command_id = signed_in.post("/v1/commands", json=body, headers=headers).json()["id"]
    page = signed_in.get("/ops/accounts/org_new")
    assert page.status_code == 200 and command_id in page.text
    assert "not linked yet" in page.text


def test_dead_letters_resolve_in_bulk_like_one_by_one(seeded: Seeded, db: Engine) -> None:
    from domain.ops.queries import resolve_dead_letter, resolve_dead_letters

    with db.connect() as conn:
        first_id = conn.execute(text("SELECT min(id) FROM dead_letters")).scalar_one()
        refs = [str(first_id), *seeded.fixable, "evt_unknown", "99999999999", "bad\x00id", "7"]
        bulk = resolve_dead_letters(conn, refs)
        assert bulk == {ref: resolve_dead_letter(conn, ref) for ref in refs}
    assert bulk[str(first_id)] is not None and bulk["evt_unknown"] is None


def test_a_page_that_fails_answers_the_consoles_error_page_not_json(
    signed_in: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    import ingest.console.overview as overview

    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("bug in a query")

    monkeypatch.setattr(overview, "collect", broken)
    answer = signed_in.get("/ops")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in answer.text and "RuntimeError" in answer.text
    assert answer.headers["x-request-id"] in answer.text
    assert "bug in a query" not in answer.text  # the message stays in the log

    def gone(*_args: object, **_kw: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(overview, "collect", gone)
    answer = signed_in.get("/ops")
    assert answer.status_code == 503 and "Database unavailable" in answer.text
