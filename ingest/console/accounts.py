"""Account timeline: one account_ref's events and commands in Stripe's order, and its
current mirror state (billing status, subscriptions, invoices, payment methods, credits),
read with the read API's own queries. Customer details stay out (personal data)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.credits import ledger
from domain.input_types import is_ident
from domain.mirror import reads
from domain.mirror.account_status import account_status
from domain.mirror.families import invoices, listing_of, payment_methods, subscriptions
from domain.ops.timeline import timeline
from domain.types import utcnow
from ingest.console.pages import page, problem, render
from ingest.read_shapes import account_out

ROWS = 20
# What the console shows of each family's rows: ids, statuses, amounts; no personal text.
SECTIONS: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
    (
        "Subscriptions",
        subscriptions.FAMILY,
        ("id", "status", "plan_tier", "plan_interval", "current_period_end"),
    ),
    (
        "Invoices",
        invoices.FAMILY,
        ("id", "status", "amount_due", "amount_paid", "currency", "billing_reason"),
    ),
    (
        "Payment methods",
        payment_methods.FAMILY,
        ("id", "status", "type", "card_brand", "card_last4", "card_exp_year"),
    ),
)


def _state(session: Session, account_ref: str, grace_days: int) -> dict[str, Any] | None:
    account = reads.find_account(session, account_ref)
    balance = ledger.balance_of(session, account_ref)
    customer = account.stripe_customer_id if account else None
    history = timeline(session.connection(), account_ref, customer)
    if account is None and balance is None and not history:
        return None  # nothing anywhere names this account
    billing = None
    if account is not None:
        now = utcnow()
        status = account_status(session, account_ref, grace_days=grace_days, now=now)
        if status is not None:
            billing = account_out(account, status, now).billing
    sections = []
    for title, family, columns in SECTIONS:
        listing = listing_of(family)
        if listing.paginated:
            rows = list(reads.list_page(session, listing, customer, limit=ROWS).items)
        else:
            rows = reads.list_all(session, listing, customer, status=None)[:ROWS]
        shown = [[(c, r._mapping.get(c)) for c in columns if c in r._mapping] for r in rows]
        sections.append({"title": title, "rows": shown})
    return {
        "customer_id": customer,
        "billing": billing,
        "sections": sections,
        "credits": balance,
        "timeline": history,
    }


@page
async def find_account(request: Request) -> Response:
    """GET /ops/accounts?account_ref=: the search box's target."""
    ref = request.query_params.get("account_ref", "").strip()
    if not ref:
        return render(request, "accounts.html", {})
    if not is_ident(ref):
        return problem(request, 422, "Bad account_ref", "not a valid account_ref")
    return RedirectResponse(f"/ops/accounts/{ref}", status_code=303)


@page
async def show_account(request: Request) -> Response:
    """GET /ops/accounts/{account_ref}."""
    ref = request.path_params["account_ref"]
    if not is_ident(ref):
        return problem(request, 404, "No such account", "no billing account with this ref")
    grace = request.app.state.settings.entitlement_grace_days

    def run() -> dict[str, Any] | None:
        with Session(request.app.state.engine) as session:
            return _state(session, ref, grace)

    found = await run_in_threadpool(run)
    if found is None:
        return problem(request, 404, "No such account", "no billing account with this ref")
    return render(request, "account.html", {"account_ref": ref, **found})
