"""consume_batch decides exactly as one consume after another, in one transaction."""

from __future__ import annotations

from sqlalchemy import select

from domain.credits import ledger
from domain.credits.ledger import ConsumeRequest as C
from domain.types import utcnow
from domain.usage.records import USAGE_RECORDS
from tests.credits.support import assert_no_drift, grant
from workers.runtime import Runtime


def test_a_batch_is_the_same_as_one_consume_after_another(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        grant(session, "org_a", 5, "manual:a")
        grant(session, "org_b", 2, "manual:b")
        ledger.set_payg(session, "org_b", True, utcnow())
    with runtime.sessions.begin() as session:
        ledger.consume(
            session, consume_id="old", account_ref="org_a", credits=1, meter=None, now=utcnow()
        )
    batch = [
        C("x1", "org_a", 3, None),
        C("old", "org_a", 1, None),  # answered before: its first answer
        C("x2", "org_a", 2, None),  # short: refused, nothing recorded
        C("x1", "org_a", 3, None),  # repeated in the batch: the first answer
        C("y1", "org_b", 5, "api_credits"),  # 2 from the balance, 3 overage
        C("x3", "org_a", 1, None),
        C("n1", "org_none", 1, None),  # no balance row
    ]
    with runtime.sessions.begin() as session:
        outcomes = ledger.consume_batch(session, batch, utcnow())
    assert [(o.allowed, o.body["remaining"], o.body["overage"], o.replayed) for o in outcomes] == [
        (True, 1, 0, False),
        (True, 4, 0, True),
        (False, 1, 0, False),
        (True, 1, 0, True),
        (True, 0, 3, False),
        (True, 0, 0, False),
        (False, 0, 0, False),
    ]
    with runtime.sessions() as session:
        kept = assert_no_drift(session)
        [usage] = session.execute(select(USAGE_RECORDS)).all()
    assert kept["org_a"] == {"balance": 0, "granted": 5, "consumed": 5, "overage": 0}
    assert kept["org_b"] == {"balance": 0, "granted": 2, "consumed": 2, "overage": 3}
    assert (usage.id, usage.quantity, usage.meter) == ("overage:y1", 3, "api_credits")
