"""The account answer's cost, pinned: 8 selects (SQLite, one after another), one statement on
Postgres, and the same answer as the ORM path it replaced (account_status + the families'
`Related.load` + pydantic)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from domain.db import make_engine
from domain.mirror import reads
from domain.mirror.account_read import account_plan
from domain.mirror.account_status import account_status
from domain.mirror.families._read import Related
from domain.mirror.families.entitlements import EntitlementSummary
from domain.mirror.tables import BillingAccount
from domain.models import Base
from domain.types import utcnow
from ingest.read_account import PgAccountReader, run_plan
from ingest.read_api import ACCOUNT_FIELDS, PLAN, AccountBody
from ingest.read_shapes import account_body, account_out
from tests.read.support import AUTH, Pipeline, app_client, app_settings
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


def _orm_answer(engine: Engine, ref: str, now: Any) -> dict[str, Any]:
    """The account answer as the ORM path built it before (the reference)."""
    with Session(engine) as session:
        account = reads.find_account(session, ref)
        assert account is not None
        status = account_status(session, ref, now=now, account=account)
        assert status is not None
        old = account_out(account, status, now).model_dump()
        for name, related in ACCOUNT_FIELDS.items():
            loaded = related.load(session, [account])
            old[name] = loaded.get(account.id, related.default())
        return AccountBody.model_validate(old).model_dump(mode="json")


def _plan_answer(found: dict[str, list[Any]], now: Any) -> Any:
    facts = PLAN.facts(found, grace_days=7, now=now)
    assert facts is not None
    return orjson.loads(orjson.dumps(account_body(facts, now), option=orjson.OPT_UTC_Z))


def test_the_reader_and_the_orm_path_give_the_same_answer(
    pipe: Pipeline, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(pipe)
    now = utcnow()
    expected = _orm_answer(runtime.engine, ACCT, now)
    with runtime.engine.connect() as conn:
        found = run_plan(conn, PLAN.statements, ACCT)
    if runtime.engine.dialect.name == "postgresql":
        reader = PgAccountReader(runtime.engine.url.render_as_string(False), PLAN.statements)
        sent: list[str] = []
        execute = psycopg.AsyncCursor.execute  # every async cursor's (the raw one's too)

        def counted(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(str(query))
            return execute(cursor, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.AsyncCursor, "execute", counted)

        async def fetch() -> Any:
            try:
                return await reader.fetch(ACCT)
            finally:
                await reader.aclose()

        assert asyncio.run(fetch()) == found
        assert len(sent) == 1  # one statement, one round trip, whatever the account holds
    assert _plan_answer(found, now) == expected
    assert PLAN.facts({**found, "account": []}, grace_days=7, now=now) is None


def test_the_generic_path_on_sqlite(tmp_path: Path) -> None:
    """The embedded default runs the same selects one after another: the same answer."""
    engine = make_engine(f"sqlite:///{tmp_path / 'billing.db'}")
    Base.metadata.create_all(engine)
    now = utcnow()
    try:
        with Session(engine) as session, session.begin():
            session.add(
                BillingAccount(
                    account_ref="org_1",
                    stripe_customer_id="cus_1",
                    email="a@example.com",
                    country="NL",
                    deleted=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            session.add(
                EntitlementSummary(
                    id="cus_1",
                    stripe_customer_id="cus_1",
                    features=["b", "a"],
                    has_more=False,
                    raw={},
                    last_event_created=1,
                    last_event_rank=0,
                    last_event_id="evt_1",
                    updated_at=now,
                )
            )
        with engine.connect() as conn:
            found = run_plan(conn, PLAN.statements, "org_1")
            assert run_plan(conn, PLAN.statements, "org_2")["account"] == []
        answer = _plan_answer(found, now)
        assert answer == _orm_answer(engine, "org_1", now)
        assert answer["features"] == ["a", "b"]
        assert answer["billing"]["entitled"] is False
        # And through the app on SQLite (a read thread runs the selects).
        url = f"sqlite:///{tmp_path / 'billing.db'}"
        for client in app_client(app_settings(database_url=url)):
            got = client.get("/v1/accounts/org_1", headers=AUTH)
            assert got.status_code == 200, got.text
            assert got.json() == _orm_answer(engine, "org_1", now)
            missing = client.get("/v1/accounts/org_2", headers=AUTH)
            assert missing.status_code == 404
            assert missing.json()["error"] == "account_not_found"
    finally:
        engine.dispose()


def test_the_reader_replaces_a_connection_the_server_dropped(
    pipe: Pipeline, runtime: Runtime
) -> None:
    seed(pipe)
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("the pipelined reader is Postgres only")
    reader = PgAccountReader(
        runtime.engine.url.render_as_string(False), PLAN.statements, connections=1
    )

    async def scenario() -> tuple[Any, Any]:
        try:
            first = await reader.fetch(ACCT)
            with runtime.engine.connect() as conn:  # what a failover or a restart does
                killed = conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND query LIKE 'SELECT (SELECT coalesce(json_agg%'"
                    )
                ).all()
                assert killed, "the reader's connection was not found"
            return first, await reader.fetch(ACCT)
        finally:
            await reader.aclose()

    first, again = asyncio.run(scenario())
    assert again == first and first["account"]


def test_an_account_field_without_its_sql_form_is_refused() -> None:
    bare = Related(type=int | None, load=lambda session, rows: {})
    with pytest.raises(ValueError, match="no SQL form"):
        account_plan({**ACCOUNT_FIELDS, "bare": bare})
