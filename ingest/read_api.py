"""The read API (`read` scope): an account's billing state and the notifications feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.mirror import reads
from domain.mirror.account_status import account_status
from domain.mirror.delivery import list_notifications, notification_body
from domain.mirror.tables import BillingAccount
from domain.types import utcnow
from ingest.auth import require_scope
from ingest.inputs import parse_query, path_id
from ingest.read_docs import register_read_operations
from ingest.read_queries import (
    InvoiceQuery,
    NotificationQuery,
    PaymentMethodQuery,
    SubscriptionQuery,
)
from ingest.read_shapes import account_out, invoice_out, payment_method_out, subscription_out
from ingest.responses import ORJSONResponse, error

T = TypeVar("T")

register_read_operations()


class _NotFound(Exception):
    pass


def _not_found() -> Response:
    return error(404, "account_not_found", "no billing account with this account_ref")


async def _with_account(
    request: Request, work: Callable[[Session, BillingAccount], T]
) -> T | Response:
    """Run `work` in a worker thread with a session and the path's account (404 if none)."""
    ref = path_id(request, "account_ref", "billing account", code="account_not_found")
    engine: Engine = request.app.state.engine

    def run() -> T:
        with Session(engine) as session:
            account = reads.find_account(session, ref)
            if account is None:
                raise _NotFound
            return work(session, account)

    try:
        return await run_in_threadpool(run)
    except _NotFound:
        return _not_found()


def _json(result: Any) -> Response:
    return result if isinstance(result, Response) else ORJSONResponse(result)


@require_scope("read")
async def get_account(request: Request) -> Response:
    """GET /v1/accounts/{account_ref}: billing status and customer details."""
    grace_days = request.app.state.settings.entitlement_grace_days

    def work(session: Session, account: BillingAccount) -> dict[str, Any]:
        now = utcnow()
        status = account_status(session, account.account_ref or "", grace_days=grace_days, now=now)
        assert status is not None  # the account was just found in this session
        return account_out(account, status, now).model_dump(mode="json")

    return _json(await _with_account(request, work))


@require_scope("read")
async def get_subscriptions(request: Request) -> Response:
    """GET /v1/accounts/{account_ref}/subscriptions."""
    query = parse_query(SubscriptionQuery, request)

    def work(session: Session, account: BillingAccount) -> dict[str, Any]:
        page = reads.list_subscriptions(
            session,
            account.stripe_customer_id,
            status=query.status,
            limit=query.limit,
            cursor=query.cursor,
        )
        items = reads.items_of(session, [s.id for s in page.items])
        return {
            "data": [subscription_out(s, items[s.id]).model_dump(mode="json") for s in page.items],
            "has_more": page.next_cursor is not None,
            "next_cursor": page.next_cursor,
        }

    return _json(await _with_account(request, work))


@require_scope("read")
async def get_invoices(request: Request) -> Response:
    """GET /v1/accounts/{account_ref}/invoices."""
    query = parse_query(InvoiceQuery, request)

    def work(session: Session, account: BillingAccount) -> dict[str, Any]:
        page = reads.list_invoices(
            session,
            account.stripe_customer_id,
            status=query.status,
            limit=query.limit,
            cursor=query.cursor,
        )
        return {
            "data": [invoice_out(i).model_dump(mode="json") for i in page.items],
            "has_more": page.next_cursor is not None,
            "next_cursor": page.next_cursor,
        }

    return _json(await _with_account(request, work))


@require_scope("read")
async def get_payment_methods(request: Request) -> Response:
    """GET /v1/accounts/{account_ref}/payment-methods."""
    query = parse_query(PaymentMethodQuery, request)

    def work(session: Session, account: BillingAccount) -> dict[str, Any]:
        found = reads.list_payment_methods(session, account.stripe_customer_id, status=query.status)
        return {"data": [payment_method_out(pm).model_dump(mode="json") for pm in found]}

    return _json(await _with_account(request, work))


@require_scope("read")
async def get_notifications(request: Request) -> Response:
    """GET /v1/notifications?after=<id>&limit=: the outbox, oldest first after the cursor."""
    query = parse_query(NotificationQuery, request)
    engine: Engine = request.app.state.engine

    def run() -> dict[str, Any]:
        with Session(engine) as session:
            rows = list_notifications(
                session, after=query.after, limit=query.limit + 1, account_ref=query.account_ref
            )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        data = [{**notification_body(n), "delivery_status": n.delivery_status.value} for n in rows]
        return {
            "data": data,
            "has_more": more,
            # Unchanged when empty, so a poller can always pass back what it got.
            "next_cursor": rows[-1].id if rows else query.after,
        }

    return ORJSONResponse(await run_in_threadpool(run))


READ_ROUTES = [
    Route("/v1/accounts/{account_ref}", get_account, methods=["GET"]),
    Route("/v1/accounts/{account_ref}/subscriptions", get_subscriptions, methods=["GET"]),
    Route("/v1/accounts/{account_ref}/invoices", get_invoices, methods=["GET"]),
    Route("/v1/accounts/{account_ref}/payment-methods", get_payment_methods, methods=["GET"]),
    Route("/v1/notifications", get_notifications, methods=["GET"]),
]
