"""The tutorial webhook, as a baseline: stripe.Webhook.construct_event, one INSERT + COMMIT per
request, and Celery apply_async inline. Run with uvicorn `bench.baseline_app:app`."""

from __future__ import annotations

import os

import stripe
from celery import Celery
from sqlalchemy import create_engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SECRET = os.environ["STRIPE_WEBHOOK_SECRETS"].split(",")[0]
engine = create_engine(os.environ["DATABASE_URL"], pool_size=20, max_overflow=0)
celery = Celery("baseline", broker=os.environ["BROKER_URL"])
celery.conf.task_ignore_result = True
if os.environ.get("BROKER_KEY_PREFIX"):  # the bench run's namespace (bench/common.py)
    celery.conf.broker_transport_options = {"global_keyprefix": os.environ["BROKER_KEY_PREFIX"]}

with engine.begin() as conn:
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS bench_baseline_events "
            "(event_id TEXT PRIMARY KEY, type TEXT NOT NULL, body TEXT NOT NULL)"
        )
    )


def _store_and_enqueue(event_id: str, event_type: str, body: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO bench_baseline_events VALUES (:i, :t, :b) ON CONFLICT DO NOTHING"),
            {"i": event_id, "t": event_type, "b": body},
        )
    celery.send_task("baseline.process", args=[event_id], queue="bench_baseline")


async def webhook(request: Request) -> JSONResponse:
    payload = await request.body()
    try:
        event = stripe.Webhook.construct_event(
            payload, request.headers.get("stripe-signature", ""), SECRET
        )
    except (ValueError, stripe.SignatureVerificationError):
        return JSONResponse({"error": "bad signature"}, status_code=400)
    await run_in_threadpool(_store_and_enqueue, event["id"], event["type"], payload.decode())
    return JSONResponse({"received": True})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[Route("/webhooks/stripe", webhook, methods=["POST"]), Route("/healthz", healthz)]
)
