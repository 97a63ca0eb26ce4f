"""Drift between Stripe and the mirror, decided by pure functions (no database, no Stripe).

The caller gives the row Stripe's object WOULD produce (the family's own parse and
transition) and the row the mirror stores; `compare` says whether the row is missing,
extra or differs, and in which fields. Bookkeeping columns (stamps, `updated_at`, the raw
payload) are never compared. Values of personal fields (e-mail, names, addresses, tax
numbers, card digits) are replaced by `[redacted]` in what is reported: a finding names the
field, never the person.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from domain.redact import REDACTED

Row = Mapping[str, Any]

# Written by the pipeline for itself, not mirrored from Stripe.
BOOKKEEPING = frozenset(
    {"last_event_created", "last_event_rank", "last_event_id", "updated_at", "created_at", "raw"}
)
PERSONAL = frozenset(
    {
        "email",
        "name",
        "company_name",
        "vat_number",
        "kvk_number",
        "address_line1",
        "address_line2",
        "postal_code",
        "city",
        "state",
        "card_last4",
        "card_exp_month",
        "card_exp_year",
        "bank_last4",
        "bank_code",
        "ideal_bic",
    }
)


class Outcome(StrEnum):
    """What one object's comparison found."""

    SAME = "same"
    MISSING = "missing"  # Stripe has it, the mirror does not
    EXTRA = "extra"  # the mirror has it live, Stripe deleted it (or answers 404)
    DIFFERING = "differing"  # both have it; some mirrored fields differ
    FAILED = "failed"  # it could not be compared or repaired (the error type is its field)


DRIFT = frozenset({Outcome.MISSING, Outcome.EXTRA, Outcome.DIFFERING})
REPORTED = DRIFT | {Outcome.FAILED}  # what a run lists besides its counts


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One field whose stored value is not what Stripe's object gives (values redacted)."""

    field: str
    mirror: Any
    stripe: Any

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "mirror": self.mirror, "stripe": self.stripe}


@dataclass(frozen=True, slots=True)
class Finding:
    """The comparison of one object of one kind."""

    kind: str
    object_id: str
    outcome: Outcome
    fields: tuple[FieldDiff, ...] = field(default=())

    @property
    def drift(self) -> bool:
        return self.outcome in DRIFT


def failed(kind: str, object_id: str, error_type: str) -> Finding:
    """An object whose comparison or repair raised: reported with the error's type only."""
    return Finding(kind, object_id, Outcome.FAILED, (FieldDiff("error", None, error_type),))


def shown(name: str, value: Any, personal: Collection[str] = PERSONAL) -> Any:
    """A value as a report shows it: JSON-friendly, and redacted for a personal field."""
    if value is None:
        return None
    if name in personal:
        return REDACTED
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Enum):
        a = a.value
    if isinstance(b, Enum):
        b = b.value
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.timestamp() == b.timestamp()
    return bool(a == b)


def diff_rows(
    expected: Row,
    stored: Row,
    ignore: Collection[str] = BOOKKEEPING,
    personal: Collection[str] = PERSONAL,
) -> tuple[FieldDiff, ...]:
    """The fields of `expected` (Stripe's) whose stored value differs, in column order."""
    return tuple(
        FieldDiff(name, shown(name, stored.get(name), personal), shown(name, value, personal))
        for name, value in expected.items()
        if name not in ignore and not _same(value, stored.get(name))
    )


def compare(
    kind: str,
    object_id: str,
    expected: Row | None,
    stored: Row | None,
    *,
    gone: bool = False,
    ignore: Collection[str] = BOOKKEEPING,
    personal: Collection[str] = PERSONAL,
) -> Finding:
    """Missing (no stored row), extra (Stripe deleted it, the mirror shows it live),
    differing (some fields) or same.

    `gone` says Stripe deleted the object or answers 404 for it; `expected` is then the row
    its deletion gives (the stored row marked deleted), None when the family keeps none.
    """
    if stored is None:
        outcome = Outcome.SAME if gone or expected is None else Outcome.MISSING
        return Finding(kind, object_id, outcome)
    if expected is None:
        return Finding(kind, object_id, Outcome.EXTRA if gone else Outcome.SAME)
    fields = diff_rows(expected, stored, ignore, personal)
    if not fields:
        return Finding(kind, object_id, Outcome.SAME)
    return Finding(kind, object_id, Outcome.EXTRA if gone else Outcome.DIFFERING, fields)
