"""Related fields: values other rows hold, shown on a family's rows or on the account answer
(domain.mirror.families._read.Related, Family.adds), without a database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy.orm import Session

from domain.mirror.families import ACCOUNT, FAMILIES, collect_added, listing_of
from domain.mirror.families import invoices as invoice_family
from domain.mirror.families._read import Related
from ingest.read_models import AccountOut, account_model


class CreditOut(BaseModel):
    amount: int


def credited(session: Session, rows: Sequence[Any]) -> Mapping[Any, Any]:
    """Pretend only in_1 has credit notes; records which rows it was asked about."""
    credited.asked = [r.id for r in rows]  # type: ignore[attr-defined]
    return {"in_1": CreditOut(amount=500)} if any(r.id == "in_1" for r in rows) else {}


CREDIT = Related(CreditOut | None, credited, doc="credit notes of the invoice")
COUNT = Related(int, lambda s, rows: {}, default=lambda: 0)


def invoice_row(invoice_id: str) -> Any:
    """A row with every column the invoice shape shows (values are irrelevant here)."""
    shape = invoice_family.LISTING.shape
    values: dict[str, object] = {c.name: None for c in shape.table.columns}
    values.update(id=invoice_id, status="paid", currency="eur", amount_due=1, amount_paid=1)
    values.update(amount_remaining=0, attempt_count=1)
    return SimpleNamespace(**values)


def test_a_related_field_is_in_the_model_and_the_body() -> None:
    shape = invoice_family.LISTING.shape.with_related({"credit": CREDIT, "notes": COUNT})
    fields = shape.model.model_fields
    assert fields["credit"].description == "credit notes of the invoice"
    assert "credit" not in invoice_family.LISTING.shape.model.model_fields  # a new shape
    rows = [invoice_row("in_1"), invoice_row("in_2")]
    related = shape.load_related(None, rows)  # type: ignore[arg-type]
    assert credited.asked == ["in_1", "in_2"]  # type: ignore[attr-defined]  # one load, all rows
    first, second = (shape.shape(r, {}, related) for r in rows)
    assert (first["credit"], first["notes"]) == ({"amount": 500}, 0)
    assert (second["credit"], second["notes"]) == (None, 0)  # the defaults


def test_no_rows_means_no_load() -> None:
    def fails(session: Session, rows: Sequence[Any]) -> Mapping[Any, Any]:
        raise AssertionError("loaded for an empty page")

    shape = invoice_family.LISTING.shape.with_related({"x": Related(int | None, fails)})
    assert shape.load_related(None, []) == {"x": {}}  # type: ignore[arg-type]


def test_a_related_field_cannot_hide_a_column() -> None:
    with pytest.raises(ValueError, match=r"\['status'\] are already shown"):
        invoice_family.LISTING.shape.with_related({"status": COUNT})


def test_families_add_fields_to_listed_families_and_the_account() -> None:
    adds = {"invoices": {"credit": CREDIT}, ACCOUNT: {"notes": COUNT}}
    adding = replace(invoice_family.FAMILY, name="credit-things", event_types=(), adds=adds)
    added = collect_added([*FAMILIES, adding])
    # Other families may add fields to these bodies too (tax ids add the account's VAT id).
    assert added["invoices"]["credit"] is CREDIT and added[ACCOUNT]["notes"] is COUNT


def test_a_field_added_twice_or_to_an_unknown_body_is_refused() -> None:
    one = replace(invoice_family.FAMILY, name="a", adds={"invoices": {"credit": CREDIT}})
    two = replace(invoice_family.FAMILY, name="b", adds={"invoices": {"credit": COUNT}})
    with pytest.raises(ValueError, match=r"invoices\.credit is added by two families"):
        collect_added([*FAMILIES, one, two])
    stray = replace(invoice_family.FAMILY, name="c", adds={"no-such-body": {"x": COUNT}})
    with pytest.raises(ValueError, match="unknown body 'no-such-body'"):
        collect_added([*FAMILIES, stray])


def test_listing_of_a_family_without_a_listing_is_refused() -> None:
    unlisted = replace(invoice_family.FAMILY, listing=None)
    with pytest.raises(ValueError, match="declares no listing"):
        listing_of(unlisted)


def test_the_account_model_grows_by_the_added_fields() -> None:
    assert account_model({}) is AccountOut
    model = account_model({"notes": COUNT})
    assert issubclass(model, AccountOut) and model.__name__ == "AccountOut"
    assert set(model.model_fields) == {*AccountOut.model_fields, "notes"}
