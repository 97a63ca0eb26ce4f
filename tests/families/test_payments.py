"""Payments (payment intents, charges, invoice payments): pure rules, no database."""

from __future__ import annotations

from typing import Any

import pytest

from domain.mirror.families import payments
from domain.mirror.families.payments.charges import direct_payment_row, parse_charge
from domain.mirror.families.payments.intents import parse_intent
from domain.mirror.families.payments.invoice_payments import parse_invoice_payment
from domain.mirror.families.payments.shapes import payment_shape
from domain.mirror.families.payments.tables import CHARGES, INVOICE_PAYMENTS, PAYMENTS
from domain.mirror.stripe_json import ApiShape, ViewError
from domain.samples import example_object
from tests.families.support import T, decide, envelope, stamp
from tests.mirror import factory as f
from tests.mirror import factory_payments as p

PI = payments.FAMILY
CH = payments.CHARGES_FAMILY
IP = payments.INVOICE_PAYMENTS_FAMILY


def columns(table: Any) -> set[str]:
    return {c.name for c in table.columns} - {"updated_at"}


# -- parse, both shapes -----------------------------------------------------------------


def test_stripes_example_objects_parse() -> None:
    intent = parse_intent(example_object("payment_intent"))
    assert (intent.id, intent.status, intent.amount, intent.currency) == (
        "pi_1PgafyB7WZ01zgkWSjxsAJo3",
        "requires_payment_method",
        1099,
        "usd",
    )
    assert intent.failure.code == "idempotency_error"  # an error with only its type
    charge = parse_charge(example_object("charge"))
    assert (charge.status, charge.payment_method_type, charge.payment_intent_id) == (
        "succeeded",
        "card",
        None,
    )
    assert charge.receipt_url and charge.receipt_url.startswith("https://")
    link = parse_invoice_payment(example_object("invoice_payment"))
    assert (link.invoice_id, link.currency, link.is_default) == ("invoice", None, True)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_the_invoice_is_named_only_in_the_older_shape(shape: ApiShape) -> None:
    obj = p.payment_intent("pi_1", "cus_1", "succeeded", shape=shape, invoice="in_1")
    view = parse_intent(obj, f.api_version(shape))
    assert view.shape is shape
    assert view.invoice_id == ("in_1" if shape is ApiShape.LEGACY else None)
    ch = parse_charge(p.charge("ch_1", "cus_1", shape=shape, invoice="in_1"), f.api_version(shape))
    assert (ch.shape, ch.invoice_id) == (view.shape, view.invoice_id)


def test_the_payload_decides_the_shape_before_the_api_version() -> None:
    legacy = p.payment_intent("pi_1", None, "succeeded", shape=ApiShape.LEGACY)
    assert payment_shape(legacy, f.api_version(ApiShape.CURRENT)) is ApiShape.LEGACY
    current = p.payment_intent("pi_1", None, "succeeded")
    assert payment_shape(current, f.api_version(ApiShape.LEGACY)) is ApiShape.LEGACY
    assert payment_shape(current, f.api_version(ApiShape.CURRENT)) is ApiShape.CURRENT


def test_an_invoice_payment_links_an_intent_or_a_charge() -> None:
    by_intent = parse_invoice_payment(p.invoice_payment("inpay_1", "in_1", payment_intent="pi_1"))
    assert (by_intent.invoice_id, by_intent.payment_intent_id, by_intent.charge_id) == (
        "in_1",
        "pi_1",
        None,
    )
    by_charge = parse_invoice_payment(p.invoice_payment("inpay_2", "in_2", charge_id="ch_2"))
    assert (by_charge.payment_intent_id, by_charge.charge_id) == (None, "ch_2")


def test_failures_keep_stripes_code_and_message_never_the_card_holder() -> None:
    obj = p.payment_intent("pi_1", "cus_1", "requires_payment_method", error=p.card_error())
    view = parse_intent(obj)
    assert (view.failure.code, view.failure.message) == ("card_declined", "Your card was declined.")
    row = decide(PI, envelope("payment_intent.payment_failed", obj))
    shown = {k: v for k, v in row.items() if k != "raw"}
    assert "Jenny" not in repr(shown) and "example.com" not in repr(shown)
    ch = parse_charge(p.charge("ch_1", "cus_1", "failed", failure=("expired_card", "Expired.")))
    assert (ch.failure.code, ch.failure.message) == ("expired_card", "Expired.")


def test_a_decline_code_stands_in_for_a_missing_code_and_long_messages_are_cut() -> None:
    error = {"type": "card_error", "decline_code": "fraudulent", "message": "x" * 5000}
    view = parse_intent(p.payment_intent("pi_1", None, "requires_payment_method", error=error))
    assert view.failure.code == "fraudulent" and len(view.failure.message or "") == 2000


def test_the_method_type_comes_from_the_expanded_method_or_the_only_type() -> None:
    obj = p.payment_intent("pi_1", None, "processing", method_types=("card", "sepa_debit"))
    assert parse_intent(obj).payment_method_type is None
    obj["payment_method"] = {"id": "pm_1", "type": "sepa_debit"}
    assert parse_intent(obj).payment_method_type == "sepa_debit"
    obj = p.payment_intent("pi_1", None, "processing", method_types=("ideal",))
    assert parse_intent(obj).payment_method_type == "ideal"


