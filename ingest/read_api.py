"""The read API (`read` scope): an account's billing state, its rows of each listed family, and
the notifications feed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.mirror import reads
from domain.mirror.account_read import account_plan
from domain.mirror.delivery import list_notifications, notification_body
from domain.mirror.families import (
    ACCOUNT,
    ADDED,
    credit_grants,
    credit_notes,
    invoices,
    listing_of,
    payment_methods,
    payments,
    schedules,
    setup_intents,
    subscriptions,
)
from domain.mirror.families._family import Family
from domain.mirror.tables import BillingAccount
from domain.types import utcnow
from ingest.auth import require_scope
from ingest.inputs import parse_query, path_id
from ingest.read_account import PgAccountReader, run_plan
from ingest.read_docs import register_listing, register_read_operations
from ingest.read_models import account_model, listing_body
from ingest.read_pool import ReadPool
from ingest.read_queries import NotificationQuery, listing_query
from ingest.read_shapes import account_body
from ingest.responses import ORJSONResponse, error

T = TypeVar("T")

ACCOUNT_FIELDS = ADDED.get(ACCOUNT, {})  # what other families add to the account answer
AccountBody = account_model(ACCOUNT_FIELDS)
register_read_operations(AccountBody)
PLAN = account_plan(ACCOUNT_FIELDS)  # the answer's selects, compiled once per reader


class _NotFound(Exception):
    pass


def _not_found() -> Response:
    return error(404, "account_not_found", "no billing account with this account_ref")


async def _with_account(
    request: Request, work: Callable[[Session, BillingAccount], T]
) -> T | Response:
    """Run `work` in a read thread with a session and the path's account (404 if none)."""
    ref = path_id(request, "account_ref", "billing account", code="account_not_found")
    pool: ReadPool = request.app.state.reads

    def run(session: Session) -> T:
        account = reads.find_account(session, ref)
        if account is None:
            raise _NotFound
        return work(session, account)

    try:
        return await pool.run(run)
    except _NotFound:
        return _not_found()


def _json(result: Any) -> Response:
    return result if isinstance(result, Response) else ORJSONResponse(result)


@require_scope("read")
async def get_account(request: Request) -> Response:
    """GET /v1/accounts/{account_ref}: billing status and customer details, from one round
    trip on Postgres (ingest/read_account.py), without pydantic."""
    ref = path_id(request, "account_ref", "billing account", code="account_not_found")
    grace_days = request.app.state.settings.entitlement_grace_days
    reader: PgAccountReader | None = getattr(request.app.state, "account_reader", None)
    if reader is not None:
        found = await reader.fetch(ref)
    else:
        pool: ReadPool = request.app.state.reads
        found = await pool.run(lambda session: run_plan(session.connection(), PLAN.statements, ref))
    now = utcnow()
    facts = PLAN.facts(found, grace_days=grace_days, now=now)
    if facts is None:
        return _not_found()
    body = orjson.dumps(account_body(facts, now), option=orjson.OPT_UTC_Z)
    return Response(body, media_type="application/json")


def family_route(family: Family[Any, Any, Any]) -> Route:
    """GET /v1/accounts/{account_ref}/<family name>: the family's rows of the account,
    validated, shaped and documented from the family's `listing`."""
    listing = listing_of(family)  # with the fields other families add to its rows
    path = f"/v1/accounts/{{account_ref}}/{family.name}"
    query_model = listing_query(listing)
    register_listing(path, listing.summary, listing_body(listing), query_model)
    shape = listing.shape

    def rows_out(session: Session, rows: Sequence[Any]) -> list[Any]:
        children = {
            name: reads.children_of(session, child, [r.id for r in rows])
            for name, child in shape.children.items()
        }
        related = shape.load_related(session, rows)
        return [
            shape.shape(r, {name: found[r.id] for name, found in children.items()}, related)
            for r in rows
        ]

    @require_scope("read")
    async def get_rows(request: Request) -> Response:
        query: Any = parse_query(query_model, request)
        status = getattr(query, "status", None)

        def work(session: Session, account: BillingAccount) -> dict[str, Any]:
            customer = account.stripe_customer_id
            if not listing.paginated:
                found = reads.list_all(session, listing, customer, status=status)
                return {"data": rows_out(session, found)}
            page = reads.list_page(
                session, listing, customer, status=status, limit=query.limit, cursor=query.cursor
            )
            return {
                "data": rows_out(session, page.items),
                "has_more": page.next_cursor is not None,
                "next_cursor": page.next_cursor,
            }

        return _json(await _with_account(request, work))

    get_rows.__name__ = get_rows.__qualname__ = f"get_{family.name.replace('-', '_')}"
    return Route(path, get_rows, methods=["GET"])


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
    # One line per family the read API lists (its declaration says what and how).
    family_route(subscriptions.FAMILY),
    family_route(invoices.FAMILY),
    family_route(payment_methods.FAMILY),
    family_route(credit_notes.FAMILY),
    family_route(schedules.FAMILY),
    family_route(setup_intents.FAMILY),
    family_route(payments.FAMILY),
    family_route(payments.REFUNDS_FAMILY),
    family_route(payments.DISPUTES_FAMILY),
    family_route(credit_grants.FAMILY),
    Route("/v1/notifications", get_notifications, methods=["GET"]),
]
