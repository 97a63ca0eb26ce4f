"""The gateway's reading of Stripe errors: transient or permanent, and how long to wait."""

from __future__ import annotations

import email.utils
import time

import pytest
import stripe

from workers.stripe_gateway import _retry_after, classify


def _error(
    cls: type[stripe.StripeError],
    status: int | None,
    type_: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> stripe.StripeError:
    body = {"error": {"type": type_, "code": code, "message": f"{type_} {code}"}}
    extra = (
        {"param": None} if issubclass(cls, stripe.CardError | stripe.InvalidRequestError) else {}
    )
    return cls(
        message="boom",
        http_status=status,
        json_body=body,
        headers=headers or {},
        code=code,
        **extra,
    )


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (_error(stripe.APIError, 500, "api_error"), True),
        (_error(stripe.APIError, 503, "api_error"), True),
        (_error(stripe.RateLimitError, 429, "rate_limit_error", "rate_limit"), True),
        (_error(stripe.InvalidRequestError, 409, "invalid_request_error", "lock_timeout"), True),
        (stripe.APIConnectionError("timed out"), True),
        (_error(stripe.CardError, 402, "card_error", "card_declined"), False),
        (
            _error(stripe.InvalidRequestError, 400, "invalid_request_error", "resource_missing"),
            False,
        ),
        (_error(stripe.AuthenticationError, 401, "authentication_error"), False),
        (_error(stripe.PermissionError, 403, "permission_error"), False),
        # A key reused with other params fails the same way every time, 400 or 409.
        (_error(stripe.IdempotencyError, 400, "idempotency_error"), False),
        (_error(stripe.IdempotencyError, 409, "idempotency_error"), False),
        # Stripe's own hint wins both ways.
        (
            _error(stripe.APIError, 500, "api_error", headers={"Stripe-Should-Retry": "false"}),
            False,
        ),
        (
            _error(
                stripe.IdempotencyError,
                409,
                "idempotency_error",
                headers={"stripe-should-retry": "true"},
            ),
            True,
        ),
    ],
)
def test_transient_or_permanent(exc: stripe.StripeError, transient: bool) -> None:
    failure = classify(exc)
    assert failure.transient is transient
    assert failure.error["type"] in {
        "api_error",
        "rate_limit_error",
        "invalid_request_error",
        "api_connection_error",
        "card_error",
        "authentication_error",
        "permission_error",
        "idempotency_error",
    }


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = time.time()
    assert _retry_after({"Retry-After": "2"}) == 2.0
    assert _retry_after({"retry-after": "-3"}) == 0.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert _retry_after({"Retry-After": date}, now=now) == pytest.approx(30, abs=1)
    assert _retry_after({"Retry-After": email.utils.formatdate(now - 30, usegmt=True)}) == 0.0
    assert _retry_after({"Retry-After": "soon"}) is None
    assert _retry_after({}) is None


def test_a_classified_failure_carries_retry_after() -> None:
    exc = _error(stripe.RateLimitError, 429, "rate_limit_error", headers={"Retry-After": "7"})
    assert classify(exc).retry_after == 7.0