def test_odd_payloads() -> None:
    with pytest.raises(ViewError):
        parse_intent({"id": "pi_1", "amount": 5})  # no currency: nothing to show
    with pytest.raises(ViewError):
        parse_charge({"currency": "eur"})  # no id
    odd = parse_intent({"id": "pi_1", "currency": "EUR", "status": "teleporting", "amount": True})
    assert (odd.status, odd.amount, odd.currency) == ("teleporting", 0, "eur")
    old = parse_charge({"id": "ch_1", "currency": "eur", "paid": True, "amount": 100})
    assert old.status == "succeeded"  # charges from before `status` existed
    link = parse_invoice_payment({"id": "inpay_1", "payment": "not an object"})
    assert (link.invoice_id, link.payment_intent_id, link.status) == (None, None, "open")


# -- ranks and ties -----------------------------------------------------------------------


def _intent_stamp(status: str, error: dict[str, Any] | None = None) -> Any:
    obj = p.payment_intent("pi_1", "cus_1", status, error=error)
    return stamp(PI, envelope(f"payment_intent.{status}", obj, T, event_id="evt_z"))


def test_intent_ties_follow_the_lifecycle_and_terminal_states_win() -> None:
    order = [
        _intent_stamp("requires_payment_method"),
        _intent_stamp("requires_action"),
        _intent_stamp("processing"),
        _intent_stamp("requires_payment_method", p.card_error()),  # a failed attempt
        _intent_stamp("requires_capture"),
        _intent_stamp("succeeded"),
    ]
    assert [s.rank for s in order] == sorted(s.rank for s in order)
    assert len({s.rank for s in order}) == len(order)
    assert _intent_stamp("canceled").rank == _intent_stamp("succeeded").rank
    assert _intent_stamp("teleporting").rank == _intent_stamp("requires_payment_method").rank


def test_a_same_second_stale_event_never_overwrites_a_succeeded_intent() -> None:
    done = envelope("payment_intent.succeeded", p.payment_intent("pi_1", "c", "succeeded"))
    late = envelope(
        "payment_intent.processing", p.payment_intent("pi_1", "c", "processing"), event_id="evt_9"
    )
    assert decide(PI, late, current=stamp(PI, done)) is None
    assert decide(PI, done, current=stamp(PI, late)) is not None


def test_charge_ties_refunds_later_and_failure_is_terminal() -> None:
    def at(status: str, refunded: int = 0, disputed: bool = False) -> int:
        obj = p.charge("ch_1", "c", status, amount_refunded=refunded, disputed=disputed)
        return stamp(CH, envelope(f"charge.{status}", obj)).rank

    assert at("pending") < at("succeeded") < at("succeeded", 1000) < at("succeeded", 2900)
    assert at("succeeded", 1000) < at("succeeded", 1000, disputed=True)
    assert at("failed") > at("succeeded", 2900, disputed=True)


def test_invoice_payment_paid_is_terminal() -> None:
    def at(status: str) -> int:
        obj = p.invoice_payment("inpay_1", "in_1", payment_intent="pi_1", status=status)
        return stamp(IP, envelope("invoice_payment.paid", obj)).rank

    assert at("open") < at("paid") == at("canceled")


# -- transitions -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_intent_row(shape: ApiShape) -> None:
    obj = p.payment_intent(
        "pi_1", "cus_1", "succeeded", shape=shape, invoice="in_1", latest_charge="ch_1"
    )
    row = decide(PI, envelope("payment_intent.succeeded", obj, shape=shape))
    assert set(row) == columns(PAYMENTS)
    assert (row["object"], row["status"], row["amount"], row["currency"]) == (
        "payment_intent",
        "succeeded",
        2900,
        "eur",
    )
    assert (row["latest_charge_id"], row["payment_method_type"]) == ("ch_1", "card")
    assert row["invoice_id"] == ("in_1" if shape is ApiShape.LEGACY else None)
    assert (row["last_event_created"], row["last_event_id"]) == (T, "evt_1")


def test_a_charge_of_an_intent_is_no_payment_of_its_own() -> None:
    row = decide(CH, envelope("charge.succeeded", p.charge("ch_1", "cus_1", payment_intent="pi_1")))
    assert set(row) == columns(CHARGES)
    assert direct_payment_row(row) is None


def test_a_direct_charge_is_its_own_payment_under_the_charges_stamp() -> None:
    obj = p.charge("ch_1", "cus_1", "failed", failure=("card_declined", "Declined."))
    row = decide(CH, envelope("charge.failed", obj))
    payment = direct_payment_row(row)
    assert payment is not None and set(payment) == columns(PAYMENTS)
    assert (payment["id"], payment["object"], payment["status"]) == ("ch_1", "charge", "failed")
    assert (payment["failure_code"], payment["latest_charge_id"]) == ("card_declined", "ch_1")
    stamp_cols = ("last_event_created", "last_event_rank", "last_event_id")
    assert [payment[c] for c in stamp_cols] == [row[c] for c in stamp_cols]


def test_invoice_payment_row() -> None:
    obj = p.invoice_payment("inpay_1", "in_1", payment_intent="pi_1")
    row = decide(IP, envelope("invoice_payment.paid", obj))
    assert set(row) == columns(INVOICE_PAYMENTS)
    assert (row["invoice_id"], row["payment_intent_id"], row["status"]) == ("in_1", "pi_1", "paid")
    assert row["amount_paid"] == 2900 and row["paid_at"] is not None


def test_no_notices_for_payments() -> None:
    assert PI.kinds == () and CH.kinds == () and IP.kinds == ()
