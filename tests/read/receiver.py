"""A local HTTP receiver for notifications: records every POST, answers a scripted status."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from ingest.signature import verify

NOTIFY_SECRET = "notify-secret-0123456789abcdef"


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    def verify(self, secret: str = NOTIFY_SECRET) -> None:
        """Raise unless X-Billing-Signature signs the raw body with `secret` (Stripe's scheme)."""
        verify(self.body, self.headers.get("x-billing-signature"), [secret.encode()])


class Receiver:
    """Answers the next scripted status per request (then `default`), optionally slowly."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.default = 200
        self.delay = 0.0
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.script.pop(0) if receiver.script else receiver.default
                time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/billing-hook"

    def ids(self) -> list[int]:
        with self.lock:
            return [r.json["id"] for r in self.requests]


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def notify_env(receiver: Receiver) -> dict[str, str]:
    """Settings that point delivery at the receiver, with fast retries."""
    return {
        "NOTIFY_URL": receiver.url,
        "NOTIFY_SECRET": NOTIFY_SECRET,
        "NOTIFY_MAX_ATTEMPTS": "4",
        "NOTIFY_RETRY_BASE_SECONDS": "0.2",
        "NOTIFY_RETRY_CAP_SECONDS": "1",
        "NOTIFY_TIMEOUT_SECONDS": "2",
    }


def notify_overrides(receiver: Receiver) -> dict[str, Any]:
    return {k.lower(): v for k, v in notify_env(receiver).items()}
