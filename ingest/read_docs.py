"""OpenAPI entries of the read API (kept apart so the endpoint module stays about behaviour).

Query parameters come from the models that validate them (ingest.read_queries); the error
responses (401/403, 404, 422, 500) are added by `ingest.openapi.build_document`.
"""

from __future__ import annotations

from pydantic import BaseModel

from ingest.openapi import Operation, document, path_param
from ingest.read_models import AccountOut, NotificationPage
from ingest.read_queries import NotificationQuery

ACCOUNT = path_param("account_ref", "the product's own account id (customer metadata.account_ref)")
NOT_FOUND = ("no such account (`account_not_found`)", None)


def register_listing(
    path: str, summary: str, body: type[BaseModel], query: type[BaseModel]
) -> None:
    """Register one family's list route (ingest.read_api.family_route)."""
    document(
        Operation(
            "GET",
            path,
            summary,
            "read",
            scope="read",
            parameters=(ACCOUNT,),
            query=query,
            responses={200: ("one page", body), 404: NOT_FOUND},
        )
    )


def register_read_operations(account: type[AccountOut]) -> None:
    """Register the account and notification operations in the OpenAPI document."""
    document(
        Operation(
            "GET",
            "/v1/accounts/{account_ref}",
            "Billing status (plan, entitlement, grace) and customer details of an account",
            "read",
            scope="read",
            parameters=(ACCOUNT,),
            responses={200: ("the account", account), 404: NOT_FOUND},
        )
    )
    document(
        Operation(
            "GET",
            "/v1/notifications",
            "Notifications after a cursor, oldest first (at least once; dedupe by id)",
            "read",
            scope="read",
            query=NotificationQuery,
            responses={200: ("one page", NotificationPage)},
        )
    )
