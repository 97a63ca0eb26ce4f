"""payment_method.attach, .detach, .set_default."""

from __future__ import annotations

from domain.commands.params import PaymentMethodAttach, PaymentMethodRef
from workers.commands.context import ExecContext, MirrorWrite, Outcome, command_error, ref_id
from workers.stripe_gateway import Obj


def _set_default(ctx: ExecContext, customer_id: str, pm_id: str) -> Obj:
    return ctx.gateway.update_customer(
        customer_id,
        {"invoice_settings": {"default_payment_method": pm_id}},
        key=ctx.key("default"),
    )


def attach(ctx: ExecContext, p: PaymentMethodAttach) -> Outcome:
    """Attach to the account's customer (a declined card fails here with its decline code)."""
    customer_id = ctx.require_customer()
    pm = ctx.gateway.attach_payment_method(
        p.payment_method_id, {"customer": customer_id}, key=ctx.key("attach")
    )
    writes = [MirrorWrite("payment_method.attached", pm)]
    if p.set_default:
        writes.append(MirrorWrite("customer.updated", _set_default(ctx, customer_id, pm["id"])))
    return Outcome(
        {"payment_method_id": pm["id"], "customer_id": customer_id, "default": p.set_default},
        writes,
    )


def _owned(ctx: ExecContext, pm_id: str, *, detached_ok: bool = False) -> tuple[str, Obj]:
    """(customer id, payment method) after checking it is attached to the account's customer
    (or, with `detached_ok`, to nobody)."""
    customer_id = ctx.require_customer()
    pm = ctx.gateway.retrieve_payment_method(pm_id)
    owner = ref_id(pm.get("customer"))
    if owner != customer_id and not (detached_ok and owner is None):
        raise command_error("payment_method_not_found", "no such payment method on this account")
    return customer_id, pm


def detach(ctx: ExecContext, p: PaymentMethodRef) -> Outcome:
    """Detach a payment method of this account (never another account's)."""
    customer_id, pm = _owned(ctx, p.payment_method_id, detached_ok=True)
    if pm.get("customer") is None:  # a retry after the detach went through: already done
        return Outcome({"payment_method_id": pm["id"], "customer_id": customer_id})
    detached = ctx.gateway.detach_payment_method(pm["id"], key=ctx.key("detach"))
    write = MirrorWrite("payment_method.detached", detached, {"customer": customer_id})
    return Outcome({"payment_method_id": pm["id"], "customer_id": customer_id}, [write])


def set_default(ctx: ExecContext, p: PaymentMethodRef) -> Outcome:
    """Make an attached payment method the default for invoices."""
    customer_id, pm = _owned(ctx, p.payment_method_id)
    customer = _set_default(ctx, customer_id, pm["id"])
    return Outcome(
        {"payment_method_id": pm["id"], "customer_id": customer_id, "default": True},
        [MirrorWrite("customer.updated", customer)],
    )
