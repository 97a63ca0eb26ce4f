"""The customers family's pure core: parse, refs, rank, transition onto the account."""

from __future__ import annotations

import pytest

from domain.mirror.families import customers
from domain.mirror.families.customers import AccountChange, parse_customer
from domain.mirror.ordering import TERMINAL_WEIGHT
from domain.mirror.stripe_json import ApiShape, ViewError
from tests.families.support import decide, envelope, stamp
from tests.mirror import factory as f

FAMILY = customers.FAMILY
ACCOUNT = {"id": 7, "account_ref": "acct_1", "stripe_customer_id": "cus_1"}


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_details_come_from_the_customer_and_its_metadata(shape: ApiShape) -> None:
    obj = f.customer("cus_1", account_ref="acct_1", default_pm="pm_1")
    view = parse_customer(obj, f.api_version(shape))
    assert (view.id, view.account_ref, view.default_payment_method_id) == (
        "cus_1",
        "acct_1",
        "pm_1",
    )
    assert (view.company_name, view.vat_number, view.kvk_number) == (
        "Jansen BV",
        "NL123456789B01",
        "12345678",
    )
    assert (view.city, view.country, view.currency) == ("Amsterdam", "NL", "eur")
    with pytest.raises(ViewError):
        parse_customer({"email": "x@example.org"})


def test_tax_ids_stand_in_for_metadata_and_odd_countries_are_dropped() -> None:
    obj = f.customer("cus_1")
    obj["metadata"] = {}
    obj["tax_ids"] = {
        "data": [{"type": "eu_vat", "value": "DE123"}, {"type": "nl_kvk", "value": "87"}]
    }
    obj["address"]["country"] = "Netherlands"
    view = parse_customer(obj)
    assert (view.vat_number, view.kvk_number, view.country) == ("DE123", "87", None)


def test_refs_lock_the_customer_and_its_account_and_read_no_stamped_table() -> None:
    event = envelope("customer.updated", f.customer("cus_1", account_ref="acct_1"))
    targets = FAMILY.targets(event)
    assert set(targets.keys) == {"mirror:customer:cus_1", "mirror:account:acct_1"}
    assert targets.rows == ()  # the account row is found through the link, not prefetched


def test_deleted_is_terminal_and_creation_comes_first() -> None:
    obj = f.customer("cus_1")
    deleted = stamp(FAMILY, envelope("customer.deleted", obj))
    updated = stamp(FAMILY, envelope("customer.updated", obj, event_id="evt_z"))
    created = stamp(FAMILY, envelope("customer.created", obj, event_id="evt_z"))
    assert deleted.rank >= TERMINAL_WEIGHT and deleted > updated
    assert stamp(FAMILY, envelope("customer.updated", obj)) > created


def test_transition_writes_the_details_on_the_found_account() -> None:
    event = envelope("customer.deleted", f.customer("cus_1", default_pm="pm_1"))
    change = decide(FAMILY, event, facts=ACCOUNT)
    assert isinstance(change, AccountChange)
    assert (change.account_id, change.customer_id) == (7, "cus_1")
    values = change.values
    assert (values["deleted"], values["default_payment_method_id"], values["email"]) == (
        True,
        "pm_1",
        "billing@example.nl",
    )
    assert values["last_event_id"] == "evt_1" and "account_ref" not in values
    updated = decide(FAMILY, envelope("customer.updated", f.customer("cus_1")), facts=ACCOUNT)
    assert updated.values["deleted"] is False
    assert decide(FAMILY, event, facts=None) is None  # no account row: nothing to write
