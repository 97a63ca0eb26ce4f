"""The sources family's pure core: legacy cards and sources as payment methods rows."""

from __future__ import annotations

from typing import Any

import pytest

from domain.mirror.families import sources
from domain.mirror.families.payment_methods import Owner
from domain.mirror.families.sources import SourceNoticeKind, card_brand, parse_source
from domain.mirror.ordering import TERMINAL_WEIGHT
from domain.mirror.statuses import PaymentMethodStatus
from domain.mirror.stripe_json import ApiShape, ViewError
from tests.families.support import decide, envelope, incoming, stamp
from tests.mirror import factory as f
from tests.mirror import factory_sources as fs

FAMILY = sources.FAMILY
OWNER = Owner("cus_1", "card_1")


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_a_legacy_card_parses_in_both_shapes(shape: ApiShape) -> None:
    view = parse_source(fs.card("card_1", "cus_1", shape=shape), f.api_version(shape))
    assert (view.id, view.customer_id, view.type, view.status) == ("card_1", "cus_1", "card", None)
    assert (view.card_brand, view.card_last4, view.card_exp_month, view.card_exp_year) == (
        "visa",
        "4242",
        8,
        2030,
    )
    assert view.bank_last4 is None


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_card_and_sepa_sources_parse_their_details(shape: ApiShape) -> None:
    card = parse_source(fs.source("src_1", "cus_1"), f.api_version(shape))
    assert (card.type, card.status, card.card_brand, card.card_last4, card.card_exp_year) == (
        "card",
        "chargeable",
        "mastercard",
        "4444",
        2031,
    )
    sepa = parse_source(fs.source("src_2", "cus_1", kind="sepa_debit"), f.api_version(shape))
    assert (sepa.type, sepa.bank_code, sepa.bank_last4, sepa.bank_country) == (
        "sepa_debit",
        "INGB",
        "3000",
        "NL",
    )
    assert sepa.card_last4 is None


def test_the_cardholders_name_address_and_owner_are_never_kept() -> None:
    for obj in (fs.card("card_1", "cus_1"), fs.source("src_1", "cus_1")):
        row = decide(FAMILY, envelope("customer.source.created", obj), facts=OWNER)
        text = repr(row)
        for personal in ("Jenny Rosen", "Damrak", "Amsterdam", "1012 LG", "jenny.rosen"):
            assert personal not in text
        assert "name" not in row["raw"] and "owner" not in row["raw"]
        assert not any(k.startswith("address_") for k in row["raw"])
    # The original payload is left alone (the scrub copies).
    card = fs.card("card_1", "cus_1")
    parse_source(card)
    assert card["name"] == "Jenny Rosen"


def test_brands_take_payment_methods_spelling() -> None:
    assert [card_brand(b) for b in ("Visa", "American Express", "MasterCard", "Diners Club")] == [
        "visa",
        "amex",
        "mastercard",
        "diners",
    ]
    assert card_brand("Some New Brand") == "some_new_brand"
    assert card_brand(None) is None and card_brand(7) is None


def test_odd_payloads() -> None:
    with pytest.raises(ViewError):
        parse_source({"object": "card", "last4": "4242"})
    bare = parse_source({"id": "src_odd", "object": "source", "type": "klarna", "status": "new"})
    assert (bare.type, bare.status, bare.customer_id, bare.card_last4) == (
        "klarna",
        "new",
        None,
        None,
    )
    hostile = parse_source(
        {
            "id": "card_h",
            "object": "card",
            "brand": "X" * 500,
            "last4": "123456789",
            "exp_month": 13,
            "exp_year": "2030",
            "customer": ["cus_1"],
        }
    )
    assert len(hostile.card_brand or "") == 32 and hostile.card_last4 == "1234"
    assert (hostile.card_exp_month, hostile.card_exp_year, hostile.customer_id) == (
        None,
        None,
        None,
    )
    # No `object`: the id's prefix tells a card.
    assert parse_source({"id": "card_x", "brand": "Visa", "last4": "1111"}).card_last4 == "1111"


