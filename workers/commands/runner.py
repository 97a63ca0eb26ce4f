"""Run commands: claim the account's head with a lease, call Stripe, settle in the database.

The Stripe call happens outside any transaction (it can take seconds); the lease keeps
other workers off the command meanwhile, and the outcome is written only if we still hold
it. After a command settles, the worker goes on with the account's next command itself,
so a burst for one account drains in order without waiting for its own messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from pydantic import ValidationError

from domain.commands import store
from domain.commands.params import parse_params
from domain.mirror.unit import Unit
from domain.redact import format_exception, payload_strings, scrub
from domain.retry import RetryPolicy
from domain.types import utcnow
from workers.commands.context import ExecContext, Executor, Outcome, command_error
from workers.commands.executors import EXECUTORS
from workers.commands.mirror_writes import apply_results
from workers.runtime import Runtime
from workers.stripe_gateway import StripeFailure, StripeGateway

log = structlog.get_logger("workers.commands")


@dataclass
class RunOutcome:
    """Ids of the commands one call ran, by how their attempt ended."""

    succeeded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)


def command_policy(rt: Runtime) -> RetryPolicy:
    s = rt.settings
    return RetryPolicy(s.retry_base_seconds, s.retry_cap_seconds, s.command_max_attempts)


def run_commands(
    rt: Runtime,
    command_ids: Sequence[str],
    gateway: StripeGateway,
    executors: Mapping[str, Executor] = EXECUTORS,
) -> RunOutcome:
    """Drain the accounts of these commands (the database decides what is runnable)."""
    outcome = RunOutcome()
    with rt.sessions() as session:
        accounts = store.account_refs(session, command_ids)
    for account_ref in accounts:
        drain_account(rt, account_ref, gateway, executors, outcome)
    return outcome


def drain_account(
    rt: Runtime,
    account_ref: str,
    gateway: StripeGateway,
    executors: Mapping[str, Executor],
    outcome: RunOutcome,
) -> None:
    """Run the account's commands oldest first until none is runnable now."""
    lease = timedelta(seconds=rt.settings.lease_seconds)
    while True:
        token = str(uuid.uuid4())
        with rt.sessions.begin() as session:
            row = store.claim_head(session, account_ref, token, utcnow(), lease)
        if row is None:
            return
        _run_one(rt, row, token, gateway, executors, outcome)


def _run_one(
    rt: Runtime,
    row: store.Row,
    token: str,
    gateway: StripeGateway,
    executors: Mapping[str, Executor],
    outcome: RunOutcome,
) -> None:
    command_id = row["id"]
    attempt = row["attempts"] + 1
    # Error texts may repeat any parameter (Stripe's messages echo them, so do our bugs).
    sensitive = payload_strings(row["params"])
    with structlog.contextvars.bound_contextvars(
        command_id=command_id, command_type=row["type"], attempt=attempt
    ):
        ctx = ExecContext(
            command_id=command_id,
            account_ref=row["account_ref"],
            idempotency_key=row["stripe_idempotency_key"],
            gateway=gateway,
            sessions=rt.sessions,
            catalog=rt.deps.catalog,
            final_attempt=command_policy(rt).exhausted(attempt),
        )
        try:
            result = _execute(ctx, row, executors)
        except StripeFailure as failure:
            _record_failure(rt, command_id, token, attempt, failure, sensitive, outcome)
        except Exception as exc:  # a bug or an outage of ours: retried, then dead
            crash = StripeFailure(
                transient=True,
                error={
                    "type": "internal_error",
                    "code": type(exc).__name__,
                    "decline_code": None,
                    "message": scrub(str(exc), sensitive)[:500],
                },
            )
            log.error("command.crashed", exception=format_exception(exc, sensitive))
            _record_failure(rt, command_id, token, attempt, crash, sensitive, outcome)
        else:
            _record_success(rt, command_id, token, attempt, result, outcome)


def _execute(ctx: ExecContext, row: store.Row, executors: Mapping[str, Executor]) -> Outcome:
    executor = executors.get(row["type"])
    if executor is None:
        raise command_error("unknown_type", f"no executor for {row['type']!r}")
    try:
        params = parse_params(row["type"], row["params"], ctx.catalog)
    except ValidationError as exc:  # stored params validated at enqueue; the catalog moved
        raise command_error("invalid_params", str(exc)[:500]) from None
    return executor(ctx, params)


def _record_success(
    rt: Runtime, command_id: str, token: str, attempt: int, result: Outcome, out: RunOutcome
) -> None:
    with rt.sessions.begin() as session:
        if store.lock_leased(session, command_id, token) is None:
            log.warning("command.lease_lost")
            return
        apply_results(Unit(session, rt.deps), command_id, result.mirror)
        now = utcnow()
        for write in result.local:
            write(session, now)
        store.succeed(session, command_id, attempt, result.result, now)
    out.succeeded.append(command_id)
    log.info("command.succeeded")


def _record_failure(
    rt: Runtime,
    command_id: str,
    token: str,
    attempt: int,
    failure: StripeFailure,
    sensitive: Collection[str],
    out: RunOutcome,
) -> None:
    now = utcnow()
    policy = command_policy(rt)
    error = failure.error
    with rt.sessions.begin() as session:
        if store.lock_leased(session, command_id, token) is None:
            log.warning("command.lease_lost")
            return
        bound = log.bind(error_type=error.get("type"), error_code=error.get("code"))
        if not failure.transient:
            store.fail(session, command_id, attempt, error, now, dead=False, sensitive=sensitive)
            out.failed.append(command_id)
            bound.warning("command.failed")
        elif policy.exhausted(attempt):
            store.fail(session, command_id, attempt, error, now, dead=True, sensitive=sensitive)
            out.failed.append(command_id)
            bound.error("command.dead")
        else:
            # Stripe's Retry-After is a floor, never a reason to retry sooner than backoff.
            delay = max(policy.delay(attempt), failure.retry_after or 0.0)
            store.schedule_retry(
                session, command_id, attempt, now + timedelta(seconds=delay), error, sensitive
            )
            out.retrying.append(command_id)
            bound.warning("command.retry_scheduled", delay_s=round(delay, 2))
