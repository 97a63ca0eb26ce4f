"""Drift reconciliation: page Stripe's lists, compare each object with the mirror, repair.

A run walks its kinds (domain.ops.reconcile_kinds) one after another, resumably like a
backfill (domain.ops.backfill): the window is frozen at start, each step (one page of a
list, one customer's payment methods, or a batch of left-out rows) commits its findings
and the cursor together, and `resume` continues from the cursor. Per kind:

1. list: every object Stripe lists in the window is compared with its stored row
   (missing, differing or same);
2. extras: stored live rows of the window that the listing left out are retrieved one by
   one: a 404 or `deleted: true` makes the row "extra" when the mirror still shows it
   live; an object that exists (created before the window) is compared like a listed one.

With `repair`, each drift is applied through the family's own handler (ordering rule,
locks, transitions, notices) under `reconcile_stamp`: the second Stripe served the object
in, so a newer webhook still wins and a newer stored row is not overwritten. Afterwards
the row is compared again: `repaired` says it now matches.

The caller supplies `list_page` and `retrieve` (the Stripe gateway) and the handlers' deps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from domain.mirror.accounts import ACCOUNTS
from domain.mirror.families import REGISTRY
from domain.mirror.families.payment_methods import PAYMENT_METHODS
from domain.mirror.unit import Deps, Registration, Unit
from domain.ops import reconcile_store as runs
from domain.ops.audit import Actor, count_audit, start_audit
from domain.ops.drift import Finding, failed
from domain.ops.reconcile_apply import settle
from domain.ops.reconcile_kinds import BY_NAME, Kind
from domain.redact import scrub
from domain.types import utcnow

log = structlog.get_logger("domain.ops.reconcile")
Obj = dict[str, Any]
MAX_FINDINGS = 1000  # findings a result carries (the counts cover all of them)


@dataclass(frozen=True)
class Fetched:
    """A Stripe answer and the second Stripe served it in (its Date header), if known."""

    body: Obj
    answered_at: int | None


# (path, query) -> one page of a list; CursorGone when `starting_after` names a deleted object
ListPage = Callable[[str, Obj], Fetched]
Retrieve = Callable[[str], Fetched | None]  # path -> the object, None for a 404


class CursorGone(Exception):
    """Stripe no longer has the object a page starts after (deleted between two pages)."""


class ReconcileRefused(ValueError):
    """The request cannot be served (repair without a reason, nothing to resume): say why."""


@dataclass
class ReconcileResult:
    """A run's totals (over every resume) and its drift findings."""

    run_id: int
    audit_id: int | None = None
    window_start: int = 0
    window_end: int = 0
    kinds: list[str] = field(default_factory=list)
    repair: bool = False
    status: str = runs.RUNNING
    pages: int = 0
    seen: int = 0
    missing: int = 0
    extra: int = 0
    differing: int = 0
    failed: int = 0  # objects that could not be compared or repaired (listed in findings)
    repaired: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None  # None (finished), "max_pages", "error", "conflict"
    error: str | None = None
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.status == runs.DONE

    @property
    def drift(self) -> int:
        return self.missing + self.extra + self.differing

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete, "drift": self.drift}


@dataclass
class _Step:
    """What one step fetched: (object, second Stripe served it, gone), and where it ends."""

    objects: list[tuple[Obj, int | None, bool]] = field(default_factory=list)
    cursor: str | None = None
    next_kind: bool = False
    forget: str | None = None  # an object's finding to drop (Stripe deleted it meanwhile)


