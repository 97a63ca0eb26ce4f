"""The fake Stripe's resources: Stripe-shaped objects (from Stripe's own fixtures) in memory.

One store, and one module per object family that adds its routes to it.
"""

from __future__ import annotations

from tests.support.fake_stripe_billing import BillingResources
from tests.support.fake_stripe_customers import CustomerResources
from tests.support.fake_stripe_lists import ListResources
from tests.support.fake_stripe_meters import MeterResources
from tests.support.fake_stripe_store import Clock, Emit, Obj, ObjectStore, StripeHTTPError

__all__ = ["FakeResources"]


class FakeResources(ObjectStore):
    """Objects by id and the routes the gateway uses; `created` counts real creations."""

    def __init__(self, emit: Emit, clock: Clock | None = None) -> None:
        super().__init__(emit, clock)
        self.customers = CustomerResources(self)
        self.billing = BillingResources(self)
        self.meters = MeterResources(self)
        self.lists = ListResources(self)
        self.routes = [
            *self.customers.routes(),
            *self.billing.routes(),
            *self.meters.routes(),
            *self.lists.routes(),
        ]

    def route(self, method: str, path: str, params: Obj) -> Obj:
        """Run the endpoint for this request, or Stripe's 404 for an unknown URL."""
        for verb, pattern, fn in self.routes:
            match = pattern.fullmatch(path)
            if verb == method and match:
                return fn(params, *match.groups())
        raise StripeHTTPError(404, "invalid_request_error", f"Unrecognized request URL ({path})")

    def complete_checkout(self, session_id: str, payment_method: str) -> Obj:
        """The customer pays the checkout session (see `FakeStripe.complete_checkout`)."""
        return self.billing.complete_checkout(session_id, payment_method)
