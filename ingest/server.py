"""How the app is served: uvicorn options shared by `billing serve` and `billing dev`, and an
HTTP protocol that bounds request headers.

uvicorn's default parser (httptools, on llhttp) sets no limit on the request line and the
headers: it buffers a header value until its end, so one client can make a worker hold and
parse tens of megabytes per connection before the app sees anything (8 parallel 40 MB
headers: ~300 MB peak RSS). h11 has a limit (`h11_max_incomplete_event_size`) but parses in
pure Python. `HeaderLimitedHttpToolsProtocol` keeps httptools and counts what arrives while
a request's headers are incomplete; past `MAX_HEADER_BYTES`, or `MAX_HEADER_FIELDS` fields,
it answers 431 and closes the connection. `bench/ingest.py --compare-http` measures its cost.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import structlog
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ingest import metrics

log = structlog.get_logger("ingest.server")

# Request line plus headers. Stripe's requests carry a few hundred bytes; browsers and
# proxies stay well under 16 KiB. nginx's default ceiling is 32 KiB, so is ours.
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADER_FIELDS = 100

PROTOCOL = "ingest.server:HeaderLimitedHttpToolsProtocol"


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` that every way of serving the app uses."""
    return {
        "http": PROTOCOL,
        # The same bound for anyone who runs it with --http h11.
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "log_config": None,
        "access_log": False,
    }


class _HeaderLimit(Exception):
    """Raised inside a parser callback; httptools turns it into a parser error."""


class HeaderLimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on header bytes and header fields.

    The parser's callbacks run for every request, so the checks cost a few attribute
    updates per read and per request (no per-header callback): `bench/headers.py` measures.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._max_header_bytes = config.h11_max_incomplete_event_size or MAX_HEADER_BYTES
        self._in_headers = True
        # Bytes read while the current request's headers were incomplete: a lower bound of
        # their size (bounds what httptools buffers) ...
        self._streamed = 0
        # ... and an upper bound (it also counts the rest of the read that ended the
        # previous request), which spares the exact count for nearly every request.
        self._received = 0
        self._last_read = 0
        self._refused: str | None = None

    def data_received(self, data: bytes) -> None:
        self._last_read = len(data)
        if self._in_headers:
            self._streamed += self._last_read
            self._received += self._last_read
        super().data_received(data)
        if self._in_headers and self._streamed > self._max_header_bytes:
            self._refuse("too_large")

    def on_headers_complete(self) -> None:
        self._in_headers = False
        if len(self.headers) > MAX_HEADER_FIELDS:
            self._refused = "too_many"
            raise _HeaderLimit
        if self._received > self._max_header_bytes and self._header_size() > self._max_header_bytes:
            self._refused = "too_large"
            raise _HeaderLimit
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_headers = True
        self._streamed = 0
        self._received = self._last_read

    def _header_size(self) -> int:
        return len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)

    def send_400_response(self, msg: str) -> None:
        if self._refused is not None:
            self._refuse(self._refused)
            return
        super().send_400_response(msg)

    def _refuse(self, reason: str) -> None:
        if self.transport.is_closing():
            return
        self._in_headers = False  # nothing more is counted or answered on this connection
        message = (
            f"request headers exceed {self._max_header_bytes} bytes"
            if reason == "too_large"
            else f"more than {MAX_HEADER_FIELDS} request header fields"
        )
        log.info("http.headers_refused", reason=reason)
        metrics.HEADERS_REFUSED.labels(reason).inc()
        body = orjson.dumps({"error": "headers_too_large", "message": message})
        head = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
