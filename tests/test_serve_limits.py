"""`billing serve` (what the Procfile and docker-compose run) bounds request headers before
the app sees them, and a client hanging up mid-body is an info line and a counter."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from ingest.server import MAX_HEADER_BYTES, MAX_HEADER_FIELDS
from ingest.signature import MAX_HEADER_LENGTH
from tests.support.env import API_TOKEN, service_env
from tests.support.processes import Proc, free_port, wait_until

pytestmark = pytest.mark.slow


class Server:
    def __init__(self, proc: Proc, port: int) -> None:
        self.proc = proc
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def raw(self, request: bytes, read: bool = True) -> bytes:
        """Send `request` on a fresh connection; what came back before the server closed."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            try:
                sock.sendall(request)
            except (BrokenPipeError, ConnectionResetError):
                return b"<closed while sending>"
            if not read:
                return b""
            chunks = []
            try:
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
                    if b"\r\n\r\n" in b"".join(chunks) and len(chunks) > 0:
                        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                        length = _content_length(head)
                        if length is not None and len(body) >= length:
                            break
            except ConnectionResetError:
                pass
            return b"".join(chunks)

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for line in self.proc.output().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
        return lines


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return None


@pytest.fixture(scope="module")
def server(pg_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    log_dir: Path = tmp_path_factory.mktemp("serve")
    proc = Proc(
        [sys.executable, "-m", "workers.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        service_env(),
        log_dir / "serve.log",
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_until(up, 30):
        proc.stop()
        raise RuntimeError(f"billing serve did not start:\n{proc.output()}")
    yield Server(proc, port)
    proc.stop()


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _webhook(headers: bytes) -> bytes:
    return (
        b"POST /webhooks/stripe HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n" + headers + b"\r\n{}"
    )


def test_a_header_block_over_the_bound_gets_431_json(server: Server) -> None:
    big = b"X-Padding: " + b"p" * MAX_HEADER_BYTES + b"\r\n"
    response = server.raw(_webhook(big))
    assert _status(response) == 431
    body = orjson.loads(response.partition(b"\r\n\r\n")[2])
    assert body["error"] == "headers_too_large"


def test_too_many_header_fields_get_431(server: Server) -> None:
    many = b"".join(b"X-F%d: v\r\n" % i for i in range(MAX_HEADER_FIELDS + 1))
    assert _status(server.raw(_webhook(many))) == 431


def test_a_huge_streamed_header_is_cut_off_before_it_is_read_whole(server: Server) -> None:
    # 40 MB of one Stripe-Signature header: refused once past the bound, so the sender sees
    # an answer (or the connection closed) long before it gets to send the end.
    start = b"POST /webhooks/stripe HTTP/1.1\r\nHost: t\r\nStripe-Signature: t=1"
    request = start + b",v1=00" * (40_000_000 // 6) + b"\r\nContent-Length: 2\r\n\r\n{}"
    response = server.raw(request)
    assert response == b"<closed while sending>" or _status(response) == 431
    assert not [e for e in server.log_lines() if str(e.get("event", "")).startswith("webhook.")]
    assert httpx.get(f"{server.base}/healthz", timeout=5).status_code == 200


def test_headers_within_the_bound_reach_the_app(server: Server) -> None:
    signature = b"Stripe-Signature: t=1," + b"v0=0," * ((MAX_HEADER_LENGTH + 100) // 5) + b"\r\n"
    assert len(signature) < MAX_HEADER_BYTES
    response = server.raw(_webhook(signature))
    assert _status(response) == 400
    body = orjson.loads(response.partition(b"\r\n\r\n")[2])
    assert body["error"] == "invalid_signature_header"  # the app's own bound answered


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        pytest.param(b"/webhooks/stripe", b"Stripe-Signature: t=1,v1=00\r\n", id="webhook"),
        pytest.param(
            b"/v1/commands",
            b"Authorization: Bearer " + API_TOKEN.encode() + b"\r\nIdempotency-Key: k1\r\n",
            id="commands",
        ),
    ],
)
def test_a_client_hanging_up_mid_body_is_an_info_line_and_a_counter(
    server: Server, path: bytes, extra: bytes
) -> None:
    route = path.decode()
    sample = f'billing_http_client_disconnects_total{{route="{route}"}}'

    def disconnects() -> float:
        for line in httpx.get(f"{server.base}/metrics", timeout=10).text.splitlines():
            if line.startswith(sample):
                return float(line.split()[-1])
        return 0.0

    before = disconnects()
    request = b"POST " + path + b" HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n" + extra
    server.raw(request + b'Content-Type: application/json\r\n\r\n{"partial', read=False)
    assert wait_until(lambda: disconnects() == before + 1, 10), server.proc.output()[-3000:]
    lines = [e for e in server.log_lines() if e.get("event") == "http.client_disconnected"]
    assert lines and lines[-1]["level"] == "info" and lines[-1]["route"] == route
    errors = [e for e in server.log_lines() if e.get("level") in {"error", "critical"}]
    assert errors == []
    assert "Traceback" not in server.proc.output()
