"""The read benchmark's baseline: one hand-written SELECT by account_ref per request.

Raw ASGI, a few warm psycopg async connections, orjson: what answering "is this account
paying?" costs at least in Python on one web worker. Run with uvicorn
`bench.read_baseline_app:app` (DATABASE_URL in the environment).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
import psycopg

from ingest.gate_pg import libpq_conninfo

SQL = (
    "SELECT account_ref, stripe_customer_id, email, name, country, currency, deleted "
    "FROM billing_accounts WHERE account_ref = %s"
)
PREFIX = "/v1/accounts/"
CONNECTIONS = 4
_pool: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None


async def _connections() -> asyncio.Queue[psycopg.AsyncConnection[Any]]:
    global _pool
    if _pool is None:
        pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        for _ in range(CONNECTIONS):
            conninfo = libpq_conninfo(os.environ["DATABASE_URL"])
            pool.put_nowait(await psycopg.AsyncConnection.connect(conninfo, autocommit=True))
        _pool = pool
    return _pool


async def _send(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path: str = scope["path"]
    if path == "/healthz":
        await _send(send, 200, b'{"status":"ok"}')
        return
    if not path.startswith(PREFIX):
        await _send(send, 404, b'{"error":"not_found"}')
        return
    pool = await _connections()
    conn = await pool.get()
    try:
        cur = await conn.execute(SQL, (path[len(PREFIX) :],))
        row = await cur.fetchone()
    finally:
        pool.put_nowait(conn)
    if row is None:
        await _send(send, 404, b'{"error":"account_not_found"}')
        return
    names = ("account_ref", "stripe_customer_id", "email", "name", "country", "currency")
    await _send(send, 200, orjson.dumps({**dict(zip(names, row, strict=False)), "deleted": row[6]}))
