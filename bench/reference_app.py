"""A minimal group-commit webhook, as the reference ours is measured against (issue 14).

What a careful hand-written endpoint does and nothing else: one Starlette route, verify the
Stripe signature (HMAC-SHA256 over `t.body`, constant-time compare), hand the event to one
of two writer threads that INSERT whatever has queued up in one statement (ON CONFLICT DO
NOTHING) and COMMIT durably, answer every waiting request, then RPUSH the new ids to Redis.
No request ids, no log line per event, no metrics, no envelope checks, no size limit.
Run with uvicorn `bench.reference_app:app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import queue
import threading
import time
from typing import Any

import orjson
import psycopg
import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SECRET = os.environ["STRIPE_WEBHOOK_SECRETS"].split(",")[0].encode()
DSN = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
QUEUE_KEY = os.environ.get("BROKER_KEY_PREFIX", "") + "bench_reference"  # the run's namespace
TOLERANCE = 300

# psycopg's pipelined executemany of one prepared statement: much cheaper in CPU than
# binding three text arrays to an unnest() (measured: array dumping was a quarter of the
# reference's profile).
_INSERT = (
    "INSERT INTO bench_reference_events (event_id, type, body) VALUES (%s, %s, %s)"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)

with psycopg.connect(DSN, autocommit=True) as _setup:
    _setup.execute(
        "CREATE TABLE IF NOT EXISTS bench_reference_events "
        "(event_id TEXT PRIMARY KEY, type TEXT NOT NULL, body TEXT NOT NULL)"
    )

Pending = tuple[str, str, str, asyncio.Future[bool], asyncio.AbstractEventLoop]
_pending: queue.SimpleQueue[Pending] = queue.SimpleQueue()


def _answer(future: asyncio.Future[bool], value: bool | BaseException) -> None:
    if future.done():
        return
    if isinstance(value, BaseException):
        future.set_exception(value)
    else:
        future.set_result(value)


def _writer() -> None:
    conn = psycopg.connect(DSN)
    broker = redis.Redis.from_url(os.environ["BROKER_URL"])
    while True:
        batch = [_pending.get()]
        while len(batch) < 500:
            try:
                batch.append(_pending.get_nowait())
            except queue.Empty:
                break
        try:
            new: set[str] = set()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(_INSERT, [b[:3] for b in batch], returning=True)
                while True:
                    row = cur.fetchone()
                    if row is not None:
                        new.add(row[0])
                    if not cur.nextset():
                        break
            outcome: dict[str, bool | BaseException] = {}
            for event_id, *_ in batch:
                outcome[event_id] = event_id in new and event_id not in outcome
        except Exception as exc:
            new, outcome = set(), {b[0]: exc for b in batch}
        for event_id, _, _, future, loop in batch:
            loop.call_soon_threadsafe(_answer, future, outcome[event_id])
        if new:
            with contextlib.suppress(redis.RedisError):  # committed; a sweeper would publish
                broker.rpush(QUEUE_KEY, *new)


for _ in range(2):
    threading.Thread(target=_writer, daemon=True).start()


def _verified(body: bytes, header: str) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - timestamp) > TOLERANCE:
        return False
    expected = hmac.new(SECRET, b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), parts.get("v1", "").encode())


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status, media_type="application/json")


async def webhook(request: Request) -> Response:
    body = await request.body()
    if not _verified(body, request.headers.get("stripe-signature", "")):
        return _json({"error": "bad signature"}, 400)
    try:
        event = orjson.loads(body)
        event_id, event_type = event["id"], event["type"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return _json({"error": "bad event"}, 400)
    loop = asyncio.get_running_loop()
    future: asyncio.Future[bool] = loop.create_future()
    _pending.put((event_id, event_type, body.decode(), future, loop))
    try:
        is_new = await future
    except Exception:
        return _json({"error": "not stored"}, 503)
    return _json({"received": True, "duplicate": not is_new})


async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


app = Starlette(
    routes=[Route("/webhooks/stripe", webhook, methods=["POST"]), Route("/healthz", healthz)]
)
