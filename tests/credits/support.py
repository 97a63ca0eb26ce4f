"""Shared helpers of the credits tests: the app with a usage token, grants, balances."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from domain.credits import ledger
from domain.credits.tables import BALANCES, EntryKind, EntrySource
from domain.settings import load_settings
from domain.types import utcnow
from ingest.app import create_app
from tests.support.env import API_TOKEN

READ_ONLY_TOKEN = "reader-only-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
READ_ONLY = {"Authorization": f"Bearer {READ_ONLY_TOKEN}"}


def credits_client() -> Iterator[TestClient]:
    settings = load_settings(
        api_tokens=f"tester:{API_TOKEN}:commands+read+ops+usage,reader:{READ_ONLY_TOKEN}:read"
    )
    with TestClient(create_app(settings, publish=lambda ids: None)) as client:
        yield client


def grant(
    session: Session, account_ref: str, credits: int, entry_id: str, now: datetime | None = None
) -> bool:
    return ledger.append(
        session,
        ledger.NewEntry(
            entry_id=entry_id,
            account_ref=account_ref,
            kind=EntryKind.GRANT,
            credits=credits,
            source=EntrySource.MANUAL,
            reason="test",
        ),
        now or utcnow(),
    )


def balances(session: Session) -> dict[str, dict[str, int]]:
    """The balance rows' sums, shaped like ledger.rebuilt_balances."""
    return {
        r.account_ref: {
            "balance": r.balance,
            "granted": r.granted,
            "consumed": r.consumed,
            "overage": r.overage,
        }
        for r in session.execute(select(BALANCES))
    }


def assert_no_drift(session: Session) -> dict[str, Any]:
    """Every balance row equals the ledger's sums (the row is kept, never the truth)."""
    kept = balances(session)
    assert kept == ledger.rebuilt_balances(session)
    return kept
