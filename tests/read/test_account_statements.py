"""The account answer's cost, pinned: its selects, one round trip, and the same answer as the
ORM path it replaced (account_status + the families' `Related.load` + pydantic)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from domain.mirror import reads
from domain.mirror.account_status import account_status
from domain.types import utcnow
from ingest.read_account import PgAccountReader, run_plan
from ingest.read_api import ACCOUNT_FIELDS, PLAN, AccountBody
from ingest.read_shapes import account_body, account_out
from tests.read.support import Pipeline
from tests.read.test_read_api import ACCT, seed
from workers.runtime import Runtime

# The account, its subscriptions (with their unpaid invoices), the payment method candidates,
# the VAT id, the entitlement features, the customer's discount with its coupon and code.
STATEMENTS = 8


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any SQLAlchemy engine runs while the test runs."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    yield seen
    event.remove(Engine, "before_cursor_execute", count)


def test_the_account_answer_is_a_fixed_number_of_selects(
    pipe: Pipeline, runtime: Runtime, statements: list[str]
) -> None:
    seed(pipe)
    assert len(PLAN.statements) == STATEMENTS
    statements.clear()
    with runtime.engine.connect() as conn:
        found = run_plan(conn, PLAN.statements, ACCT)
    # Whatever the account holds: no query per row (the rest is the engine's own SET LOCAL).
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == STATEMENTS, selects
    assert found["account"] and found["subscriptions"]


def test_on_postgres_the_answer_takes_no_sqlalchemy_statement(
    pipe: Pipeline, runtime: Runtime, statements: list[str]
) -> None:
    """The route reads through the pipelined reader (one round trip), nothing else."""
    seed(pipe)
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("the pipelined reader is Postgres only")
    statements.clear()
    body = pipe.get(f"/v1/accounts/{ACCT}")
    assert body["account_ref"] == ACCT
    # (The app's background tasks, the publisher's sweep, may run their own meanwhile.)
    assert [s for s in statements if "billing_accounts" in s] == []


def test_the_reader_and_the_orm_path_give_the_same_answer(pipe: Pipeline, runtime: Runtime) -> None:
    seed(pipe)
    now = utcnow()
    with Session(runtime.engine) as session:
        account = reads.find_account(session, ACCT)
        assert account is not None
        status = account_status(session, ACCT, now=now, account=account)
        assert status is not None
        old = account_out(account, status, now).model_dump()
        for name, related in ACCOUNT_FIELDS.items():
            loaded = related.load(session, [account])
            old[name] = loaded.get(account.id, related.default())
        expected = AccountBody.model_validate(old).model_dump(mode="json")
    with runtime.engine.connect() as conn:
        found = run_plan(conn, PLAN.statements, ACCT)
    if runtime.engine.dialect.name == "postgresql":
        reader = PgAccountReader(str(runtime.engine.url.render_as_string(False)), PLAN.statements)

        async def fetch() -> Any:
            try:
                return await reader.fetch(ACCT)
            finally:
                await reader.aclose()

        assert asyncio.run(fetch()) == found
    facts = PLAN.facts(found, grace_days=7, now=now)
    assert facts is not None
    got = orjson.loads(orjson.dumps(account_body(facts, now), option=orjson.OPT_UTC_Z))
    assert got == expected
    assert PLAN.facts({**found, "account": []}, grace_days=7, now=now) is None
