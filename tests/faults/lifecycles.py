"""What the fault suite sends: whole customer lifecycles, shuffled, with 10 % duplicates.

Each customer gets its own copy of the mirror tests' realistic lifecycle
(`tests/mirror/lifecycle.py`: checkout, subscription, invoices, plan change, failed and retried
payment, cancellation; same-second pairs on purpose), alternating the two Stripe API shapes,
with every object id made unique to the customer. A few extra events exercise the other
outcomes: an unknown type (stored, `ignored`) and a handler that always fails (`dead`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from domain.mirror.stripe_json import ApiShape
from domain.samples import build_event, new_id
from tests.mirror.lifecycle import lifecycle

# The lifecycle's fixed ids. `\b` keeps Stripe's example ids (such as `in_1MtH...`) intact;
# `si_sub_life` (the item id, derived from the subscription id) is listed on its own since
# `\b` does not separate it from its prefix.
_IDS = re.compile(r"\b(si_sub_life|acct_life|cus_life|sub_life|pm_life|cs_life|in_1|in_2)\b")
ACCOUNT_PREFIX = "acct_life_"
UNKNOWN_TYPE = "faults.unknown_type"
FAILING_TYPE = "test.failing"  # tests/support/handlers.py: writes, then always raises


@dataclass(frozen=True)
class Event:
    """One Stripe event: its id, type and JSON body (what a delivery posts)."""

    event_id: str
    type: str
    body: bytes

    @property
    def valid(self) -> bool:
        """A valid event must end processed or ignored, never dead."""
        return self.type != FAILING_TYPE


@dataclass
class Batch:
    """The events of one scenario: per-customer order (for the in-order run) and deliveries."""

    in_order: list[Event] = field(default_factory=list)  # the mirror events, as Stripe made them
    extra: list[Event] = field(default_factory=list)  # unknown types, failing, slow
    deliveries: list[Event] = field(default_factory=list)  # shuffled, with duplicates
    accounts: list[str] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return self.in_order + self.extra


def customer_lifecycle(tag: str, shape: ApiShape) -> list[Event]:
    """The lifecycle with every id suffixed by `tag`, in the order Stripe created it."""
    events = []
    for ev in lifecycle(shape, prefix=f"evt_{tag}"):
        text = _IDS.sub(lambda m: f"{m.group(1)}_{tag}", orjson.dumps(ev).decode())
        events.append(Event(ev["id"], ev["type"], text.encode()))
    return events


def plain_event(event_type: str, **obj: Any) -> Event:
    """A unique event whose data.object holds `obj`."""
    event_id = new_id("evt")
    payload = {"id": new_id("obj"), "object": "test_object", **obj}
    return Event(
        event_id, event_type, orjson.dumps(build_event(event_type, payload, event_id=event_id))
    )


def make_batch(label: str, customers: int, rng: random.Random, duplicates: float = 0.10) -> Batch:
    """`customers` lifecycles plus one unknown-type and one failing event, shuffled together,
    then `duplicates` of them delivered a second time at a random later point."""
    batch = Batch()
    for n in range(customers):
        tag = f"{label}_{n}"
        shape = ApiShape.CURRENT if n % 2 == 0 else ApiShape.LEGACY
        batch.in_order.extend(customer_lifecycle(tag, shape))
        batch.accounts.append(f"{ACCOUNT_PREFIX}{tag}")
    batch.extra.extend([plain_event(UNKNOWN_TYPE), plain_event(FAILING_TYPE)])
    deliveries = list(batch.events)
    rng.shuffle(deliveries)
    for event in rng.sample(deliveries, round(len(deliveries) * duplicates)):
        deliveries.insert(rng.randint(deliveries.index(event) + 1, len(deliveries)), event)
    batch.deliveries = deliveries
    return batch
