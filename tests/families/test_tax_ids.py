"""The tax ids family's pure core: parse (both shapes), rank, transition, notices, choice."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from domain.envelope import EventEnvelope
from domain.mirror.families import tax_ids
from domain.mirror.families.tax_ids import TaxIdVerification, choose_tax_id, parse_tax_id
from domain.mirror.ordering import TERMINAL_WEIGHT
from domain.mirror.stripe_json import ApiShape, ViewError
from tests.families.support import T, decide, envelope, incoming, stamp
from tests.mirror import factory as f
from tests.mirror import factory_customer as fc

FAMILY = tax_ids.FAMILY
NAME, ADDRESS = "JANSEN B.V.", "DAMRAK 00001\n1012LG AMSTERDAM"


def txi_event(
    event_type: str,
    status: str | None = "pending",
    *,
    shape: ApiShape = ApiShape.CURRENT,
    event_id: str = "evt_1",
    previous: dict[str, Any] | None = None,
    **kw: Any,
) -> EventEnvelope:
    obj = fc.tax_id("txi_1", "cus_1", shape=shape, status=status, **kw)
    return envelope(event_type, obj, T, shape=shape, event_id=event_id, previous=previous)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_both_shapes_parse_the_verification(shape: ApiShape) -> None:
    obj = fc.tax_id(
        "txi_1",
        "cus_1",
        shape=shape,
        status="verified",
        verified_name=NAME,
        verified_address=ADDRESS,
    )
    view = parse_tax_id(obj, f.api_version(shape))
    assert (view.shape, view.id, view.customer_id, view.type) == (shape, "txi_1", "cus_1", "eu_vat")
    assert (view.value, view.country, view.verification) == (
        "NL123456789B01",
        "NL",
        TaxIdVerification.VERIFIED,
    )
    assert (view.verified_name, view.verified_address) == (NAME, ADDRESS)
    assert NAME not in repr(view) and ADDRESS not in repr(view)  # never in a log line


def test_the_stripe_example_object_parses() -> None:
    view = parse_tax_id(f.example_object("tax_id"))
    assert (view.type, view.country, view.verification) == ("eu_vat", "DE", "pending")
    assert view.customer_id == "cus_QXg1o8vcGmoR32"


def test_the_owner_names_the_customer_when_the_top_level_field_is_missing() -> None:
    obj = fc.tax_id("txi_1", "cus_1")
    obj["customer"] = None
    assert parse_tax_id(obj).customer_id == "cus_1"


def test_odd_payloads_are_kept_not_refused() -> None:
    obj = fc.tax_id("txi_1", "cus_1", status="being_checked_by_a_new_authority")
    view = parse_tax_id({**obj, "country": "nld", "type": None})
    assert (view.verification, view.country, view.type) == (None, None, "unknown")
    assert parse_tax_id({k: v for k, v in obj.items() if k != "verification"}).verification is None
    assert parse_tax_id({**obj, "country": "de"}).country == "DE"
    with pytest.raises(ViewError, match="id"):
        parse_tax_id({**obj, "id": None})


def test_deleted_is_terminal_and_settled_outranks_pending() -> None:
    deleted = stamp(FAMILY, txi_event(tax_ids.DELETED, "verified", event_id="evt_a"))
    assert deleted.rank >= TERMINAL_WEIGHT
    verified = stamp(FAMILY, txi_event(tax_ids.UPDATED, "verified", event_id="evt_a"))
    assert deleted > verified
    pending = stamp(FAMILY, txi_event(tax_ids.UPDATED, "pending", event_id="evt_z"))
    assert verified > pending
    created = stamp(FAMILY, txi_event(tax_ids.CREATED, "pending", event_id="evt_z"))
    assert pending > created
    unverified = stamp(FAMILY, txi_event(tax_ids.UPDATED, "unverified", event_id="evt_b"))
    assert unverified.rank == verified.rank  # settled either way: the event id decides


def test_the_row_keeps_a_deleted_tax_id_flagged() -> None:
    row = decide(FAMILY, txi_event(tax_ids.DELETED, "verified", verified_name=NAME))
    assert row["deleted"] is True and row["verification_status"] == "verified"
    row = decide(FAMILY, txi_event(tax_ids.CREATED))
    assert row["deleted"] is False and row["stripe_customer_id"] == "cus_1"
    assert row["stripe_created"] == datetime.fromtimestamp(1_700_000_000, UTC)
    older = stamp(FAMILY, txi_event(tax_ids.UPDATED, "verified", event_id="evt_9"))
    assert decide(FAMILY, txi_event(tax_ids.UPDATED, "pending"), current=older) is None


def test_a_failed_verification_is_notified_without_the_verified_details() -> None:
    event = txi_event(
        tax_ids.UPDATED,
        "unverified",
        previous={"verification": {"status": "pending"}},
        verified_name=NAME,
        verified_address=ADDRESS,
    )
    view, inc = incoming(FAMILY, event)
    (notice,) = FAMILY.notices(view, inc)
    assert notice.kind == "vat_verification_failed"
    assert notice.payload == {"tax_id": "txi_1", "type": "eu_vat", "country": "NL"}
    assert NAME not in str(notice) and "NL123456789B01" not in str(notice)


@pytest.mark.parametrize(
    ("event_type", "status", "previous"),
    [
        (tax_ids.UPDATED, "verified", {"verification": {"status": "pending"}}),
        (tax_ids.UPDATED, "unverified", {"metadata": {}}),  # it was unverified already
        (tax_ids.UPDATED, "unverified", {"verification": {"status": "unverified"}}),
        (tax_ids.CREATED, "unverified", None),
        (tax_ids.DELETED, "unverified", None),
    ],
)
def test_no_notice_unless_the_verification_became_unverified(
    event_type: str, status: str, previous: dict[str, Any] | None
) -> None:
    view, inc = incoming(FAMILY, txi_event(event_type, status, previous=previous))
    assert FAMILY.notices(view, inc) == []


def row(txi: str, type: str, created: int | None, deleted: bool = False) -> Any:
    when = datetime.fromtimestamp(created, UTC) if created is not None else None
    return SimpleNamespace(id=txi, type=type, stripe_created=when, deleted=deleted)


def chosen_id(rows: list[Any]) -> str | None:
    """The id of the row choose_tax_id picks, or None when it picks none."""
    chosen = choose_tax_id(rows)
    return None if chosen is None else chosen.id


def test_the_accounts_vat_id_is_eu_vat_then_another_vat_then_any_newest_first() -> None:
    assert choose_tax_id([]) is None
    assert choose_tax_id([row("txi_d", "eu_vat", T, deleted=True)]) is None
    rows = [
        row("txi_us", "us_ein", T + 9),
        row("txi_gb", "gb_vat", T + 5),
        row("txi_old", "eu_vat", T),
        row("txi_new", "eu_vat", T + 1),
        row("txi_gone", "eu_vat", T + 2, deleted=True),
        row("txi_undated", "eu_vat", None),
    ]
    assert chosen_id(rows) == "txi_new"
    assert chosen_id(rows[:2]) == "txi_gb"
    assert chosen_id(rows[:1]) == "txi_us"
