"""A small asyncio HTTP/1.1 load generator for signed Stripe webhooks (run as its own process).

Closed loop (`--rate 0`): each connection sends as fast as answers come back.
Open loop (`--rate N`): requests are scheduled at fixed times and latency is measured from the
scheduled time, so a stalled server cannot hide its queueing (no coordinated omission).
Prints one JSON object: counts, latencies and the ids of acknowledged events.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

PAD = "x" * 3300  # brings a realistic event to about 4 KB


def make_body(event_id: str) -> bytes:
    return orjson.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(time.time()),
            "type": "invoice.paid",
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {
                "object": {
                    "id": "in_" + event_id[4:],
                    "object": "invoice",
                    "customer": f"cus_bench{event_id[-4:]}",  # 10,000 customers
                    "amount_paid": 2000,
                    "currency": "eur",
                    "status": "paid",
                    "description": PAD,
                }
            },
        }
    )


def make_request(
    path: str, host: str, secret: bytes, event_id: str, body: bytes | None = None
) -> bytes:
    body = make_body(event_id) if body is None else body
    t = int(time.time())
    sig = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Stripe-Signature: t={t},v1={sig}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    secret = args.secret.encode()
    host = f"{args.host}:{args.port}"
    counter = itertools.count()
    latencies: list[float] = []
    acked: list[str] = []
    errors: dict[str, int] = {}
    start = time.perf_counter() + 0.2
    deadline = start + args.duration
    prefix = f"evt_bench{args.run_id}_"
    bodies: list[bytes] = (
        [orjson.dumps(b) for b in orjson.loads(Path(args.bodies).read_bytes())]
        if args.bodies
        else []
    )

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(args.host, args.port)
        try:
            while True:
                i = next(counter)
                scheduled = start + i / args.rate if args.rate else time.perf_counter()
                if scheduled >= deadline or (bodies and i >= len(bodies)):
                    return
                wait = scheduled - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                if bodies:
                    event_id = orjson.loads(bodies[i])["id"]
                    request = make_request(args.path, host, secret, event_id, bodies[i])
                else:
                    event_id = f"{prefix}{i:09d}"
                    request = make_request(args.path, host, secret, event_id)
                sent = scheduled if args.rate else time.perf_counter()
                writer.write(request)
                try:
                    status, body = await read_response(reader)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(args.host, args.port)
                    continue
                latencies.append(time.perf_counter() - sent)
                if status == 200 and b'"received":true' in body.replace(b" ", b""):
                    acked.append(event_id)
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        finally:
            writer.close()

    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    await asyncio.gather(*(connection() for _ in range(args.connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0
        )

    return {
        "requests": len(latencies),
        "acked": len(acked),
        "elapsed_s": elapsed,
        "rate": len(acked) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000 if latencies else 0,
        "errors": errors,
        "acked_ids": acked,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/webhooks/stripe")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rate", type=float, default=0, help="requests/s; 0 = closed loop")
    parser.add_argument("--run-id", default="0")
    parser.add_argument("--bodies", help="JSON file with a list of events to send, in order")
    parser.add_argument("--out", help="write the result document here instead of stdout")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = orjson.dumps(asyncio.run(run(args)))
    if args.out:
        Path(args.out).write_bytes(result)
        return
    os.set_blocking(sys.stdout.fileno(), True)  # the event loop may have left it non-blocking
    sys.stdout.buffer.write(result)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
