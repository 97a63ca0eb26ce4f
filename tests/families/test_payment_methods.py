"""The payment methods family's pure core: parse, refs, rank, transition."""

from __future__ import annotations

import pytest

from domain.mirror.families import payment_methods
from domain.mirror.families.payment_methods import Owner, default_of, parse_payment_method
from domain.mirror.ordering import TERMINAL_WEIGHT
from domain.mirror.statuses import PaymentMethodStatus
from domain.mirror.stripe_json import ApiShape, ViewError
from tests.families.support import decide, envelope, stamp
from tests.mirror import factory as f

FAMILY = payment_methods.FAMILY
OWNER = Owner("cus_1", "pm_1")


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["card", "sepa_debit", "ideal"])
def test_cards_and_bank_methods_parse_the_same_in_both_shapes(kind: str, shape: ApiShape) -> None:
    view = parse_payment_method(f.payment_method("pm_1", "cus_1", kind=kind), f.api_version(shape))
    assert (view.id, view.customer_id, view.type) == ("pm_1", "cus_1", kind)
    details = {
        "card": (view.card_brand, view.card_last4, view.card_exp_year),
        "sepa_debit": (view.bank_code, view.bank_last4, view.bank_country),
        "ideal": (view.ideal_bank, view.ideal_bic),
    }
    assert (
        details[kind]
        == {
            "card": ("visa", "4242", 2030),
            "sepa_debit": ("INGB", "3000", "NL"),
            "ideal": ("ing", "INGBNL2A"),
        }[kind]
    )
    with pytest.raises(ViewError):
        parse_payment_method({"type": "card"})


def test_a_detach_names_its_former_customer_from_previous_attributes() -> None:
    event = envelope(
        "payment_method.detached", f.payment_method("pm_1", None), previous={"customer": "cus_1"}
    )
    view = FAMILY.parse(event.object, event.api_version)
    assert FAMILY.refs(view, event).customer_id == "cus_1"
    targets = FAMILY.targets(event)
    assert set(targets.keys) >= {"mirror:payment_method:pm_1", "mirror:customer:cus_1"}
    assert [(t.name, i) for t, i in targets.rows] == [("payment_methods", "pm_1")]


def test_detached_is_terminal_and_an_attach_comes_first() -> None:
    detached = stamp(FAMILY, envelope("payment_method.detached", f.payment_method("pm_1", None)))
    updated = stamp(
        FAMILY,
        envelope("payment_method.updated", f.payment_method("pm_1", "cus_1"), event_id="evt_z"),
    )
    attached = stamp(
        FAMILY,
        envelope("payment_method.attached", f.payment_method("pm_1", "cus_1"), event_id="evt_z"),
    )
    assert detached.rank >= TERMINAL_WEIGHT and detached > updated
    assert (
        stamp(FAMILY, envelope("payment_method.updated", f.payment_method("pm_1", "cus_1")))
        > attached
    )
    # A payload without a customer is detached whatever the event type says.
    orphan = stamp(FAMILY, envelope("payment_method.updated", f.payment_method("pm_1", None)))
    assert orphan.rank >= TERMINAL_WEIGHT


def test_transition_flags_the_default_and_keeps_a_detached_methods_owner() -> None:
    attached = decide(
        FAMILY, envelope("payment_method.attached", f.payment_method("pm_1", "cus_1")), facts=OWNER
    )
    assert (attached["status"], attached["is_default"], attached["stripe_customer_id"]) == (
        PaymentMethodStatus.ATTACHED,
        True,
        "cus_1",
    )
    other = decide(
        FAMILY, envelope("payment_method.attached", f.payment_method("pm_2", "cus_1")), facts=OWNER
    )
    assert other["is_default"] is False
    detached = decide(
        FAMILY, envelope("payment_method.detached", f.payment_method("pm_1", None)), facts=OWNER
    )
    assert (detached["status"], detached["is_default"], detached["stripe_customer_id"]) == (
        PaymentMethodStatus.DETACHED,
        False,
        "cus_1",
    )
    assert (detached["card_last4"], detached["last_event_id"]) == ("4242", "evt_1")


def test_the_default_is_the_default_payment_method_else_the_legacy_default_source() -> None:
    assert default_of("pm_1", {"default_source": "card_1"}) == "pm_1"
    assert default_of(None, {"default_source": "card_1"}) == "card_1"
    assert default_of(None, {"default_source": {"id": "src_1", "object": "source"}}) == "src_1"
    assert default_of(None, {"default_source": None}) is None
    assert default_of(None, None) is None  # no customer object stored yet
