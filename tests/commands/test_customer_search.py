"""customer.ensure when Customer Search is unavailable: create under the idempotency key.

Search only guards against a mirror that lost an account's customer; the idempotency key is
what keeps retries from making two. So where Stripe has no search (some regions answer 400,
an account without the feature 404) ensure creates at once, and a search outage (5xx) is
retried like any transient error and, on the last attempt, no longer holds creation back.
A permanent error that is not about search being unavailable stays permanent.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.commands.conftest import Commands
from tests.support.fake_stripe import FakeStripe
from tests.support.fake_stripe_customers import (
    search_forbidden,
    search_not_found,
    search_not_in_region,
)
from tests.support.fake_stripe_store import StripeHTTPError
from workers.commands.customers import search_unavailable


@pytest.mark.parametrize("unavailable", [search_not_in_region, search_not_found])
def test_unavailable_search_falls_back_to_create(
    commands: Commands, fake_stripe: FakeStripe, unavailable: Callable[[], StripeHTTPError]
) -> None:
    fake_stripe.resources.customers.search_error = unavailable()
    views = [commands.run("customer.ensure", account_ref=f"acct_{n}") for n in range(3)]
    assert [v["status"] for v in views] == ["succeeded"] * 3, views
    assert [v["attempts"] for v in views] == [1, 1, 1]
    assert all(v["result"]["created"] for v in views)
    assert fake_stripe.created("customer") == 3
    assert fake_stripe.calls("GET", "/v1/customers/search") == 3
    # Linked now: the next ensure needs neither search nor create.
    again = commands.run("customer.ensure", account_ref="acct_0")
    assert again["result"] == {"customer_id": views[0]["result"]["customer_id"], "created": False}
    assert fake_stripe.calls("GET", "/v1/customers/search") == 3


def test_a_search_outage_is_retried_then_no_longer_blocks_creation(
    commands: Commands, fake_stripe: FakeStripe
) -> None:
    attempts = commands.rt.settings.command_max_attempts
    fake_stripe.fail_next("500", times=attempts, on="GET /v1/customers/search")
    view = commands.run("customer.ensure")
    assert view["status"] == "succeeded", view
    assert view["attempts"] == attempts  # retried like any 5xx, created on the last attempt
    assert view["result"]["created"] is True
    assert fake_stripe.created("customer") == 1
    assert fake_stripe.calls("POST", "/v1/customers") == 1


def test_a_real_failure_of_search_stays_permanent(
    commands: Commands, fake_stripe: FakeStripe
) -> None:
    fake_stripe.resources.customers.search_error = search_forbidden()
    view = commands.run("customer.ensure")
    assert view["status"] == "failed" and view["attempts"] == 1, view
    assert (view["error"]["type"], view["error"]["http_status"]) == ("permission_error", 403)
    assert fake_stripe.calls("POST", "/v1/customers") == 0


@pytest.mark.parametrize(
    ("status", "kind", "message", "unavailable"),
    [
        (404, "invalid_request_error", "Unrecognized request URL (GET: /v1/customers/search)", 1),
        (400, "invalid_request_error", "Search is not available for accounts in India.", 1),
        (400, "invalid_request_error", "Customer search is not supported in your region", 1),
        (400, "invalid_request_error", "Invalid search query: 'x'", 0),
        (400, "invalid_request_error", "This feature is not available to you.", 0),
        (403, "permission_error", "Search is not available with this key", 0),
        (401, "authentication_error", "Invalid API Key provided", 0),
        (500, "api_error", "Search is unavailable", 0),
    ],
)
def test_which_errors_mean_search_is_unavailable(
    status: int, kind: str, message: str, unavailable: int
) -> None:
    error = {"type": kind, "message": message, "http_status": status}
    assert search_unavailable(error) is bool(unavailable)
