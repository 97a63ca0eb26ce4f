"""customer.ensure and customer.update_billing_details."""

from __future__ import annotations

import structlog

from domain.commands.params import CustomerEnsure, CustomerUpdateBillingDetails
from workers.commands.context import ExecContext, MirrorWrite, Outcome
from workers.stripe_gateway import Obj, StripeFailure

log = structlog.get_logger("workers.commands")


def ensure_customer(
    ctx: ExecContext, email: str | None = None, name: str | None = None
) -> tuple[str, bool]:
    """The account's customer id, creating (and linking) the customer if there is none.

    Commands of one account run one at a time, so the second ensure sees the link the first
    one wrote; a retried ensure replays its own create under the same idempotency key. So an
    account never gets two customers, however many ensures race. When the mirror knows no
    customer (a restored or rebuilt database), Stripe is searched by `metadata.account_ref`
    before anything is created.
    """
    existing = ctx.customer_id() or _find_by_account_ref(ctx)
    if existing is not None:
        return existing, False
    # Created under the command's idempotency key: a retried ensure replays this create
    # (search could not stand in for that: it lags writes and may be unavailable).
    params: Obj = {"metadata": {"account_ref": ctx.account_ref}}
    if email:
        params["email"] = email
    if name:
        params["name"] = name
    customer = ctx.gateway.create_customer(params, key=ctx.key("customer"))
    ctx.link_customer(customer["id"])
    return customer["id"], True


def account_ref_query(account_ref: str) -> str:
    """Stripe search query for customers tagged with this account (quotes escaped)."""
    escaped = account_ref.replace("\\", "\\\\").replace("'", "\\'")
    return f"metadata['account_ref']:'{escaped}'"


_UNAVAILABLE_WORDS = ("not available", "unavailable", "not supported", "not enabled")


def search_unavailable(error: Obj) -> bool:
    """True when Stripe says Customer Search cannot be used here (not that the call failed).

    Stripe does not offer search everywhere (not to accounts in some regions, e.g. India):
    the answer is a 404 for the endpoint, or a 400 `invalid_request_error` saying search is
    not available or not supported. Anything else (an invalid query, a key without the
    permission, an authentication error) is a real failure.
    """
    if error.get("http_status") == 404:
        return True
    message = str(error.get("message") or "").lower()
    return (
        error.get("http_status") == 400
        and error.get("type") == "invalid_request_error"
        and "search" in message
        and any(words in message for words in _UNAVAILABLE_WORDS)
    )


def _search(ctx: ExecContext) -> list[Obj] | None:
    """Stripe's customers tagged with the account, or None when search cannot answer.

    Unavailable search (see `search_unavailable`) answers None at once. A transient failure
    (5xx, 429, network) is raised, so the command retries like any other, except on its
    last attempt: then search no longer holds creation back. Other errors are raised.
    """
    try:
        return ctx.gateway.search_customers(account_ref_query(ctx.account_ref))
    except StripeFailure as failure:
        if search_unavailable(failure.error):
            log.warning("customer.search_unavailable", http_status=failure.error.get("http_status"))
            return None
        if failure.transient and ctx.final_attempt:
            log.warning("customer.search_failed_creating", error_type=failure.error.get("type"))
            return None
        raise


def _find_by_account_ref(ctx: ExecContext) -> str | None:
    """A customer Stripe already has for the account, linked to the mirror if found.

    The search index lags writes by up to a minute, so it cannot stand in for the
    idempotency key (a retried create still relies on that); it catches customers made long
    ago that the mirror has forgotten. Several matches mean an earlier duplicate: the oldest
    is the one to keep, deterministically.
    """
    found = _search(ctx)
    if found is None:
        return None
    found = [c for c in found if (c.get("metadata") or {}).get("account_ref") == ctx.account_ref]
    if not found:
        return None
    customer_id = str(min(found, key=lambda c: (c.get("created") or 0, c["id"]))["id"])
    ctx.link_customer(customer_id)
    log.info("customer.found_by_search", customer_id=customer_id, matches=len(found))
    return customer_id


def ensure(ctx: ExecContext, p: CustomerEnsure) -> Outcome:
    """Get or create the Stripe customer of the account."""
    customer_id, created = ensure_customer(ctx, p.email, p.name)
    return Outcome({"customer_id": customer_id, "created": created})


def _customer_params(p: CustomerUpdateBillingDetails) -> Obj:
    params: Obj = {}
    # Metadata too: the mirror (and anyone reading the customer) finds them there by name.
    metadata = {
        k: v
        for k, v in (
            ("company_name", p.company_name),
            ("vat_number", p.vat_number),
            ("kvk_number", p.kvk_number),
        )
        if v is not None
    }
    if p.company_name is not None:
        params["name"] = p.company_name
    if p.email is not None:
        params["email"] = p.email
    if p.address is not None:
        params["address"] = p.address.model_dump(exclude_none=True)
    if metadata:
        params["metadata"] = metadata
    return params


def update_billing_details(ctx: ExecContext, p: CustomerUpdateBillingDetails) -> Outcome:
    """Update name, e-mail, address and KVK, and make the VAT number the customer's eu_vat id."""
    customer_id, _ = ensure_customer(ctx)
    # Tax id first: a VAT number Stripe refuses fails the command before anything changed.
    tax_id = _replace_vat(ctx, customer_id, p.vat_number) if p.vat_number else None
    customer = ctx.gateway.update_customer(customer_id, _customer_params(p), key=ctx.key("update"))
    return Outcome(
        {"customer_id": customer_id, "tax_id": tax_id},
        [MirrorWrite("customer.updated", customer)],
    )


def _replace_vat(ctx: ExecContext, customer_id: str, vat: str) -> str:
    """Keep exactly one eu_vat tax id, with this value (a retry finds it already there)."""
    existing = [t for t in ctx.gateway.list_tax_ids(customer_id) if t.get("type") == "eu_vat"]
    keep = next((t["id"] for t in existing if t.get("value") == vat), None)
    if keep is None:
        created = ctx.gateway.create_tax_id(
            customer_id, {"type": "eu_vat", "value": vat}, key=ctx.key("tax_id")
        )
        keep = created["id"]
    for old in existing:
        if old["id"] != keep:
            ctx.gateway.delete_tax_id(customer_id, old["id"])
    return str(keep)