class ReconcileService:
    """Starts and resumes reconcile runs; every step commits findings, repairs and cursor."""

    def __init__(
        self,
        engine: Engine,
        list_page: ListPage,
        retrieve: Retrieve,
        deps: Deps,
        page_size: int = 100,
        registry: Mapping[str, Registration] = REGISTRY,
    ) -> None:
        self.engine = engine
        self.list_page = list_page
        self.retrieve = retrieve
        self.deps = deps
        self.page_size = max(1, min(100, page_size))
        self.registry = registry

    def start(
        self,
        actor: Actor,
        since: datetime,
        kinds: tuple[str, ...],
        *,
        repair: bool = False,
        reason: str | None = None,
        max_pages: int | None = None,
        progress: Callable[[ReconcileResult], None] | None = None,
    ) -> ReconcileResult:
        """Open a run over [since, now] of these kinds (superseding an unfinished one)."""
        if repair and not (reason or "").strip():
            raise ReconcileRefused("repair changes the mirror: give a reason for the audit trail")
        now = utcnow()
        if since > now:
            raise ReconcileRefused(f"since {since:%Y-%m-%d %H:%M} UTC is in the future")
        window = runs.Window(int(since.timestamp()), int(now.timestamp()), kinds, repair)
        action = "reconcile.repair" if repair else "reconcile"
        with self.engine.begin() as conn:
            selector = asdict(window)
            audit_id = start_audit(conn, actor, action, selector, reason, now)
            run_id = runs.start_run(conn, window, actor.name, actor.via, audit_id, now)
        log.info("reconcile.started", run_id=run_id, audit_id=audit_id, repair=repair)
        return self._run(run_id, audit_id, max_pages, progress)

    def resume(
        self,
        actor: Actor,
        *,
        reason: str | None = None,
        max_pages: int | None = None,
        progress: Callable[[ReconcileResult], None] | None = None,
    ) -> ReconcileResult:
        """Continue the newest unfinished run from its cursor."""
        now = utcnow()
        with self.engine.begin() as conn:
            run = runs.latest_unfinished(conn)
            if run is None:
                raise ReconcileRefused("no unfinished reconcile to resume; start one with since")
            if run["repair"] and not (reason or "").strip():
                raise ReconcileRefused("the run repairs the mirror: give a reason to resume it")
            action = "reconcile.repair.resume" if run["repair"] else "reconcile.resume"
            selector = {"run_id": run["id"], "resume_after": run["cursor"]}
            audit_id = start_audit(conn, actor, action, selector, reason, now)
        log.info("reconcile.resumed", run_id=run["id"], audit_id=audit_id)
        return self._run(run["id"], audit_id, max_pages, progress)

    def _run(
        self,
        run_id: int,
        audit_id: int,
        max_pages: int | None,
        progress: Callable[[ReconcileResult], None] | None,
    ) -> ReconcileResult:
        started = time.perf_counter()
        result = ReconcileResult(run_id=run_id, audit_id=audit_id)
        with self.engine.connect() as conn:
            run = runs.get_run(conn, run_id)
        assert run is not None
        done = 0
        while run["status"] == runs.RUNNING:
            if max_pages is not None and done >= max_pages:
                result.stopped = "max_pages"
                break
            kind = BY_NAME[run["kinds"][run["kind_index"]]]
            try:
                step = self._fetch(run, kind)
            except Exception as exc:  # Stripe down or refusing: stop; resume continues here
                result.stopped = "error"
                result.error = scrub(f"{type(exc).__name__}: {exc}")[:500]
                log.warning("reconcile.interrupted", run_id=run_id, error_type=type(exc).__name__)
                break
            fresh = self._commit(run, kind, step, audit_id)
            if fresh is None:
                result.stopped = "conflict"
                result.error = "another reconcile moved this run on (or superseded it)"
                break
            run, done = fresh, done + 1
            if progress:
                progress(self._fill(result, run))
        self._fill(result, run, findings=True)
        result.seconds = time.perf_counter() - started
        log.info(
            "reconcile.stopped" if result.stopped else "reconcile.done",
            run_id=run_id,
            audit_id=audit_id,
            seen=result.seen,
            missing=result.missing,
            extra=result.extra,
            differing=result.differing,
            repaired=result.repaired,
        )
        return result

    # --- fetching (no transaction open while Stripe answers) -------------------------------

    def _fetch(self, run: dict[str, Any], kind: Kind) -> _Step:
        if kind.per_customer:
            return self._fetch_customer(run, kind)
        if run["cursor"] == runs.EXTRAS:
            return self._fetch_extras(run, kind)
        params: Obj = {
            "limit": self.page_size,
            "created": {"gte": run["window_start"], "lte": run["window_end"]},
            **kind.list_params,
        }
        if run["cursor"]:
            params["starting_after"] = run["cursor"]
        try:
            page = self.list_page(kind.list_path, params)
        except CursorGone:  # list the kind again from its start: findings are replaced
            log.warning("reconcile.cursor_gone", run_id=run["id"], kind=kind.name)
            return _Step([], None, forget=run["cursor"])  # it goes on to the extras check
        objects = [o for o in page.body.get("data") or [] if isinstance(o, dict) and o.get("id")]
        more = bool(page.body.get("has_more")) and bool(objects)
        cursor = str(objects[-1]["id"]) if more else runs.EXTRAS
        return _Step([(o, page.answered_at, False) for o in objects], cursor)

    def _fetch_extras(self, run: dict[str, Any], kind: Kind) -> _Step:
        with Session(self.engine) as session:
            seen = runs.recorded_ids(session, run["id"], kind.name)
            left = [i for i in kind.candidates(session, run["window_start"]) if i not in seen]
        batch = left[: self.page_size]
        step = _Step(cursor=runs.EXTRAS, next_kind=len(left) <= self.page_size)
        step.objects = [self._retrieve(kind, object_id) for object_id in batch]
        return step

    def _fetch_customer(self, run: dict[str, Any], kind: Kind) -> _Step:
        customer = self._next_customer(run["cursor"], run["window_start"])
        if customer is None:
            return _Step(next_kind=True)
        objects: list[tuple[Obj, int | None, bool]] = []
        params: Obj = {"limit": self.page_size, "customer": customer, **kind.list_params}
        while True:
            page = self.list_page(kind.list_path, params)
            data = [o for o in page.body.get("data") or [] if isinstance(o, dict) and o.get("id")]
            objects += [(o, page.answered_at, False) for o in data]
            if not page.body.get("has_more") or not data:
                break
            params["starting_after"] = data[-1]["id"]
        listed = {str(o["id"]) for o, _, _ in objects}
        with Session(self.engine) as session:
            left = [i for i in kind.candidates(session, 0, customer) if i not in listed]
        objects += [self._retrieve(kind, object_id) for object_id in left]
        return _Step(objects, customer)

    def _next_customer(self, after: str | None, since: int) -> str | None:
        """The next customer (by id) the mirror wrote in the window, or one of whose
        payment methods it did: Stripe lists payment methods per customer only."""
        a, pm = ACCOUNTS.c, PAYMENT_METHODS.c
        touched = select(pm.stripe_customer_id).where(pm.last_event_created >= since)
        query = select(a.stripe_customer_id).where(
            a.stripe_customer_id.is_not(None),
            a.deleted.is_(False),
            or_(
                a.updated_at >= datetime.fromtimestamp(since, UTC),
                a.stripe_customer_id.in_(touched),
            ),
        )
        if after:
            query = query.where(a.stripe_customer_id > after)
        with self.engine.connect() as conn:
            found = conn.execute(query.order_by(a.stripe_customer_id).limit(1)).scalar()
        return str(found) if found else None

    def _retrieve(self, kind: Kind, object_id: str) -> tuple[Obj, int | None, bool]:
        """(object, answered_at, gone): a 404, or what the kind calls gone (deleted)."""
        got = self.retrieve(kind.retrieve_path.format(id=object_id))
        if got is None:
            return {"id": object_id}, None, True
        return got.body, got.answered_at, kind.gone(got.body)

    # --- comparing and repairing (one transaction per step) --------------------------------

    def _commit(
        self, run: dict[str, Any], kind: Kind, step: _Step, audit_id: int
    ) -> dict[str, Any] | None:
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            current = runs.get_run(session, run["id"], lock=True)
            if current is None or (current["status"], current["kind_index"], current["cursor"]) != (
                runs.RUNNING,
                run["kind_index"],
                run["cursor"],
            ):
                return None
            unit = Unit(session, self.deps)
            repair = bool(run["repair"])
            settled = [
                self._settle_one(unit, kind, obj, answered_at, gone, repair, run["id"])
                for obj, answered_at, gone in step.objects
            ]
            runs.record(session, run["id"], settled)
            if step.forget:
                runs.forget(session, run["id"], kind.name, step.forget)
            count_audit(session, audit_id, sum(1 for _, repaired in settled if repaired))
            next_kind = step.next_kind
            last = next_kind and run["kind_index"] + 1 >= len(run["kinds"])
            runs.advance(
                session,
                run["id"],
                seen=len(step.objects),
                cursor=step.cursor,
                next_kind=next_kind,
                last=last,
                now=now,
            )
            fresh = runs.get_run(session, run["id"])
        drifted = [f.object_id for f, _ in settled if f.drift]
        if drifted:
            log.info("reconcile.drift", run_id=run["id"], kind=kind.name, object_ids=drifted)
        return fresh

    def _settle_one(
        self,
        unit: Unit,
        kind: Kind,
        obj: Obj,
        answered_at: int | None,
        gone: bool,
        repair: bool,
        run_id: int,
    ) -> tuple[Finding, bool]:
        """`settle` one object; one that raises is reported as failed, the page goes on.

        A repair runs in a savepoint, so a failing handler undoes only its own writes."""
        try:
            if not repair:
                return settle(unit, kind, obj, answered_at, gone, False, run_id, self.registry)
            with unit.session.begin_nested():
                return settle(unit, kind, obj, answered_at, gone, True, run_id, self.registry)
        except Exception as exc:  # one bad object must not stop the reconcile of the rest
            object_id = str(obj.get("id"))
            log.warning(
                "reconcile.object_failed",
                run_id=run_id,
                kind=kind.name,
                object_id=object_id,
                error_type=type(exc).__name__,
            )
            return failed(kind.name, object_id, type(exc).__name__), False

    def _fill(
        self, result: ReconcileResult, run: dict[str, Any], findings: bool = False
    ) -> ReconcileResult:
        for name in ("status", "pages", "seen", "repair", "window_start", "window_end"):
            setattr(result, name, run[name])
        result.kinds = list(run["kinds"])
        with self.engine.connect() as conn:
            totals = runs.counts(conn, run["id"])
            if findings:
                result.findings = runs.drifts(conn, run["id"], MAX_FINDINGS)
        result.missing, result.extra = totals["missing"], totals["extra"]
        result.differing, result.repaired = totals["differing"], totals["repaired"]
        result.failed = totals["failed"]
        return result
