"""Reconciliation as a pure function: what we reported vs what Stripe's meters summed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from domain.usage.report_store import ReportedDay

Key = tuple[str, str, date]  # (Stripe customer, meter event_name, UTC day)


@dataclass(frozen=True, slots=True)
class Difference:
    account_ref: str | None  # None: Stripe counted usage of a customer we reported nothing for
    customer: str
    meter: str
    day: date
    ours: int
    stripe: int

    @property
    def delta(self) -> int:
        return self.stripe - self.ours


def differences(ours: Iterable[ReportedDay], stripe: Mapping[Key, int]) -> list[Difference]:
    """Each (customer, meter, day) where the sums differ, sorted; equal sums are left out.

    Reported records of an account that lost its customer since are keyed by no customer
    and always differ (Stripe's side is looked up by customer).
    """
    mine: dict[Key, int] = {}
    accounts: dict[tuple[str, str], str] = {}
    for row in ours:
        customer = row.customer or "-"
        key = (customer, row.meter, row.day)
        mine[key] = mine.get(key, 0) + row.quantity
        accounts[(customer, row.meter)] = row.account_ref
    out = []
    for key in sorted(set(mine) | set(stripe)):
        a, b = mine.get(key, 0), stripe.get(key, 0)
        if a != b:
            customer, meter, day = key
            out.append(Difference(accounts.get((customer, meter)), customer, meter, day, a, b))
    return out
