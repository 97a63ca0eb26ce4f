"""credits.grant: a manual grant, appended to the account's credit ledger (no Stripe call).

The grant's entry id is `manual:<command id>`, so a retried attempt grants nothing twice;
the command row is the audit record (who asked, when, the reason), the ledger entry
carries the reason and the command id.
"""

from __future__ import annotations

import structlog

from domain.commands.params import CreditsGrant
from domain.credits import ledger
from domain.credits.tables import EntryKind, EntrySource
from domain.types import utcnow
from workers.commands.context import ExecContext, Outcome

log = structlog.get_logger("workers.commands.credits")


def grant(ctx: ExecContext, p: CreditsGrant) -> Outcome:
    entry_id = f"manual:{ctx.command_id}"
    with ctx.sessions.begin() as session:
        new = ledger.append(
            session,
            ledger.NewEntry(
                entry_id=entry_id,
                account_ref=ctx.account_ref,
                kind=EntryKind.GRANT,
                credits=p.credits,
                source=EntrySource.MANUAL,
                reason=f"{p.reason} (command {ctx.command_id})",
                expires_at=p.expires_at,
            ),
            utcnow(),
        )
        row = ledger.balance_of(session, ctx.account_ref)
    assert row is not None
    log.info("credits.granted", command_id=ctx.command_id, credits=p.credits, new=new)
    return Outcome(
        {
            "entry_id": entry_id,
            "credits": p.credits,
            "balance": row.balance,
            "expires_at": p.expires_at.isoformat() if p.expires_at else None,
        }
    )
