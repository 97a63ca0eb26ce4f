"""The Postgres credit gate's statements (raw SQL for psycopg; ingest/gate_pg.py runs them).

A batch of consumes is two round trips whatever its size: `BEGIN` + `LOCK` + `ANSWERED` sent
together (pipeline mode), then `WRITE` (the entries, the balances and the overage usage in
one statement of CTEs, arrays bound as parameters) + `COMMIT`. The entries are inserted
without ON CONFLICT: an id raced in from another transaction fails `WRITE` with a unique
violation, so the COMMIT sent behind it is skipped, nothing is written and the batch is
tried again (the id's answer is then among the earlier ones). The decisions between the two
are `domain.credits.ledger.plan_batch`, the same as every other path of the ledger.
"""

from __future__ import annotations

from typing import Any

import orjson

from domain.credits.ledger import BatchPlan
from domain.usage.records import ReportStatus

# Rows locked in account order (the LockRows node sits above the sort), as consume_batch
# does: two batches never deadlock.
LOCK = """
SELECT account_ref, balance, payg, period_start, period_end
FROM credit_balances WHERE account_ref = ANY(%s::text[])
ORDER BY account_ref FOR UPDATE
"""

ANSWERED = "SELECT entry_id, answer FROM credit_entries WHERE entry_id = ANY(%s::text[])"

WRITE = """
WITH ins AS (
  INSERT INTO credit_entries
    (entry_id, account_ref, kind, credits, overage, source, period_start, period_end,
     answer, created_at)
  SELECT e.entry_id, e.account_ref, e.kind, e.credits, e.overage, e.source, e.period_start,
         e.period_end, e.answer::jsonb, %(now)s
  FROM unnest(%(e_id)s::text[], %(e_account)s::text[], %(e_kind)s::text[],
              %(e_credits)s::bigint[], %(e_overage)s::bigint[], %(e_source)s::text[],
              %(e_start)s::timestamptz[], %(e_end)s::timestamptz[], %(e_answer)s::text[])
    AS e(entry_id, account_ref, kind, credits, overage, source, period_start, period_end,
         answer)
  RETURNING 1
), moved AS (
  UPDATE credit_balances b
  SET balance = b.balance - m.taken, consumed = b.consumed + m.taken,
      overage = b.overage + m.over, updated_at = %(now)s
  FROM unnest(%(m_account)s::text[], %(m_taken)s::bigint[], %(m_over)s::bigint[])
    AS m(account_ref, taken, over)
  WHERE b.account_ref = m.account_ref
  RETURNING 1
), usage AS (
  INSERT INTO usage_records
    (id, account_ref, meter, quantity, occurred_at, source, received_at, report_status)
  SELECT u.id, u.account_ref, u.meter, u.quantity, u.occurred_at, u.source, %(now)s,
         %(pending)s
  FROM unnest(%(u_id)s::text[], %(u_account)s::text[], %(u_meter)s::text[],
              %(u_quantity)s::bigint[], %(u_at)s::timestamptz[], %(u_source)s::text[])
    AS u(id, account_ref, meter, quantity, occurred_at, source)
  ON CONFLICT (id) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM moved), (SELECT count(*) FROM usage)
"""


def write_params(plan: BatchPlan, now: Any) -> dict[str, Any]:
    """`WRITE`'s parameters: the plan's entries, balance moves and usage, as arrays."""
    entries, moved = plan.entries, sorted(plan.moved.items())
    return {
        "now": now,
        "e_id": [e["entry_id"] for e in entries],
        "e_account": [e["account_ref"] for e in entries],
        "e_kind": [e["kind"] for e in entries],
        "e_credits": [e["credits"] for e in entries],
        "e_overage": [e["overage"] for e in entries],
        "e_source": [e["source"] for e in entries],
        "e_start": [e["period_start"] for e in entries],
        "e_end": [e["period_end"] for e in entries],
        "e_answer": [orjson.dumps(e["answer"]).decode() for e in entries],
        "m_account": [a for a, _ in moved],
        "m_taken": [t for _, (t, _o) in moved],
        "m_over": [o for _, (_t, o) in moved],
        "pending": ReportStatus.PENDING.value,
        "u_id": [u.id for u in plan.usage],
        "u_account": [u.account_ref for u in plan.usage],
        "u_meter": [u.meter for u in plan.usage],
        "u_quantity": [u.quantity for u in plan.usage],
        "u_at": [u.occurred_at for u in plan.usage],
        "u_source": [u.source.value for u in plan.usage],
    }