def test_a_legacy_bank_account_is_kept_with_its_bank_details() -> None:
    bank = {
        "id": "ba_1",
        "object": "bank_account",
        "customer": "cus_1",
        "account_holder_name": "Jenny Rosen",
        "bank_name": "STRIPE TEST BANK",
        "country": "US",
        "last4": "6789",
        "routing_number": "110000000",
        "status": "new",
    }
    view = parse_source(bank)
    assert (view.type, view.bank_code, view.bank_last4, view.bank_country) == (
        "bank_account",
        "110000000",
        "6789",
        "US",
    )
    assert stamp(FAMILY, event("customer.source.updated", bank)).rank < TERMINAL_WEIGHT
    failed = {**bank, "status": "verification_failed"}
    assert stamp(FAMILY, event("customer.source.updated", failed)).rank >= TERMINAL_WEIGHT
    assert "account_holder_name" not in view.raw
    assert parse_source({"id": "ba_2", "last4": "1234"}).type == "bank_account"


def event(event_type: str, obj: dict[str, Any], **kw: Any) -> Any:
    return envelope(event_type, obj, **kw)


def test_deleted_is_terminal_and_created_updated_expiring_in_order() -> None:
    obj = fs.card("card_1", "cus_1")
    ranks = {
        t: stamp(FAMILY, event(t, obj, event_id="evt_a")).rank for t in sources.FAMILY.event_types
    }
    assert ranks["customer.source.deleted"] >= TERMINAL_WEIGHT
    assert (
        ranks["customer.source.created"]
        < ranks["customer.source.updated"]
        < ranks["customer.source.expiring"]
        < ranks["customer.source.deleted"]
    )
    # A source Stripe has canceled is gone for good, whatever the event says.
    canceled = fs.source("src_1", "cus_1", status="canceled")
    assert stamp(FAMILY, event("customer.source.updated", canceled)).rank >= TERMINAL_WEIGHT
    assert stamp(FAMILY, event("customer.source.updated", fs.source("src_1", "cus_1"))).rank < (
        TERMINAL_WEIGHT
    )


def test_transition_writes_a_source_row_and_keeps_a_deleted_ones_owner() -> None:
    created = decide(
        FAMILY, event("customer.source.created", fs.card("card_1", "cus_1")), facts=OWNER
    )
    assert (created["status"], created["source"], created["is_default"]) == (
        PaymentMethodStatus.ATTACHED,
        True,
        True,
    )
    assert (created["stripe_customer_id"], created["type"], created["card_last4"]) == (
        "cus_1",
        "card",
        "4242",
    )
    other = decide(
        FAMILY, event("customer.source.created", fs.source("src_9", "cus_1")), facts=OWNER
    )
    assert other["is_default"] is False
    deleted = decide(FAMILY, event("customer.source.deleted", fs.card("card_1", None)), facts=OWNER)
    assert (deleted["status"], deleted["is_default"], deleted["stripe_customer_id"]) == (
        PaymentMethodStatus.DETACHED,
        False,
        "cus_1",
    )


def test_refs_lock_the_source_and_its_customer() -> None:
    ev = event("customer.source.deleted", fs.card("card_1", None), previous={"customer": "cus_1"})
    view = FAMILY.parse(ev.object, ev.api_version)
    assert FAMILY.refs(view, ev).customer_id == "cus_1"
    targets = FAMILY.targets(ev)
    assert set(targets.keys) >= {"mirror:source:card_1", "mirror:customer:cus_1"}
    assert [(t.name, i) for t, i in targets.rows] == [("payment_methods", "card_1")]


def test_an_expiring_card_is_notified_with_ids_and_dates_only() -> None:
    ev = event("customer.source.expiring", fs.card("card_1", "cus_1", exp_month=12, exp_year=2026))
    view, inc = incoming(FAMILY, ev, OWNER)
    (notice,) = FAMILY.notices(view, inc)
    assert notice.kind is SourceNoticeKind.CARD_EXPIRING
    assert notice.payload == {"source_id": "card_1", "exp_month": 12, "exp_year": 2026}
    for other in ("customer.source.created", "customer.source.updated", "customer.source.deleted"):
        view, inc = incoming(FAMILY, event(other, fs.card("card_1", "cus_1")), OWNER)
        assert FAMILY.notices(view, inc) == []
