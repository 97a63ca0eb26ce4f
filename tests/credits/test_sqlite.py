"""The ledger and the gate on the embedded default (SQLite: IMMEDIATE transactions)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

import domain.credits
import domain.usage.records  # noqa: F401
from domain.credits import ledger
from domain.db import make_engine
from domain.models import Base
from domain.types import utcnow
from tests.credits.support import assert_no_drift, grant


def test_consume_grant_and_overage_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'billing.db'}")
    Base.metadata.create_all(engine)
    try:
        with Session(engine) as session, session.begin():
            grant(session, "org", 5, "manual:1")
        outcomes = []
        for cid, credits in (("c1", 3), ("c1", 3), ("c2", 3)):
            with Session(engine) as session, session.begin():
                outcomes.append(
                    ledger.consume(
                        session,
                        consume_id=cid,
                        account_ref="org",
                        credits=credits,
                        meter="api_credits",
                        now=utcnow(),
                    )
                )
        assert [(o.allowed, o.body["remaining"], o.replayed) for o in outcomes] == [
            (True, 2, False),
            (True, 2, True),
            (False, 2, False),
        ]
        with Session(engine) as session, session.begin():
            ledger.set_payg(session, "org", True, utcnow())
            payg = ledger.consume(
                session, consume_id="c3", account_ref="org", credits=4, meter="m", now=utcnow()
            )
        assert payg.body == {"remaining": 0, "overage": 2, "payg": True}
        with Session(engine) as session:
            assert assert_no_drift(session)["org"] == {
                "balance": 0,
                "granted": 5,
                "consumed": 5,
                "overage": 2,
            }
    finally:
        engine.dispose()
