"""What the edge's defences cost per request, measured in isolation (CPU time, in-process).

End-to-end A/B runs of bench/ingest.py (`--compare ...`) on the shared 2-core machine swing
more than these costs; this measures each one directly, best of 5 alternating rounds:

- the edge middleware (request id, structlog context, JSON error answers) around a minimal
  route, called as ASGI in-process, vs the same route without it;
- pre-ping on checkout: a transaction on an engine with and without it. Request handlers
  (one checkout per request) have it; the group-commit writer (one checkout per batch, ~4
  events per batch at bench/ingest.py's load) has its own engine without it.

    python -m bench.edge_costs
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.common import machine, namespace_arguments, open_namespace, reset_database
from domain.db import make_engine
from ingest.errors import EdgeErrorsMiddleware

_HEADERS = [
    (b"host", b"billing.example.com"),
    (b"user-agent", b"Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
    (b"content-type", b"application/json; charset=utf-8"),
    (b"stripe-signature", b"t=1767225600,v1=" + b"ab" * 32),
    (b"content-length", b"2"),
]


async def _ok(request: Request) -> Response:
    return Response(b"{}", media_type="application/json")


def _app(middleware: bool) -> Starlette:
    return Starlette(
        routes=[Route("/webhooks/stripe", _ok, methods=["POST"])],
        middleware=[Middleware(EdgeErrorsMiddleware)] if middleware else [],
    )


def middleware_us(middleware: bool, requests: int) -> float:
    """CPU microseconds per request through the app, with or without the edge middleware."""
    app = _app(middleware)

    async def run() -> float:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            pass

        started = time.process_time()
        for _ in range(requests):
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/webhooks/stripe",
                "raw_path": b"/webhooks/stripe",
                "query_string": b"",
                "root_path": "",
                "headers": list(_HEADERS),
                "client": ("127.0.0.1", 5000),
                "server": ("127.0.0.1", 8000),
                "state": {},
            }
            await app(scope, receive, send)  # type: ignore[arg-type]
        return (time.process_time() - started) / requests * 1e6

    return asyncio.run(run())


def checkout_us(url: str, pre_ping: bool, transactions: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per `SELECT 1` transaction on a pooled engine."""
    engine = make_engine(url, pool_size=1, pre_ping=pre_ping)
    try:
        with engine.begin() as conn:  # the pool holds its connection from here on
            conn.exec_driver_sql("SELECT 1")
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(transactions):
            with engine.begin() as conn:
                conn.exec_driver_sql("SELECT 1")
        return (
            (time.perf_counter() - wall) / transactions * 1e6,
            (time.process_time() - cpu) / transactions * 1e6,
        )
    finally:
        engine.dispose()


def _best(rounds: int, measures: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    results: dict[str, list[Any]] = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            results[name].append(measure())
    return {name: min(values) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=2_000)
    namespace_arguments(parser, broker=False)
    args = parser.parse_args()
    open_namespace(args)

    reset_database(args.database_url)
    mw = _best(
        5,
        {
            "without": lambda: middleware_us(False, args.requests),
            "with": lambda: middleware_us(True, args.requests),
        },
    )
    ping = _best(
        5,
        {
            "without": lambda: checkout_us(args.database_url, False, args.transactions),
            "with": lambda: checkout_us(args.database_url, True, args.transactions),
        },
    )
    print(f"edge costs ({machine()}; best of 5 alternating rounds)")
    print(
        f"edge middleware: {mw['with']:.1f} vs {mw['without']:.1f} CPU us per request "
        f"(+{mw['with'] - mw['without']:.1f} us)"
    )
    print(
        f"pre-ping: {ping['with'][0]:.0f} vs {ping['without'][0]:.0f} wall us, "
        f"{ping['with'][1]:.0f} vs {ping['without'][1]:.0f} CPU us per transaction "
        f"(+{ping['with'][0] - ping['without'][0]:.0f} wall, "
        f"+{ping['with'][1] - ping['without'][1]:.0f} CPU us per checkout)"
    )


if __name__ == "__main__":
    main()
