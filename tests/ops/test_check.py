"""`billing check` reports Stripe reachability: skipped without a key, OK or FAIL with one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import Engine

from workers.checks import run_checks

GOOD_KEY = "sk_test_good_0123456789"


class FakeBalance(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/v1/balance" and self.headers["Authorization"] == f"Bearer {GOOD_KEY}"
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"object": "balance"}' if ok else b'{"error": {}}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_stripe() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), FakeBalance)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def stripe_line(monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[bool, str]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    [result] = [r for r in run_checks() if r.name == "stripe"]
    return result.ok, result.detail


def test_stripe_check(db: Engine, fake_stripe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    assert stripe_line(monkeypatch) == (True, "skipped: STRIPE_API_KEY not set")
    ok, detail = stripe_line(monkeypatch, STRIPE_API_KEY=GOOD_KEY, STRIPE_API_BASE=fake_stripe)
    assert ok and "key accepted" in detail
    ok, detail = stripe_line(monkeypatch, STRIPE_API_KEY="sk_test_wrong_000000")
    assert not ok and "401" in detail
    ok, detail = stripe_line(monkeypatch, STRIPE_API_BASE="http://127.0.0.1:9")
    assert not ok and "ConnectError" in detail
