"""The checkout family's pure core: parse, refs, rank, transition, notices."""

from __future__ import annotations

import pytest

from domain.envelope import EventEnvelope
from domain.mirror.families import checkout
from domain.mirror.families.checkout import parse_checkout
from domain.mirror.ordering import TERMINAL_WEIGHT
from domain.mirror.statuses import CheckoutPaymentStatus, CheckoutStatus
from domain.mirror.stripe_json import ApiShape
from tests.families.support import decide, envelope, incoming, stamp
from tests.mirror import factory as f

FAMILY = checkout.FAMILY


def cs_event(
    event_type: str, *, status: str = "complete", payment: str = "paid", event_id: str = "evt_1"
) -> EventEnvelope:
    obj = f.checkout("cs_1", "acct_1", "cus_1", "sub_1", status=status, payment_status=payment)
    return envelope(event_type, obj, event_id=event_id)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_the_session_names_the_account_customer_and_subscription(shape: ApiShape) -> None:
    view = parse_checkout(f.checkout("cs_1", "acct_1", "cus_1", "sub_1"), f.api_version(shape))
    assert (view.account_ref, view.customer_id, view.subscription_id) == (
        "acct_1",
        "cus_1",
        "sub_1",
    )
    assert (view.status, view.payment_status) == (
        CheckoutStatus.COMPLETE,
        CheckoutPaymentStatus.PAID,
    )
    assert view.email == "example@example.com"


def test_the_account_may_come_from_metadata_and_odd_statuses_are_none() -> None:
    obj = f.checkout("cs_1", None, "cus_1", None, status="weird", payment_status="later")
    obj["metadata"] = {"account_ref": "acct_meta"}
    view = parse_checkout(obj)
    assert (view.account_ref, view.status, view.payment_status) == ("acct_meta", None, None)


def test_every_event_locks_the_session_its_customer_and_its_account() -> None:
    assert set(FAMILY.targets(cs_event("checkout.session.completed")).keys) == {
        "mirror:checkout.session:cs_1",
        "mirror:customer:cus_1",
        "mirror:account:acct_1",
    }


def test_expired_is_terminal_and_completion_comes_before_settlement() -> None:
    expired = stamp(FAMILY, cs_event("checkout.session.expired", status="open", payment="unpaid"))
    assert expired.rank >= TERMINAL_WEIGHT
    completed = stamp(FAMILY, cs_event("checkout.session.completed", event_id="evt_z"))
    settled = stamp(FAMILY, cs_event("checkout.session.async_payment_succeeded"))
    assert settled > completed
    opened = stamp(FAMILY, cs_event("checkout.session.completed", status="open", event_id="evt_z"))
    assert stamp(FAMILY, cs_event("checkout.session.completed")) > opened


def test_an_expired_event_writes_expired_whatever_the_payload_says() -> None:
    row = decide(FAMILY, cs_event("checkout.session.expired", status="open", payment="unpaid"))
    assert (row["status"], row["account_ref"], row["stripe_customer_id"]) == (
        CheckoutStatus.EXPIRED,
        "acct_1",
        "cus_1",
    )
    assert (
        decide(FAMILY, cs_event("checkout.session.completed"))["status"] is CheckoutStatus.COMPLETE
    )


def test_only_a_failed_async_payment_notifies() -> None:
    failed = cs_event("checkout.session.async_payment_failed", payment="unpaid")
    [notice] = FAMILY.notices(*incoming(FAMILY, failed))
    assert notice.kind.value == "checkout_async_payment_failed"
    assert notice.payload == {
        "checkout_session_id": "cs_1",
        "subscription_id": "sub_1",
        "amount_total": 2900,
        "currency": "eur",
    }
    assert FAMILY.notices(*incoming(FAMILY, cs_event("checkout.session.completed"))) == []
