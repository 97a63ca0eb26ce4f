"""The mandates family's pure core: parse (both shapes), rank, row, scrubbed acceptance."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.mirror.families import mandates
from domain.mirror.families.mandates import parse_mandate
from domain.mirror.ordering import TERMINAL_WEIGHT
from domain.mirror.stripe_json import ApiShape, ViewError
from domain.samples import example_object
from tests.families.support import decide, envelope, stamp
from tests.mirror import factory as f
from tests.mirror import factory_sources as fs

FAMILY = mandates.FAMILY


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_a_sepa_mandate_parses_in_both_shapes(shape: ApiShape) -> None:
    obj = fs.mandate("mandate_1", "pm_sepa", "active", shape=shape, reference="NL-REF-9")
    view = parse_mandate(obj, f.api_version(shape))
    assert (view.id, view.payment_method_id, view.status, view.type) == (
        "mandate_1",
        "pm_sepa",
        "active",
        "multi_use",
    )
    assert (view.method_type, view.reference) == ("sepa_debit", "NL-REF-9")
    assert view.accepted_at == datetime.fromtimestamp(1_700_000_000, UTC)


def test_the_fixture_mandate_and_odd_ones() -> None:
    view = parse_mandate(example_object("mandate"))
    assert (view.payment_method_id, view.reference, view.url) == ("pm_123456789", "123456789", None)
    with pytest.raises(ViewError):
        parse_mandate({"status": "active"})
    odd = parse_mandate({"id": "mandate_x", "status": "suspended", "payment_method_details": 3})
    assert (odd.status, odd.method_type, odd.reference, odd.payment_method_id) == (
        "suspended",
        None,
        None,
        None,
    )
    card = parse_mandate(
        {"id": "mandate_c", "payment_method_details": {"type": "card", "card": {}}}
    )
    assert (card.status, card.method_type, card.reference) == ("pending", "card", None)


def test_the_customers_ip_address_and_user_agent_are_not_kept() -> None:
    row = decide(FAMILY, envelope("mandate.updated", fs.mandate("mandate_1", "pm_1", "active")))
    assert row["raw"]["customer_acceptance"] == {"accepted_at": 1_700_000_000, "type": "online"}
    assert "127.0.0.0" not in repr(row) and "device" not in repr(row)


def test_inactive_is_terminal_and_active_outranks_pending() -> None:
    def rank(status: str) -> int:
        obj = fs.mandate("mandate_1", "pm_1", status)
        return stamp(FAMILY, envelope("mandate.updated", obj)).rank

    assert rank("pending") < rank("active") < TERMINAL_WEIGHT <= rank("inactive")
    assert rank("something_new") == rank("pending")


def test_transition_row() -> None:
    row = decide(FAMILY, envelope("mandate.updated", fs.mandate("mandate_1", "pm_1", "pending")))
    assert (row["id"], row["payment_method_id"], row["status"], row["reference"]) == (
        "mandate_1",
        "pm_1",
        "pending",
        "REF-1",
    )
    assert row["last_event_id"] == "evt_1"
    later = decide(
        FAMILY,
        envelope("mandate.updated", fs.mandate("mandate_1", "pm_1", "active"), event_id="evt_0"),
        current=stamp(
            FAMILY, envelope("mandate.updated", fs.mandate("mandate_1", "pm_1", "inactive"))
        ),
    )
    assert later is None  # an active of the same second never revives an inactive mandate
