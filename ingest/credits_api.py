"""The credit gate and usage ingest (`usage` scope) and the credit reads (`read` scope).

`POST /v1/credits/consume` is on the product's request path: each consume is committed
together with the consumes that arrived meanwhile, in three round trips per batch, by the
gate's task on the event loop (ingest/gate_pg.py; SQLite: the gate's thread, ingest/gate.py).
`POST /v1/usage` stores a batch of up to 1,000 records in one multi-row INSERT. Both are
idempotent by id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.credits import ledger
from domain.mirror.tables import BillingAccount
from domain.types import utcnow
from domain.usage.records import NewUsage, add_usage
from ingest.auth import require_scope
from ingest.credits_models import (
    ConsumeAnswer,
    ConsumeRequest,
    CreditsExhausted,
    CreditsOut,
    LedgerPage,
    LedgerQuery,
    UsageAnswer,
    UsageEnvelope,
    UsageRecordIn,
    UsageRequest,
)
from ingest.gate import Consume, GroupCommitGate
from ingest.gate_pg import PipelinedGate
from ingest.inputs import field_errors, parse_query, path_id, read_json, validate_body
from ingest.openapi import Operation, document, path_param
from ingest.read_pool import ReadPool
from ingest.responses import ORJSONResponse, error

log = structlog.get_logger("ingest.credits")
CONSUME_BODY_BYTES = 4 * 1024
USAGE_BODY_BYTES = 1024 * 1024  # 1,000 records of a few hundred bytes each
# Stripe's meters take events of the past 35 days and up to 5 minutes ahead.
USAGE_MAX_AGE = timedelta(days=35)
USAGE_MAX_AHEAD = timedelta(minutes=5)

ACCOUNT = path_param("account_ref", "the product's own account id")
NOT_FOUND = ("no credits and no billing account for this account_ref (`account_not_found`)", None)

document(
    Operation(
        "POST",
        "/v1/credits/consume",
        "Spend credits of an account (the gate): 200 spent, 402 credits exhausted",
        "usage",
        scope="usage",
        request=ConsumeRequest,
        responses={
            200: ("spent (or the first answer to this id)", ConsumeAnswer),
            402: (
                "the balance is short and pay-as-you-go is off (`credits_exhausted`)",
                CreditsExhausted,
            ),
            413: ("body over 4 KiB (`body_too_large`)", None),
        },
    )
)
document(
    Operation(
        "POST",
        "/v1/usage",
        "Report usage records (up to 1,000; stored once per id, reported to Stripe's meters)",
        "usage",
        scope="usage",
        request=UsageRequest,
        responses={
            202: ("stored: counts, and each rejected record with its reason", UsageAnswer),
            413: ("body over 1 MiB (`body_too_large`)", None),
        },
    )
)
document(
    Operation(
        "GET",
        "/v1/accounts/{account_ref}/credits",
        "Credits of an account: balance, this period's totals, pay-as-you-go",
        "read",
        scope="read",
        parameters=(ACCOUNT,),
        responses={200: ("the credits", CreditsOut), 404: NOT_FOUND},
    )
)
document(
    Operation(
        "GET",
        "/v1/accounts/{account_ref}/credits/ledger",
        "Ledger entries of an account, newest first",
        "read",
        scope="read",
        parameters=(ACCOUNT,),
        query=LedgerQuery,
        responses={200: ("one page", LedgerPage), 404: NOT_FOUND},
    )
)


@require_scope("usage")
async def consume_credits(request: Request) -> Response:
    """POST /v1/credits/consume."""
    body = validate_body(ConsumeRequest, await read_json(request, CONSUME_BODY_BYTES))
    meter = body.meter or request.app.state.plan_catalog.meter
    gate: PipelinedGate | GroupCommitGate = request.app.state.gate
    outcome = await gate.consume(Consume(body.id, body.account_ref, body.credits, meter))
    if outcome.allowed:
        return ORJSONResponse(outcome.body)
    return error(
        402,
        "credits_exhausted",
        "the account's credits are short of this consumption and pay-as-you-go is off",
        remaining=outcome.body["remaining"],
        requested=body.credits,
        payg=outcome.body["payg"],
    )


def _check_time(at: datetime, now: datetime) -> str | None:
    if at.tzinfo is None:
        return "timestamp: needs a UTC offset (or Unix seconds)"
    if at < now - USAGE_MAX_AGE:
        return "timestamp: older than 35 days (Stripe's meters refuse it)"
    if at > now + USAGE_MAX_AHEAD:
        return "timestamp: more than 5 minutes in the future"
    return None


def validate_records(
    records: list[Any], now: datetime
) -> tuple[list[NewUsage], list[dict[str, Any]]]:
    """The valid records (first of each id) and the rejected ones with their reasons."""
    valid: list[NewUsage] = []
    rejected: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, raw in enumerate(records):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        shown_id = raw_id[:255] if isinstance(raw_id, str) else None
        try:
            rec = UsageRecordIn.model_validate(raw)
        except ValidationError as exc:
            reasons = "; ".join(
                f"{f['field']}: {f['message']}" for f in field_errors(exc, "record")
            )
            rejected.append({"index": index, "id": shown_id, "reason": reasons})
            continue
        reason = _check_time(rec.timestamp, now)
        if reason is not None:
            rejected.append({"index": index, "id": rec.id, "reason": reason})
            continue
        if rec.id in seen:  # the first of the batch counts; the others are duplicates
            continue
        seen.add(rec.id)
        valid.append(NewUsage(rec.id, rec.account_ref, rec.meter, rec.quantity, rec.timestamp))
    return valid, rejected


@require_scope("usage")
async def post_usage(request: Request) -> Response:
    """POST /v1/usage: 202 with accepted / duplicate counts and the rejected records."""
    envelope = validate_body(UsageEnvelope, await read_json(request, USAGE_BODY_BYTES))
    now = utcnow()
    valid, rejected = validate_records(envelope.records, now)
    engine: Engine = request.app.state.engine

    def run() -> int:
        with Session(engine) as session, session.begin():
            return len(add_usage(session, valid, now))

    accepted = await run_in_threadpool(run) if valid else 0
    valid_count = len(envelope.records) - len(rejected)
    log.info("usage.received", accepted=accepted, rejected=len(rejected))
    return ORJSONResponse(
        {"accepted": accepted, "duplicate": valid_count - accepted, "rejected": rejected},
        status_code=202,
    )


def _credits_body(row: Any, account_ref: str) -> dict[str, Any]:
    if row is None:
        return {
            "account_ref": account_ref,
            "balance": 0,
            "payg": False,
            "period_start": None,
            "period_end": None,
            "granted": 0,
            "consumed": 0,
            "overage": 0,
        }
    return CreditsOut(
        account_ref=account_ref,
        balance=row.balance,
        payg=row.payg,
        period_start=row.period_start,
        period_end=row.period_end,
        granted=row.granted,
        consumed=row.consumed,
        overage=row.overage,
    ).model_dump(mode="json")


def _known(session: Session, account_ref: str, row: Any) -> bool:
    if row is not None:
        return True
    stmt = select(BillingAccount.id).where(BillingAccount.account_ref == account_ref)
    return session.execute(stmt).first() is not None


def _account_not_found() -> Response:
    return error(404, "account_not_found", "no credits and no billing account for this account_ref")


@require_scope("read")
async def get_credits(request: Request) -> Response:
    """GET /v1/accounts/{account_ref}/credits."""
    ref = path_id(request, "account_ref", "billing account", code="account_not_found")
    pool: ReadPool = request.app.state.reads

    def run(session: Session) -> dict[str, Any] | None:
        row = ledger.balance_of(session, ref)
        return _credits_body(row, ref) if _known(session, ref, row) else None

    body = await pool.run(run)
    return ORJSONResponse(body) if body is not None else _account_not_found()


def _entry_out(e: Any) -> dict[str, Any]:
    return {
        "entry_id": e.entry_id,
        "kind": e.kind,
        "credits": e.credits,
        "overage": e.overage,
        "source": e.source,
        "reason": e.reason,
        "expires_at": e.expires_at,
        "subscription_id": e.subscription_id,
        "period_start": e.period_start,
        "period_end": e.period_end,
        "created_at": e.created_at,
    }


@require_scope("read")
async def get_ledger(request: Request) -> Response:
    """GET /v1/accounts/{account_ref}/credits/ledger?limit=&cursor=."""
    ref = path_id(request, "account_ref", "billing account", code="account_not_found")
    query = parse_query(LedgerQuery, request)
    engine: Engine = request.app.state.engine
    before = int(query.cursor) if query.cursor is not None else None

    def run() -> dict[str, Any] | None:
        with Session(engine) as session:
            if not _known(session, ref, ledger.balance_of(session, ref)):
                return None
            rows, next_id = ledger.ledger_page(session, ref, limit=query.limit, before=before)
        return {
            "data": [_entry_out(e) for e in rows],
            "has_more": next_id is not None,
            "next_cursor": str(next_id) if next_id is not None else None,
        }

    body = await run_in_threadpool(run)
    return ORJSONResponse(body) if body is not None else _account_not_found()


CREDITS_ROUTES = [
    Route("/v1/credits/consume", consume_credits, methods=["POST"]),
    Route("/v1/usage", post_usage, methods=["POST"]),
    Route("/v1/accounts/{account_ref}/credits", get_credits, methods=["GET"]),
    Route("/v1/accounts/{account_ref}/credits/ledger", get_ledger, methods=["GET"]),
]
