"""`Listing.never_listed`: tombstone statuses are left out of every list answer and out of
the values `?status=` accepts (generic; the invoices family uses it for deleted drafts)."""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

import pytest
from pydantic import ValidationError

from domain.mirror import reads
from domain.mirror.families import invoices
from ingest.read_queries import listing_query


class Thing(StrEnum):
    LIVE = "live"
    DONE = "done"
    GONE = "gone"


BASE = replace(invoices.LISTING, status=Thing, never_listed=frozenset())
HIDING = replace(BASE, never_listed=frozenset({Thing.GONE}))


def test_without_never_listed_the_filter_is_the_status_enum() -> None:
    assert BASE.filter_status is Thing


def test_the_filter_offers_every_status_but_the_never_listed() -> None:
    offered = HIDING.filter_status
    assert offered is not None and offered is not Thing
    assert [s.value for s in offered] == ["live", "done"]
    query = listing_query(HIDING)
    assert query(status="done").status == "done"  # type: ignore[call-arg,attr-defined]
    with pytest.raises(ValidationError):
        query(status="gone")  # type: ignore[call-arg]
    assert listing_query(BASE)(status="gone").status == "gone"  # type: ignore[call-arg,attr-defined]


@pytest.mark.parametrize("status", [None, Thing.DONE])
def test_the_query_leaves_never_listed_rows_out(status: Thing | None) -> None:
    sql = str(reads.listed_rows(HIDING, "cus_1", status).compile())
    assert "status NOT IN" in sql
    assert ("status = " in sql) == (status is not None)
    assert "NOT IN" not in str(reads.listed_rows(BASE, "cus_1", status).compile())
