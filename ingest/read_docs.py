"""OpenAPI entries of the read API (kept apart so the endpoint module stays about behaviour)."""

from __future__ import annotations

from typing import Any

from domain.mirror.statuses import InvoiceStatus, PaymentMethodStatus, SubscriptionStatus
from ingest.openapi import Operation, document, path_param, query_param
from ingest.query import ValidationErrorBody
from ingest.read_models import (
    AccountOut,
    InvoicePage,
    NotificationPage,
    PaymentMethodList,
    SubscriptionPage,
)

ACCOUNT = path_param("account_ref", "the product's own account id (customer metadata.account_ref)")
NOT_FOUND = (404, ("no such account (`account_not_found`)", None))
INVALID = (422, ("invalid query parameters, each named in `fields`", ValidationErrorBody))


def _values(enum: Any) -> list[str]:
    return [m.value for m in enum]


def _list_params(limit_max: int, statuses: list[str]) -> tuple[dict[str, Any], ...]:
    return (
        ACCOUNT,
        query_param("status", {"type": "string", "enum": statuses}, "only rows in this status"),
        query_param(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": limit_max, "default": 20},
            "page size",
        ),
        query_param("cursor", {"type": "string"}, "`next_cursor` of the previous page"),
    )


def register_read_operations(limit_max: int) -> None:
    """Register every read API operation in the OpenAPI document."""
    document(
        Operation(
            "GET",
            "/v1/accounts/{account_ref}",
            "Billing status (plan, entitlement, grace) and customer details of an account",
            "read",
            scope="read",
            parameters=(ACCOUNT,),
            responses={200: ("the account", AccountOut), NOT_FOUND[0]: NOT_FOUND[1]},
        )
    )
    for path, summary, model, enum in (
        ("subscriptions", "Subscriptions, newest first", SubscriptionPage, SubscriptionStatus),
        ("invoices", "Invoices, newest first", InvoicePage, InvoiceStatus),
    ):
        document(
            Operation(
                "GET",
                f"/v1/accounts/{{account_ref}}/{path}",
                summary,
                "read",
                scope="read",
                parameters=_list_params(limit_max, _values(enum)),
                responses={200: ("one page", model), NOT_FOUND[0]: NOT_FOUND[1], **dict([INVALID])},
            )
        )
    document(
        Operation(
            "GET",
            "/v1/accounts/{account_ref}/payment-methods",
            "Payment methods (attached by default), the default one first",
            "read",
            scope="read",
            parameters=(
                ACCOUNT,
                query_param(
                    "status",
                    {"type": "string", "enum": _values(PaymentMethodStatus), "default": "attached"},
                    "attached or detached",
                ),
            ),
            responses={
                200: ("the payment methods", PaymentMethodList),
                NOT_FOUND[0]: NOT_FOUND[1],
                **dict([INVALID]),
            },
        )
    )
    document(
        Operation(
            "GET",
            "/v1/notifications",
            "Notifications after a cursor, oldest first (at least once; dedupe by id)",
            "read",
            scope="read",
            parameters=(
                query_param(
                    "after", {"type": "integer", "minimum": 0, "default": 0}, "last id seen"
                ),
                query_param(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": limit_max, "default": 20},
                    "page size",
                ),
                query_param("account_ref", {"type": "string"}, "only this account's"),
            ),
            responses={200: ("one page", NotificationPage), **dict([INVALID])},
        )
    )
