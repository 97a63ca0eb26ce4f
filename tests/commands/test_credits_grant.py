"""credits.grant: a manual grant on the ledger, once per command, with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from tests.commands.conftest import Commands
from tests.support.fake_stripe import FakeStripe


def test_a_manual_grant_is_appended_once_with_its_reason(
    commands: Commands, fake_stripe: FakeStripe, db: Engine
) -> None:
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    done = commands.run("credits.grant", credits=500, reason="outage goodwill", expires_at=expires)
    assert done["status"] == "succeeded", done
    assert done["result"]["credits"] == 500 and done["result"]["balance"] == 500
    assert done["result"]["entry_id"] == f"manual:{done['id']}"
    again = commands.run("credits.grant", credits=100, reason="second")
    assert again["result"]["balance"] == 600
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT source, reason, expires_at FROM credit_entries ORDER BY id")
        ).all()
    assert rows[0].source == "manual" and rows[0].reason.startswith("outage goodwill")
    assert rows[0].expires_at is not None and rows[1].expires_at is None
    assert fake_stripe.calls("POST", "/v1/customers") == 0


def test_a_grant_needs_positive_credits_a_reason_and_a_future_expiry(commands: Commands) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    for params, field in (
        ({"credits": 0, "reason": "x"}, "params.credits"),
        ({"credits": "5", "reason": "x"}, "params.credits"),
        ({"credits": 5}, "params.reason"),
        ({"credits": 5, "reason": "x", "expires_at": past}, "params.expires_at"),
    ):
        answer = commands.post("credits.grant", "acct_1", **params)
        assert answer.status_code == 422, answer.text
        assert field in {f["field"] for f in answer.json()["fields"]}


def test_a_manual_grant_expires_at_its_expires_at(commands: Commands, db: Engine) -> None:
    from sqlalchemy.orm import Session

    from domain.credits.grants import expire_due_grants
    from tests.credits.support import assert_no_drift

    expires = datetime.now(UTC) + timedelta(days=30)
    done = commands.run(
        "credits.grant", credits=500, reason="promo", expires_at=expires.isoformat()
    )
    commands.run("credits.grant", credits=100, reason="no expiry")
    with Session(db) as session, session.begin():
        assert expire_due_grants(session, datetime.now(UTC)) == 0  # not yet
        assert expire_due_grants(session, expires + timedelta(seconds=1)) == 1
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT entry_id, kind, credits FROM credit_entries WHERE kind = 'expire'")
        ).all()
        balance = conn.execute(text("SELECT balance FROM credit_balances")).scalar_one()
    assert [tuple(r) for r in rows] == [(f"expired:manual:{done['id']}", "expire", -500)]
    assert balance == 100
    with Session(db) as session:
        assert_no_drift(session)
